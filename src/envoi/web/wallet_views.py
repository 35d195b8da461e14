"""The web wallet's page machinery: the per-request ``Page``, templates, and view models.

Pages call services only (through ``Envoi``). Every failure a person can meet is
rendered as an HTML page in their language by ``PageRoute``: a page never shows
a stack trace or the API's JSON.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from babel.dates import format_skeleton, format_time
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException

from envoi import __version__
from envoi.bootstrap import Envoi
from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.domain.messages import render_error
from envoi.domain.model import IntentKind, IntentState, Locale, Member, PayeeKind, PaymentIntent
from envoi.money import Money
from envoi.services.wallet import Movement
from envoi.web.errors import STATUS
from envoi.web.i18n import Translator, choose_locale
from envoi.web.wallet_session import COOKIE, LANG_COOKIE, Session, SessionCodec

log = logging.getLogger(__name__)

# Times are shown in the wallet's home time zone (a French e-wallet); stored in UTC.
_TEMPLATES = Path(__file__).parent / "templates"
_env = Environment(
    loader=FileSystemLoader(_TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,  # a typo in a template fails the tests, not silently
    trim_blocks=True,
    lstrip_blocks=True,
)
# Private pages: never cached, never framed (a framed confirmation page could be
# click-jacked into a payment), scripts and styles from this origin only.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
}


class LoginRequiredError(Exception):
    """A private page asked for without a valid session."""


class CsrfError(Exception):
    """A POST without this session's CSRF token."""


def codec_for(envoi: Envoi) -> SessionCodec:
    settings = envoi.settings
    return SessionCodec(
        settings.token_key.get_secret_value().encode(),
        secure=settings.base_url.startswith("https://"),
        max_age_s=settings.token_ttl_s,
    )


@dataclass
class Page:
    """Everything a page needs about this request: who, in which language, which session."""

    request: Request
    envoi: Envoi
    codec: SessionCodec
    session: Session
    member: Member | None
    locale: Locale
    extra_cookies: dict[str, str] = field(default_factory=dict)

    @property
    def _(self) -> Translator:
        return Translator(self.locale)

    @property
    def me(self) -> Member:
        if self.member is None:
            raise LoginRequiredError
        return self.member

    def money(self, minor: int, currency: str | None = None) -> str:
        return Money(minor, currency or self.envoi.settings.currency).format(self.locale)

    def when(self, moment: datetime | None) -> str:
        if moment is None:
            return ""
        zone = ZoneInfo(self.envoi.settings.timezone)
        local = moment.astimezone(zone)
        same_year = local.year == datetime.now(UTC).astimezone(zone).year
        date = format_skeleton("MMMd" if same_year else "yMMMd", local, locale=self.locale)
        time = format_time(local, "short", locale=self.locale)
        return self._("when", date=date, time=time)

    def in_app(self, text: str) -> str:
        """A notification without its trailing link to this wallet: the row links there already."""
        base = re.escape(self.envoi.settings.base_url.rstrip("/"))
        return re.sub(rf"\s*:?\s*{base}/\S*$", "", text) or text

    @property
    def oauth_networks(self) -> list[str]:
        """The networks whose accounts link on their own consent page (OAuth 2.0 + PKCE)."""
        from envoi.services.ports import OAuthLinking

        gateways = self.envoi.ctx.gateways
        return [name for name, g in gateways.items() if isinstance(g, OAuthLinking)]

    def error_text(self, error: EnvoiError) -> str:
        base = self.envoi.settings.base_url.rstrip("/")
        return render_error(
            error, self.locale, url=f"{base}/wallet/topup", bot=self.envoi.settings.bot_handle
        )

    def sign_in(self, token: str) -> None:
        self.session = Session.member(token)

    def sign_out(self) -> None:
        token = self.session.token
        if token is not None:
            self.envoi.members.revoke_token(token)
        self.session = Session.visitor()
        self.member = None

    def render(self, name: str, *, status: int = 200, **context: Any) -> Response:
        html = _env.get_template(name).render(
            _=self._,
            page=self,
            member=self.member,
            locale=self.locale,
            csrf=self.codec.csrf(self.session),
            path=self.request.url.path,
            version=__version__,
            bot=self.envoi.settings.bot_handle,
            sandbox_network=self.envoi.sandbox_network is not None,
            sandbox_cards=self.envoi.settings.enabled_card_processor == "sandbox",
            **context,
        )
        return self._finish(HTMLResponse(html, status_code=status))

    def redirect(self, url: str) -> Response:
        # 303: the browser follows with a GET, so reloading never re-posts a form.
        return self._finish(RedirectResponse(url, status_code=303))

    def _finish(self, response: Response) -> Response:
        response.headers.update(SECURITY_HEADERS)
        if self.session.fresh:
            response.set_cookie(
                COOKIE,
                self.codec.dumps(self.session),
                max_age=self.codec.max_age_s,
                path="/",
                secure=self.codec.secure,
                httponly=True,
                samesite="lax",
            )
        for name, value in self.extra_cookies.items():
            response.set_cookie(
                name, value, max_age=365 * 24 * 3600, path="/", secure=self.codec.secure,
                httponly=True, samesite="lax",
            )  # fmt: skip
        return response


