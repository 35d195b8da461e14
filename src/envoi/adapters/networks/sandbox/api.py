"""The sandbox network's HTTP API (mounted at ``/sandbox/api``), as a real network's would be.

Errors are ``{"error": {"code", "message"}}`` with a fitting status, including bad
JSON and bad fields: this router translates them itself so it works in any app.
No ``from __future__ import annotations`` here: FastAPI must evaluate the endpoint
annotations, which name a dependency local to ``create_sandbox_router``.
"""

from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from envoi.adapters.networks.sandbox import text as txt
from envoi.adapters.networks.sandbox.store import SandboxAccount, SandboxNetwork, SandboxPost
from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.faults import crash_point
from envoi.services.ports import InboundPort, NetworkUser

_STATUS = {
    ErrorCode.VALIDATION_ERROR: 422,
    ErrorCode.INVALID_HANDLE: 422,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.POST_NOT_FOUND: 404,
    ErrorCode.HANDLE_TAKEN: 409,
}
_MESSAGES = {
    ErrorCode.VALIDATION_ERROR: "The request is not valid.",
    ErrorCode.INVALID_HANDLE: "A handle is 1 to 15 letters, digits or underscores.",
    ErrorCode.UNAUTHENTICATED: "A valid sandbox token is required (Authorization: Bearer).",
    ErrorCode.FORBIDDEN: "This belongs to another account.",
    ErrorCode.NOT_FOUND: "No such account.",
    ErrorCode.POST_NOT_FOUND: "No such post.",
    ErrorCode.HANDLE_TAKEN: "This handle is already taken.",
}


def _error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    body = {"error": {"code": code, "message": message, **extra}}
    return JSONResponse(body, status_code=status, headers=headers)


