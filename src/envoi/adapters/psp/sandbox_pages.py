"""The sandbox processor's 3-D Secure challenge page (mounted at ``/sandbox/psp``).

It stands in for the card issuer's page: the cardholder approves or fails, the
charge is final from then on, and envoi is told through ``on_charge_updated``.
Like a real issuer's page it then sends the cardholder back to the merchant: a 303
to ``return_url`` with ``request_id`` (the merchant's own reference for the charge,
its idempotency key) and ``processor_ref`` added to the query string, as Stripe adds
``payment_intent`` to its ``return_url``.

The page speaks the cardholder's language (Accept-Language: French, or English);
a client that sends no Accept-Language at all gets both, one after the other.
"""

from __future__ import annotations

import base64
import hashlib
import html
import logging
from collections.abc import Callable, Coroutine
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, Form, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy import select

from envoi.adapters.psp.sandbox import (
    Outcome,
    SandboxCardProcessor,
    SandboxCharge,
    sandbox_psp_charges,
)
from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.domain.messages import pick_locale
from envoi.domain.model import Locale

logger = logging.getLogger(__name__)


class _PspRoute(APIRoute):
    """Refusals as ``{"error": {"code", "message"}}`` whatever app mounts the router."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError:
                return _error(422, ErrorCode.VALIDATION_ERROR, "outcome is approve or fail")
            except EnvoiError as exc:
                if exc.code is ErrorCode.NOT_FOUND:
                    return _error(404, exc.code, "No 3-D Secure challenge here.")
                return _error(400, exc.code, exc.code.value)

        return guarded


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


class CompleteIn(BaseModel):
    outcome: Outcome


def _charge(charge: SandboxCharge) -> dict[str, Any]:
    r = charge.result
    return {
        "processor_ref": r.processor_ref,
        "status": r.status,
        "decline_code": r.decline_code,
        "action_url": r.action_url,
        "last4": r.last4,
        "amount_minor": charge.amount.minor,
        "currency": charge.amount.currency,
    }


# --- the page -------------------------------------------------------------------------

_TEXT: dict[str, dict[Locale, str]] = {
    "title": {"fr": "Authentification 3-D Secure", "en": "3-D Secure authentication"},
    "bank": {"fr": "Banque Sandbox", "en": "Sandbox Bank"},
    "lead": {
        "fr": "Votre banque vérifie que c'est bien vous qui payez.",
        "en": "Your bank is checking that it is really you paying.",
    },
    "amount": {"fr": "Montant", "en": "Amount"},
    "card": {"fr": "Carte", "en": "Card"},
    "question": {"fr": "Confirmez-vous ce paiement ?", "en": "Do you approve this payment?"},
    "approve": {"fr": "Approuver", "en": "Approve"},
    "fail": {"fr": "Refuser (échec de l'authentification)", "en": "Fail the authentication"},
    "test": {
        "fr": "Page de test : aucune vraie banque n'est contactée et aucun code n'est demandé.",
        "en": "Test page: no real bank is contacted and no code is asked for.",
    },
    "succeeded": {"fr": "Paiement authentifié.", "en": "Payment authenticated."},
    "declined": {"fr": "Authentification échouée.", "en": "Authentication failed."},
    "back": {"fr": "Retourner chez le marchand", "en": "Back to the merchant"},
}

_CSS = """
*{box-sizing:border-box}
body{margin:0;background:#eef1f5;color:#1b2430;
font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif}
header{background:#0b3d2e;color:#fff;padding:.8rem 1.25rem;font-weight:700;letter-spacing:.02em}
main{max-width:28rem;margin:1.25rem auto;padding:0 1rem}
.box{background:#fff;border:1px solid #d5dbe3;border-radius:12px;padding:1.25rem}
h1{font-size:1.3rem;line-height:1.3;margin:0 0 .5rem}
h1+h1,p[lang]+p[lang]{margin-top:.25rem}
dl{margin:1rem 0;border-top:1px solid #e3e7ed}
dl div{display:flex;justify-content:space-between;gap:1rem;padding:.5rem 0;
border-bottom:1px solid #e3e7ed}
dt{color:#4a5565}dd{margin:0;font-weight:700;font-variant-numeric:tabular-nums}
form{margin:.6rem 0 0}
button,.back{display:block;width:100%;font:inherit;font-weight:700;text-align:center;text-decoration:none;
border-radius:10px;padding:.75rem 1rem;min-height:3rem;cursor:pointer}
button.approve,.back{background:#0b6e4f;color:#fff;border:2px solid #0b6e4f}
button.fail{background:#fff;color:#a11d1d;border:2px solid #a11d1d}
button:focus-visible,.back:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
.result{font-size:1.15rem;font-weight:700;margin:.5rem 0 1rem}
.ok{color:#0b6e4f}.ko{color:#a11d1d}
.note{color:#4a5565;font-size:.875rem;margin:1rem 0 0}
"""
_CSS_HASH = base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode()


def _locales(request: Request) -> tuple[Locale, ...]:
    header = request.headers.get("accept-language")
    return ("fr", "en") if not header else (pick_locale(header, "fr"),)


def _say(key: str, locales: tuple[Locale, ...], tag: str = "p", cls: str = "") -> str:
    """One text in each language shown (one element per language, each marked with it)."""
    attr = f' class="{cls}"' if cls else ""
    return "".join(
        f'<{tag}{attr} lang="{lang}">{html.escape(_TEXT[key][lang])}</{tag}>' for lang in locales
    )


def _words(key: str, locales: tuple[Locale, ...]) -> str:
    return html.escape(" / ".join(_TEXT[key][lang] for lang in locales))


def _page(charge: SandboxCharge, locales: tuple[Locale, ...], back_url: str | None) -> HTMLResponse:
    r = charge.result
    amount = html.escape(charge.amount.format(locales[0]))
    facts = (
        f"<dl><div><dt>{_words('amount', locales)}</dt><dd>{amount}</dd></div>"
        f"<div><dt>{_words('card', locales)}</dt>"
        f"<dd>•••• {html.escape(r.last4)}</dd></div></dl>"
    )
    if r.status == "requires_action":
        body = (
            _say("lead", locales)
            + facts
            + _say("question", locales)
            + '<form method="post"><input type="hidden" name="outcome" value="approve">'
            f'<button type="submit" class="approve">{_words("approve", locales)}</button></form>'
            + '<form method="post"><input type="hidden" name="outcome" value="fail">'
            f'<button type="submit" class="fail">{_words("fail", locales)}</button></form>'
        )
    else:
        ok = r.status == "succeeded"
        body = facts + _say(r.status, locales, cls="result " + ("ok" if ok else "ko"))
        if back_url:
            body += f'<a class="back" href="{html.escape(back_url)}">{_words("back", locales)}</a>'
    page = (
        f'<!doctype html><html lang="{locales[0]}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_words('title', locales)}</title><style>{_CSS}</style></head><body>"
        f'<header>{_words("bank", locales)}</header><main><div class="box">'
        f"{_say('title', locales, 'h1')}{body}</div>{_say('test', locales, cls='note')}"
        "</main></body></html>"
    )
    return HTMLResponse(page, headers=_headers())


def _headers() -> dict[str, str]:
    # The issuer's page must not be framed by another site (clickjacking an approval).
    return {
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Content-Security-Policy": (
            f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; img-src 'self'; base-uri 'none'; "
            "frame-ancestors 'none'"
        ),
    }


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), *params.items()])
    return urlunsplit(parts._replace(query=query))


def _request_id(processor: SandboxCardProcessor, ref: str) -> str:
    """The merchant's reference the charge was made under (its idempotency key)."""
    with processor.engine.connect() as conn:
        found: str | None = conn.execute(
            select(sandbox_psp_charges.c.request_id).where(
                sandbox_psp_charges.c.processor_ref == ref
            )
        ).scalar()
    return found or ""


def create_psp_sandbox_router(
    processor: SandboxCardProcessor,
    on_charge_updated: Callable[[str], None],
    *,
    return_url: str | None = None,
) -> APIRouter:
    """3-D Secure pages. ``on_charge_updated(ref)`` is called after each answer on a
    finished challenge — also a repeated one, so a callback lost to a crash is retried
    (like a webhook, at least once: the receiver is idempotent). With ``return_url``
    the answered page sends the cardholder back there (303); without, it shows the result.
    """
    router = APIRouter(route_class=_PspRoute, tags=["sandbox card processor"])

    def complete(ref: str, outcome: Outcome) -> SandboxCharge:
        charge, changed = processor.complete_3ds(ref, outcome)
        if not changed:
            logger.info("3-D Secure for %s already answered: %s", ref, charge.result.status)
        on_charge_updated(ref)
        return charge

    def back_url(ref: str) -> str | None:
        if return_url is None:
            return None
        return _with_query(return_url, request_id=_request_id(processor, ref), processor_ref=ref)

    @router.get("/3ds/{ref}", response_class=HTMLResponse)
    def challenge(ref: str, request: Request) -> HTMLResponse:
        charge = processor.get(ref)
        if not charge.three_ds:
            raise EnvoiError(ErrorCode.NOT_FOUND, processor_ref=ref)
        return _page(charge, _locales(request), back_url(ref))

    @router.post("/3ds/{ref}", response_class=HTMLResponse)
    def answer(ref: str, outcome: Annotated[Outcome, Form()], request: Request) -> Response:
        charge = complete(ref, outcome)
        target = back_url(ref)
        if target is not None:
            return RedirectResponse(target, status_code=303, headers=_headers())
        return _page(charge, _locales(request), None)

    @router.post("/3ds/{ref}/complete")
    def answer_json(ref: str, body: CompleteIn) -> dict[str, Any]:
        return _charge(complete(ref, body.outcome))

    return router