def load_page(request: Request) -> Page:
    """The request's ``Page``: session from the signed cookie, member from its API token."""
    envoi: Envoi = request.app.state.envoi
    codec = codec_for(envoi)
    session = codec.loads(request.cookies.get(COOKIE))
    member = None
    if session is not None and session.token is not None:
        try:
            member = envoi.members.authenticate(session.token)
        except EnvoiError:
            session = None  # expired or revoked token: start over as a visitor
    session = session or Session.visitor()
    locale = choose_locale(
        member.locale if member else None,
        request.cookies.get(LANG_COOKIE),
        request.headers.get("accept-language"),
    )
    page = Page(request, envoi, codec, session, member, locale)
    request.state.page = page
    return page


def safe_next(target: str | None, default: str = "/wallet") -> str:
    """Only a path on this site: never ``//evil.example`` or ``https://…`` (open redirect)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(c in target for c in "\r\n\t\\") or ":" in target.split("?")[0]:
        return default
    return target


class PageRoute(APIRoute):
    """Renders every refusal as a page in the visitor's language (the app's handlers speak JSON)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequiredError:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                page = _page_for_error(request)
                return page.redirect("/login?next=" + quote(target, safe="/"))
            except CsrfError:
                page = _page_for_error(request)
                return error_page(page, page._("form.csrf"), 403)
            except EnvoiError as exc:
                page = _page_for_error(request)
                return error_page(page, page.error_text(exc), STATUS.get(exc.code, 400))
            except RequestValidationError:
                page = _page_for_error(request)
                return error_page(page, page._("error.not_found"), 404)
            except StarletteHTTPException:
                raise
            except Exception:
                log.exception("wallet page failed: %s %s", request.method, request.url.path)
                page = _page_for_error(request)
                return error_page(page, page._("error.unexpected"), 500)

        return guarded


def _page_for_error(request: Request) -> Page:
    page: Page | None = getattr(request.state, "page", None)
    if page is not None:
        return page
    envoi: Envoi = request.app.state.envoi
    locale = choose_locale(
        None, request.cookies.get(LANG_COOKIE), request.headers.get("accept-language")
    )
    codec = codec_for(envoi)
    session = codec.loads(request.cookies.get(COOKIE)) or Session.visitor()
    return Page(request, envoi, codec, session, None, locale)


def error_page(page: Page, message: str, status: int) -> Response:
    return page.render("error.html", status=status, message=message)


# Where machines call: their refusals stay JSON (``errors.py``). Everywhere else a person
# browses, and an unknown address gets the wallet's own "page not found".
MACHINE_PREFIXES = (
    "/api/",
    "/sandbox/api/",
    "/sandbox/psp/",
    "/static/",
    "/docs",
    "/openapi.json",
    "/healthz",
    "/favicon.ico",  # browsers ask for it on pages that name no icon (the sandbox's own)
)


def is_page_path(path: str) -> bool:
    return not path.startswith(MACHINE_PREFIXES)


def page_not_found(request: Request, status: int, headers: Mapping[str, str] | None) -> Response:
    """The HTML 404 (or 405: a form's address opened in the address bar) in the visitor's
    language, with the wallet's navigation when they are signed in."""
    try:
        page = load_page(request)
    except Exception:  # the database is away: still a page, as a visitor
        log.exception("loading the session for a 404 page failed")
        page = _page_for_error(request)
    response = error_page(page, page._("error.not_found"), status)
    response.headers.update(headers or {})  # e.g. Allow on a 405
    return response


# --- view models -----------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One row of history as shown: who, what, when, how much, in which state."""

    title: str
    detail: str
    amount: str
    state: str
    tone: str  # ok | wait | off: the colour of the state, never its only signal
    href: str | None


def payment_state(page: Page, state: str, *, outgoing: bool, handle: str) -> tuple[str, str]:
    """(words, tone) for a payment's state from this member's side."""
    _ = page._
    if state == IntentState.AWAITING_CONFIRMATION:
        return _("state.awaiting_confirmation"), "wait"
    if state == IntentState.SETTLED:
        return _("state.sent" if outgoing else "state.received"), "ok"
    if state == IntentState.CLAIMABLE:
        return (
            (_("state.claimable", handle=handle), "wait")
            if outgoing
            else (
                _("state.received"),
                "ok",
            )
        )
    if state == IntentState.CLAIMED:
        return _("state.claimed_out", handle=handle) if outgoing else _("state.received"), "ok"
    return _(f"state.{state}"), "off"