class _SandboxRoute(APIRoute):
    """Turns refusals into the sandbox's error JSON (exception handlers are per app)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                fields = [".".join(str(p) for p in err.get("loc", ())) for err in exc.errors()]
                return _error(
                    422, ErrorCode.VALIDATION_ERROR, "The request is not valid.", fields=fields
                )
            except EnvoiError as exc:
                # Echo what was refused, bounded: a parameter may be whatever a client sent.
                params = {
                    k: v[:100] if isinstance(v, str) else v
                    for k, v in exc.params.items()
                    if isinstance(v, str | int)
                }
                return _error(
                    _STATUS.get(exc.code, 400),
                    exc.code,
                    _MESSAGES.get(exc.code, exc.code.value),
                    params=params,
                )

        return guarded


class NewAccountIn(BaseModel):
    handle: str
    display_name: str


class RenameIn(BaseModel):
    handle: str


class PostIn(BaseModel):
    text: str
    visibility: Literal["public", "direct"] = "public"
    in_reply_to: str | None = None
    to: str | None = None


def _user(user: SandboxAccount | NetworkUser) -> dict[str, str]:
    user_id = user.id if isinstance(user, SandboxAccount) else user.user_id
    return {"id": user_id, "handle": user.handle, "display_name": user.display_name}


def _account(account: SandboxAccount) -> dict[str, str]:
    return {**_user(account), "created_at": account.created_at.isoformat()}


def _post(post: SandboxPost) -> dict[str, Any]:
    return {
        "id": post.id,
        "author": _user(post.author),
        "text": post.text,
        "visibility": post.visibility,
        "in_reply_to": post.in_reply_to,
        "to": _user(post.recipient) if post.recipient else None,
        "mentions": [_user(m) for m in post.mentions],
        "created_at": post.created_at.isoformat(),
    }


_bearer = HTTPBearer(auto_error=False, description="The token returned at account creation")
Limit = Annotated[int, Query(ge=1, le=200)]


def create_sandbox_router(
    network: SandboxNetwork, inbound: InboundPort, bot_handle: str
) -> APIRouter:
    """Routes of the sandbox network; posts for ``bot_handle`` are delivered to ``inbound``."""
    if txt.handle_key(bot_handle) != txt.handle_key(network.bot_handle):
        raise ValueError(f"bot handle {bot_handle!r} != network's {network.bot_handle!r}")
    router = APIRouter(route_class=_SandboxRoute, tags=["sandbox network"])

    def current(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> SandboxAccount:
        account = network.authenticate(credentials.credentials) if credentials else None
        if account is None:
            raise EnvoiError(ErrorCode.UNAUTHENTICATED)
        return account

    @router.post("/accounts", status_code=201)
    def create_account(body: NewAccountIn) -> dict[str, str]:
        created = network.create_account(body.handle, body.display_name)
        return {**_account(created.account), "token": created.token}

    @router.get("/accounts/me")
    def whoami(me: Annotated[SandboxAccount, Depends(current)]) -> dict[str, str]:
        return _account(me)

    @router.patch("/accounts/me")
    def rename(body: RenameIn, me: Annotated[SandboxAccount, Depends(current)]) -> dict[str, str]:
        return _account(network.rename(me.id, body.handle))

    @router.get("/accounts/{handle}")
    def profile(handle: str) -> dict[str, str]:
        account = network.get_by_handle(handle)
        if account is None:
            raise EnvoiError(ErrorCode.NOT_FOUND, handle=handle[:40])
        return _account(account)

    @router.get("/accounts/{handle}/inbox")
    def inbox(
        handle: str, me: Annotated[SandboxAccount, Depends(current)], limit: Limit = 50
    ) -> list[dict[str, Any]]:
        if txt.handle_key(handle.removeprefix("@")) != txt.handle_key(me.handle):
            if network.get_by_handle(handle) is None:
                raise EnvoiError(ErrorCode.NOT_FOUND, handle=handle[:40])
            raise EnvoiError(ErrorCode.FORBIDDEN, handle=handle[:40])
        return [_post(p) for p in network.inbox(me.id, limit)]

    @router.post("/posts", status_code=201)
    def create_post(
        body: PostIn,
        me: Annotated[SandboxAccount, Depends(current)],
        idempotency_key: Annotated[
            str | None,
            Header(
                description="Retrying with the same key returns the first post "
                "instead of publishing twice (printable ASCII, 1 to 64 characters)"
            ),
        ] = None,
    ) -> dict[str, Any]:
        post = network.post(
            me.id,
            body.text,
            visibility=body.visibility,
            in_reply_to=body.in_reply_to,
            to=body.to,
            idempotency_key=idempotency_key,
        )
        # After the commit, as a real network's webhook would; on failure the post
        # stays pending and the catch-up worker (``deliver_pending``) sends it.
        crash_point("sandbox.post_stored")
        network.deliver(post.id, inbound)
        return _post(post)

    @router.get("/posts/{post_id}")
    def get_post(
        post_id: str,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> dict[str, Any]:
        viewer = network.authenticate(credentials.credentials) if credentials else None
        post = network.get_post(post_id, viewer.id if viewer else None)
        if post is None:
            raise EnvoiError(ErrorCode.POST_NOT_FOUND, post_id=post_id[:40])
        return _post(post)

    @router.post("/posts/{post_id}/redeliver", status_code=202)
    def redeliver(post_id: str, me: Annotated[SandboxAccount, Depends(current)]) -> dict[str, str]:
        """Deliver one's own post to the bot again, as a real network retries a webhook:
        for trying envoi's idempotency by hand (the same post must pay once)."""
        post = network.get_post(post_id, me.id)
        if post is None or post.author.id != me.id:
            raise EnvoiError(ErrorCode.POST_NOT_FOUND, post_id=post_id[:40])
        inbound.receive_post(post.to_inbound())
        return {"status": "redelivered"}

    @router.delete("/posts/{post_id}", status_code=204)
    def delete_post(post_id: str, me: Annotated[SandboxAccount, Depends(current)]) -> Response:
        network.delete(me.id, post_id)
        network.deliver(post_id, inbound)
        return Response(status_code=204)

    @router.get("/timeline")
    def timeline(limit: Limit = 50) -> list[dict[str, Any]]:
        return [_post(p) for p in network.timeline(limit)]

    return router
