"""STAND-IN for Bluesky's chat service (``chat.bsky.convo.*``), which is closed source.

Not Bluesky's code: a small ASGI app implementing the documented endpoints envoi's adapter
calls (getConvoForMembers, getConvo, sendMessage, getLog, getMessages) and those the tests
use to act as people (listConvos), served over real HTTP on localhost. It is a ``did:web`` service
(``did:web:localhost%3A<port>``, service ``#bsky_chat``), so the *real* local PDS proxies to
it exactly as it proxies to ``did:web:api.bsky.chat`` in production: every request comes
from the PDS with a service-auth JWT, which is checked here (signature by the caller's key
from the PLC directory, audience, method) — the caller is whoever signed it, never a
parameter. Tests that go through it are labelled stand-in tests.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from atproto_identity.did.resolver import DidResolver
from atproto_server.auth.jwt import verify_jwt
from fastapi import FastAPI, HTTPException, Request


@dataclass
class _Convo:
    id: str
    members: tuple[str, ...]
    messages: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ChatStandIn:
    port: int
    plc_url: str
    convos: dict[str, _Convo] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)  # (rev order)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (caller did, method)
    _rev: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def did(self) -> str:
        return f"did:web:localhost%3A{self.port}"

    @property
    def proxy(self) -> str:
        return f"{self.did}#bsky_chat"

    def _next_rev(self) -> str:
        self._rev += 1
        return f"{self._rev:012d}"  # revs sort as strings, like the real service's

    def app(self) -> FastAPI:
        app = FastAPI()
        resolver = DidResolver(plc_url=self.plc_url)

        def caller(request: Request, method: str) -> str:
            auth = request.headers.get("authorization", "")
            if not auth.startswith("Bearer "):
                raise HTTPException(401, "AuthMissing")
            try:
                payload = verify_jwt(auth[7:], resolver.resolve_atproto_key, self.did)
            except Exception as exc:
                raise HTTPException(401, f"BadJwt: {exc}") from exc
            lxm = getattr(payload, "lxm", None)
            if lxm not in (None, method):
                raise HTTPException(401, "BadJwtLexiconMethod")
            did = str(payload.iss)
            self.calls.append((did, method))
            return did

        def member_view(did: str) -> dict[str, Any]:
            data = resolver.resolve_atproto_data(did)
            return {"did": did, "handle": data.handle or "handle.invalid"}

        def convo_view(convo: _Convo) -> dict[str, Any]:
            return {
                "id": convo.id,
                "rev": convo.messages[-1]["rev"] if convo.messages else "0",
                "members": [member_view(m) for m in convo.members],
                "muted": False,
                "unreadCount": 0,
            }

        @app.get("/.well-known/did.json")
        def did_document() -> dict[str, Any]:
            return {
                "@context": ["https://www.w3.org/ns/did/v1"],
                "id": self.did,
                "service": [
                    {
                        "id": "#bsky_chat",
                        "type": "BskyChatService",
                        "serviceEndpoint": f"http://localhost:{self.port}",
                    }
                ],
            }

        @app.get("/xrpc/chat.bsky.convo.getConvoForMembers")
        def get_convo_for_members(request: Request) -> dict[str, Any]:
            me = caller(request, "chat.bsky.convo.getConvoForMembers")
            members = tuple(sorted({me, *request.query_params.getlist("members")}))
            with self._lock:
                convo = next((c for c in self.convos.values() if c.members == members), None)
                if convo is None:
                    convo = _Convo(f"convo{len(self.convos) + 1}", members)
                    self.convos[convo.id] = convo
            return {"convo": convo_view(convo)}

        @app.get("/xrpc/chat.bsky.convo.getConvo")
        def get_convo(request: Request) -> dict[str, Any]:
            me = caller(request, "chat.bsky.convo.getConvo")
            convo = self.convos.get(request.query_params.get("convoId", ""))
            if convo is None or me not in convo.members:
                raise HTTPException(400, "InvalidConvo")
            return {"convo": convo_view(convo)}

        @app.get("/xrpc/chat.bsky.convo.listConvos")
        def list_convos(request: Request) -> dict[str, Any]:
            me = caller(request, "chat.bsky.convo.listConvos")
            mine = [c for c in self.convos.values() if me in c.members]
            return {"convos": [convo_view(c) for c in mine]}

        @app.post("/xrpc/chat.bsky.convo.sendMessage")
        async def send_message(request: Request) -> dict[str, Any]:
            me = caller(request, "chat.bsky.convo.sendMessage")
            body = await request.json()
            convo = self.convos.get(body.get("convoId", ""))
            if convo is None or me not in convo.members:
                raise HTTPException(400, "InvalidConvo")
            text = body.get("message", {}).get("text", "")
            if not text:
                raise HTTPException(400, "InvalidRequest: empty message")
            with self._lock:
                rev = self._next_rev()
                message = {
                    "$type": "chat.bsky.convo.defs#messageView",
                    "id": f"msg{rev.lstrip('0')}",
                    "rev": rev,
                    "text": text,
                    "sender": {"did": me},
                    "sentAt": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
                }
                if facets := body["message"].get("facets"):
                    message["facets"] = facets
                convo.messages.append(message)
                self.log.append(
                    {
                        "$type": "chat.bsky.convo.defs#logCreateMessage",
                        "rev": rev,
                        "convoId": convo.id,
                        "message": message,
                    }
                )
            return message

        @app.get("/xrpc/chat.bsky.convo.getLog")
        def get_log(request: Request) -> dict[str, Any]:
            me = caller(request, "chat.bsky.convo.getLog")
            cursor = request.query_params.get("cursor", "")
            logs = [
                entry
                for entry in self.log
                if entry["rev"] > cursor and me in self.convos[entry["convoId"]].members
            ]
            out: dict[str, Any] = {"logs": logs}
            if logs:
                out["cursor"] = logs[-1]["rev"]
            elif cursor:
                out["cursor"] = cursor
            return out

        @app.get("/xrpc/chat.bsky.convo.getMessages")
        def get_messages(request: Request) -> dict[str, Any]:
            me = caller(request, "chat.bsky.convo.getMessages")
            convo = self.convos.get(request.query_params.get("convoId", ""))
            if convo is None or me not in convo.members:
                raise HTTPException(400, "InvalidConvo")
            # Newest first, ``limit`` of them (default 50, as documented).
            limit = int(request.query_params.get("limit", "50"))
            return {"messages": list(reversed(convo.messages))[:limit]}

        return app


@contextmanager
def running_chat_standin(plc_url: str) -> Iterator[ChatStandIn]:
    """Serve the stand-in on a free port of localhost until the block ends."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    standin = ChatStandIn(port, plc_url)
    config = uvicorn.Config(standin.app(), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("chat stand-in did not start")
        time.sleep(0.02)
    try:
        yield standin
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