def history_line(page: Page, m: Movement) -> Line:
    _ = page._
    when = page.when(m.at)
    if m.type == "topup":
        words, tone = (
            _(f"state.topup.{m.state}"),
            "off" if m.state == "declined" else ("ok" if m.state == "succeeded" else "wait"),
        )
        detail = " · ".join(x for x in (m.counterparty_name, when) if x)
        # Only money that arrived is "+": a top-up waiting for 3-D Secure is not yet.
        amount = ("+" if m.state == "succeeded" else "") + page.money(m.amount_minor, m.currency)
        return Line(_("kind.topup"), detail, amount, words, tone, None)
    outgoing = m.direction == "out"
    words, tone = payment_state(page, m.state, outgoing=outgoing, handle=m.counterparty_handle)
    sign = "−" if outgoing else "+"
    total = m.amount_minor + (m.fee_minor if outgoing else 0)
    name = m.counterparty_name or (f"@{m.counterparty_handle}" if m.counterparty_handle else "—")
    detail = f"{_('kind.' + m.kind)} · {when}"
    amount = sign + page.money(total, m.currency)
    return Line(name, detail, amount, words, tone, f"/wallet/intents/{m.id}")


@dataclass(frozen=True)
class IntentView:
    """The payment page's content, computed once from the intent and the viewer's side.

    Three sides: the payer (who confirms with a PIN), the requester of a ``#demander``
    (who asked and is paid, and only waits), and a payee who was simply paid.
    """

    intent: PaymentIntent
    payee_name: str
    payee_ref: str  # "@bob" or "#AnnivJulie": what the person typed
    kind: str
    amount: str
    fee: str | None
    total: str
    state: str
    tone: str
    can_confirm: bool
    is_payer: bool
    is_requester: bool
    not_member: bool
    headline: str  # over the amount: "You are sending", "You sent", "You received"…
    party_label: str  # "Recipient", "Asked of", "From"
    party_name: str
    party_ref: str  # "@alice"; "" when the other side has no handle in this exchange
    party_is_payee: bool  # the other side shown is the payee (else the payer)
    created_label: str
    payer_name: str
    verified_org: bool = False  # the payee is a verified organisation: badge + legal name
    legal_name: str | None = None


_DONE_FOR_PAYER = {IntentState.SETTLED, IntentState.CLAIMABLE, IntentState.CLAIMED}
_RECEIVED = {IntentState.SETTLED, IntentState.CLAIMED}


def _payer_name(page: Page, intent: PaymentIntent) -> str:
    try:
        return page.envoi.members.get(intent.payer_member_id).display_name
    except EnvoiError:
        return f"@{intent.payer_handle}" if intent.payer_handle else "—"


def intent_view(page: Page, intent: PaymentIntent) -> IntentView:
    _ = page._
    me = page.me
    is_payer = intent.payer_member_id == me.id
    is_requester = not is_payer and intent.requester_member_id == me.id
    payee = intent.payee
    # Who the payee is now (one name per person: their wallet name once they have one).
    now = page.envoi.wallet.payee_now(intent)
    ref = f"#{payee.handle}" if payee.kind is PayeeKind.POT else f"@{payee.handle}"
    words, tone = payment_state(page, intent.state, outgoing=is_payer, handle=payee.handle)
    open_ = intent.state is IntentState.AWAITING_CONFIRMATION and (
        datetime.now(UTC) < intent.expires_at
    )
    fee = page.money(intent.fee.minor, intent.fee.currency) if intent.fee.minor else None
    payer_name = "" if is_payer else _payer_name(page, intent)
    payer_ref = f"@{intent.payer_handle}" if intent.payer_handle else ""
    if is_payer:
        if open_:
            headline = _("intent.to")
        elif intent.state in _DONE_FOR_PAYER:
            headline = _("intent.sent")
        else:
            headline = _("intent.amount")
        party = (_("intent.recipient"), now.name or ref, ref, True)
    else:
        if intent.state in _RECEIVED:
            headline = _("intent.received")
        elif is_requester and open_:
            headline = _("intent.asking")
        else:
            headline = _("intent.amount")
        if is_requester and intent.state is IntentState.AWAITING_CONFIRMATION:
            words, tone = _("state.awaiting_payer"), "wait"
        label = _("intent.asked_of") if is_requester else _("intent.from")
        party = (label, payer_name, payer_ref if payer_ref != payer_name else "", False)
    return IntentView(
        intent=intent,
        payee_name=now.name or ref,
        payee_ref=ref,
        kind=_("kind." + intent.kind.value),
        amount=page.money(intent.amount.minor, intent.amount.currency),
        fee=fee if intent.fee_charged_to == "payer" or not is_payer else None,
        total=page.money(intent.total_debit.minor, intent.total_debit.currency),
        state=words,
        tone=tone,
        can_confirm=is_payer and open_,
        is_payer=is_payer,
        is_requester=is_requester,
        not_member=payee.kind is PayeeKind.IDENTITY and now.member is None,
        headline=headline,
        party_label=party[0],
        party_name=party[1],
        party_ref=party[2],
        party_is_payee=party[3],
        created_label=_(
            "intent.requested" if intent.kind is IntentKind.REQUEST else "intent.created"
        ),
        payer_name=payer_name,
        verified_org=now.verified_organisation,
        legal_name=now.organisation.legal_name if now.organisation else None,
    )


def confirm_error_field(error: EnvoiError) -> str:
    """Which field an error from confirming belongs next to ("" for the whole form)."""
    pin_codes = {ErrorCode.WRONG_PIN, ErrorCode.PIN_LOCKED, ErrorCode.INVALID_PIN_FORMAT}
    return "pin" if error.code in pin_codes else ""
