"""The web wallet: server-rendered pages (Jinja2, htmx for live updates), bilingual.

Plain HTML forms work without JavaScript. Each POST carries the session's CSRF
token; each success answers with a 303 redirect (reloading never re-posts).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import RedirectResponse

from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.domain.model import IntentState, MemberKind, Privacy
from envoi.domain.names import normalise_email
from envoi.money import Money
from envoi.services.funding import MAX_TOPUP_MINOR, MIN_TOPUP_MINOR
from envoi.services.members import HASHTAG_FORMAT
from envoi.services.ports import CardDetails, CardToken
from envoi.services.secrets import PIN_FORMAT
from envoi.services.wallet import Movement
from envoi.web.api import client_address, payee_warnings
from envoi.web.errors import STATUS, retry_headers
from envoi.web.i18n import as_locale, decline_reason
from envoi.web.wallet_session import LANG_COOKIE
from envoi.web.wallet_views import (
    CsrfError,
    Page,
    PageRoute,
    confirm_error_field,
    error_page,
    history_line,
    intent_view,
    load_page,
    safe_next,
)

router = APIRouter(route_class=PageRoute, include_in_schema=False)

PageDep = Annotated[Page, Depends(load_page)]
Errors = dict[str, str]

_EUROS = re.compile(r"[0-9]{1,7}(?:\.[0-9]{1,2})?")
_EXPIRY = re.compile(r"([0-9]{1,2})\s*/\s*([0-9]{2}|[0-9]{4})")
_DONE_STATES = {"confirmed": IntentState.SETTLED.value, "cancelled": IntentState.CANCELLED.value}
# Sandbox test cards listed on the top-up page (the processor documents them).
TEST_CARDS = (
    ("4242 4242 4242 4242", "topup.card_ok"),
    ("4000 0000 0000 3220", "topup.card_3ds"),
    ("4000 0000 0000 0002", "topup.card_declined"),
)


async def read_form(request: Request) -> dict[str, str]:
    form = await request.form(max_files=0, max_fields=50)
    return {k: v.strip() for k, v in form.items() if isinstance(v, str)}


@dataclass(frozen=True)
class Posted:
    page: Page
    form: dict[str, str]


def checked_post(page: PageDep, form: Annotated[dict[str, str], Depends(read_form)]) -> Posted:
    """A POST from our own page in this session: its CSRF token, and our Origin if one is sent."""
    origin = page.request.headers.get("origin")
    ours = {_origin(page.envoi.settings.base_url), _origin(str(page.request.base_url))}
    if origin is not None and origin not in ours:
        raise CsrfError
    if not page.codec.csrf_ok(page.session, form.get("csrf")):
        raise CsrfError
    return Posted(page, form)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


PostDep = Annotated[Posted, Depends(checked_post)]


def _required(form: dict[str, str], errors: Errors, page: Page, *names: str) -> None:
    for name in names:
        if not form.get(name):
            errors.setdefault(name, page._("form.required"))


def _throttled(page: Page, template: str, error: EnvoiError, **context: Any) -> Response:
    """The form again with the throttle's message, as a 429 that says when to retry."""
    response = page.render(template, status=429, **context)
    response.headers.update(retry_headers(error) or {})
    return response


def _euros_to_minor(text: str) -> int | None:
    """``20``, ``12,50``, ``12.50 €`` -> minor units; anything else -> None (never a float)."""
    cleaned = re.sub(r"[\s\u00a0\u202f€]", "", text).replace(",", ".")
    if not _EUROS.fullmatch(cleaned):
        return None
    return Money.from_decimal(Decimal(cleaned), "EUR").minor


# --- public pages ----------------------------------------------------------------------


@router.get("/")
def landing(page: PageDep) -> Response:
    return page.render("landing.html")


@router.get("/signup")
def signup_form(
    page: PageDep, target: Annotated[str | None, Query(alias="next")] = None
) -> Response:
    if page.member:
        return page.redirect(safe_next(target))
    values = {"locale": page.locale}
    return page.render("signup.html", values=values, errors={}, next=safe_next(target))


@router.post("/signup")
def signup(post: PostDep) -> Response:
    page, form = post.page, post.form
    errors: Errors = {}
    _required(form, errors, page, "display_name", "email", "password")
    if form.get("email"):
        try:
            normalise_email(form["email"])
        except EnvoiError as exc:
            lookalike = exc.params.get("problem") in {"local_not_ascii", "mixed_scripts"}
            errors["email"] = page._("form.email_lookalike" if lookalike else "form.invalid_email")
    if form.get("password") and len(form["password"]) < 8:
        errors["password"] = page._("form.password_short")
    locale = as_locale(form.get("locale")) or page.locale
    values = {k: form.get(k, "") for k in ("display_name", "email")} | {"locale": locale}
    if not errors:
        try:
            page.envoi.members.register(
                client=client_address(page.request),
                email=form["email"],
                password=form["password"],
                display_name=form["display_name"],
                locale=locale,
                kind=MemberKind.PERSON,
            )
            page.sign_in(
                page.envoi.members.issue_token(
                    form["email"], form["password"], client=client_address(page.request)
                )
            )
            # Where the newcomer was going (e.g. linking the account they just created).
            return page.redirect(safe_next(form.get("next")))
        except EnvoiError as exc:
            errors["email" if exc.code is ErrorCode.EMAIL_TAKEN else ""] = page.error_text(exc)
            if exc.code is ErrorCode.TOO_MANY_SIGNUPS:
                return _throttled(
                    page,
                    "signup.html",
                    exc,
                    values=values,
                    errors=errors,
                    next=safe_next(form.get("next")),
                )
    target = safe_next(form.get("next"))
    return page.render("signup.html", status=422, values=values, errors=errors, next=target)


@router.get("/login")
def login_form(
    page: PageDep, target: Annotated[str | None, Query(alias="next")] = None
) -> Response:
    if page.member:
        return page.redirect(safe_next(target))
    return page.render("login.html", values={}, errors={}, next=safe_next(target))


@router.post("/login")
def login(post: PostDep) -> Response:
    page, form = post.page, post.form
    target = safe_next(form.get("next"))
    errors: Errors = {}
    _required(form, errors, page, "email", "password")
    if not errors:
        try:
            token = page.envoi.members.issue_token(
                form["email"], form["password"], client=client_address(page.request)
            )
            page.sign_in(token)
            return page.redirect(target)
        except EnvoiError as exc:
            # Never say which of the two was wrong.
            errors[""] = page.error_text(exc)
            if exc.code is ErrorCode.TOO_MANY_ATTEMPTS:
                values = {"email": form.get("email", "")}
                return _throttled(
                    page, "login.html", exc, values=values, errors=errors, next=target
                )
    values = {"email": form.get("email", "")}
    return page.render("login.html", status=401, values=values, errors=errors, next=target)


@router.get("/logout")
def logout_form(page: PageDep) -> Response:
    return page.render("logout.html")


@router.post("/logout")
def logout(post: PostDep) -> Response:
    # The API token is revoked and the cookie replaced.
    post.page.sign_out()
    return post.page.redirect("/")


@router.post("/lang")
def switch_language(post: PostDep) -> Response:
    page, form = post.page, post.form
    locale = as_locale(form.get("locale"))
    if locale is not None:
        page.extra_cookies[LANG_COOKIE] = locale
        if page.member:
            page.envoi.members.update_profile(page.member.id, locale=locale)
    return page.redirect(safe_next(form.get("next"), "/"))


# --- the wallet ------------------------------------------------------------------------


@router.get("/wallet")
def wallet(page: PageDep, topup: str | None = None) -> Response:
    me = page.me
    envoi = page.envoi
    balance = envoi.wallet.balance(me.id)
    banner = None
    if topup:
        banner = _topup_banner(page, topup)
    movements = envoi.wallet.history(me.id, limit=15)
    identities = envoi.members.identities(me.id)
    return page.render(
        "wallet.html",
        balance=balance,
        to_confirm=[intent_view(page, i) for i in envoi.wallet.to_confirm(me.id)],
        history=[history_line(page, m) for m in movements],
        notifications=envoi.wallet.notifications(me.id, limit=8),
        identities=identities,
        example_payee=example_payee(page, movements, {i.handle.lower() for i in identities}),
        banner=banner,
    )


def example_payee(page: Page, movements: list[Movement], own: set[str]) -> str:
    """Whom the "to pay, post…" example names: someone this member has paid before,
    never themselves; else a neutral placeholder (not a real person such as @bob)."""
    for m in movements:
        paid = m.type == "payment" and m.direction == "out" and m.kind in ("send", "donate")
        if paid and m.counterparty_handle and m.counterparty_handle.lower() not in own:
            return "@" + m.counterparty_handle
    return page._("wallet.example_payee")


def _topup_banner(page: Page, topup_id: str) -> tuple[str, str] | None:
    """The top-up's real state in words (the id comes from a URL: only one's own counts)."""
    try:
        topup = page.envoi.funding.get(page.me.id, topup_id)
    except EnvoiError:
        return None
    amount = page.money(topup.amount.minor, topup.amount.currency)
    if topup.status == "succeeded":
        return "ok", page._("topup.done", amount=amount)
    if topup.status == "declined":
        return "error", page._(
            "topup.declined", reason=decline_reason(topup.decline_code, page.locale)
        )
    return "wait", page._("state.topup.requires_action")


@router.get("/wallet/to-confirm")
def to_confirm_partial(page: PageDep) -> Response:
    """The "to confirm" section alone, polled by htmx so a new payment shows up by itself."""
    if page.member is None:
        return Response(status_code=286)  # htmx: stop polling
    items = [intent_view(page, i) for i in page.envoi.wallet.to_confirm(page.member.id)]
    return page.render("_to_confirm.html", to_confirm=items)


@router.get("/wallet/intents/{intent_id}")
def intent_page(page: PageDep, intent_id: str, done: str | None = None) -> Response:
    return _intent(page, intent_id, done=done)


def _intent(
    page: Page, intent_id: str, *, errors: Errors | None = None, done: str | None = None,
    status: int = 200,
) -> Response:  # fmt: skip
    found = page.envoi.wallet.intent(page.me.id, intent_id)
    if found is None:
        return error_page(page, page.error_text(EnvoiError(ErrorCode.INTENT_NOT_FOUND)), 404)
    # The banner follows the real state, not the query string (a crafted link must not
    # say "confirmed" over a payment still waiting for its PIN).
    if _DONE_STATES.get(done or "") != found.state.value and not (
        done == "confirmed" and found.state is IntentState.CLAIMABLE
    ):
        done = None
    return page.render(
        "intent.html",
        status=status,
        view=intent_view(page, found),
        warnings=payee_warnings(found, page.locale, page.envoi.settings.new_account_days)
        if found.payer_member_id == page.me.id
        else [],
        errors=errors or {},
        done=done,
        claim_days=page.envoi.settings.claim_window_s // 86400,
    )


@router.post("/wallet/intents/{intent_id}/confirm")
def confirm(post: PostDep, intent_id: str) -> Response:
    page, form = post.page, post.form
    me = page.me
    try:
        # What the person saw; the service refuses if the intent no longer matches it.
        amount_seen = int(form.get("amount_minor", ""))
    except ValueError:
        amount_seen = -1
    try:
        page.envoi.lifecycle.confirm(
            me.id,
            intent_id,
            form.get("pin", ""),  # a malformed PIN is refused without costing an attempt
            expected_amount_minor=amount_seen,
            expected_payee=form.get("payee", ""),
        )
    except EnvoiError as exc:
        errors = {confirm_error_field(exc): page.error_text(exc)}
        return _intent(page, intent_id, errors=errors, status=STATUS.get(exc.code, 400))
    return page.redirect(f"/wallet/intents/{intent_id}?done=confirmed")


@router.post("/wallet/intents/{intent_id}/cancel")
def cancel(post: PostDep, intent_id: str) -> Response:
    page = post.page
    try:
        page.envoi.lifecycle.cancel(page.me.id, intent_id)
    except EnvoiError as exc:
        errors = {"": page.error_text(exc)}
        return _intent(page, intent_id, errors=errors, status=STATUS.get(exc.code, 400))
    return page.redirect(f"/wallet/intents/{intent_id}?done=cancelled")


# --- top-up, linking, settings, pots -------------------------------------------------


def _topup_form(
    page: Page,
    *,
    values: dict[str, str],
    errors: Errors,
    status: int,
    banner: tuple[str, str] | None = None,
) -> Response:
    stripe_key = stripe_publishable_key(page)
    response = page.render(
        "topup_stripe.html" if stripe_key else "topup.html",
        status=status,
        values=values,
        errors=errors,
        banner=banner,
        request_key=secrets.token_urlsafe(16),  # one charge per displayed form, however often sent
        test_cards=TEST_CARDS,
        card_topups=page.envoi.ctx.processor is not None,
        stripe_key=stripe_key,
        min=page.money(MIN_TOPUP_MINOR),
        max=page.money(MAX_TOPUP_MINOR),
    )
    if stripe_key:
        response.headers["Content-Security-Policy"] = STRIPE_CSP
    return response


# Stripe.js and its card fields (iframes) come from Stripe; everything else from here.
STRIPE_CSP = (
    "default-src 'self'; img-src 'self' data: https://*.stripe.com; style-src 'self'; "
    "script-src 'self' https://js.stripe.com; frame-src https://js.stripe.com "
    "https://hooks.stripe.com; connect-src 'self' https://api.stripe.com; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
_PAYMENT_METHOD = re.compile(r"pm_[A-Za-z0-9_]{1,100}")


def stripe_publishable_key(page: Page) -> str:
    """The key for Stripe.js when top-ups go through Stripe, else ""."""
    settings = page.envoi.settings
    return settings.stripe.publishable_key if settings.enabled_card_processor == "stripe" else ""


@router.get("/wallet/topup")
def topup_form(page: PageDep, request_id: str | None = None) -> Response:
    """The form; back from the card issuer's 3-D Secure page (``request_id`` is the top-up
    the processor was asked to charge), the top-up's outcome above it."""
    page.me  # noqa: B018 - private page
    banner = None
    if request_id:
        banner = _topup_banner(page, request_id)
        if banner is not None and banner[0] == "wait":
            banner = ("wait", page._("topup.auth_pending"))
    return _topup_form(page, values={}, errors={}, status=200, banner=banner)


@router.post("/wallet/topup")
def topup(post: PostDep) -> Response:
    page, form = post.page, post.form
    if stripe_publishable_key(page):
        return _topup_with_stripe(page, form)
    page.me  # noqa: B018 - private page
    errors: Errors = {}
    _required(form, errors, page, "amount", "card_number", "expiry", "cvc")
    amount = _euros_to_minor(form.get("amount", ""))
    if form.get("amount") and amount is None:
        errors["amount"] = page._("topup.amount_invalid")
    expiry = _EXPIRY.fullmatch(form.get("expiry", ""))
    if form.get("expiry") and (expiry is None or not 1 <= int(expiry.group(1)) <= 12):
        errors["expiry"] = page._("topup.expiry_invalid")
    number = re.sub(r"[\s-]", "", form.get("card_number", ""))
    values = {"amount": form.get("amount", "")}
    if errors or amount is None or expiry is None:
        return _topup_form(page, values=values, errors=errors, status=422)
    year = int(expiry.group(2))
    card = CardDetails(
        number, int(expiry.group(1)), year + 2000 if year < 100 else year, form["cvc"]
    )
    return _topup_charge(page, form, values, amount, card)


def _topup_with_stripe(page: Page, form: dict[str, str]) -> Response:
    """The Stripe form: an amount and the PaymentMethod id Stripe.js made of the card."""
    errors: Errors = {}
    _required(form, errors, page, "amount")
    amount = _euros_to_minor(form.get("amount", ""))
    if form.get("amount") and amount is None:
        errors["amount"] = page._("topup.amount_invalid")
    if not _PAYMENT_METHOD.fullmatch(form.get("payment_method", "")):
        errors["card_number"] = page._("form.required")
    values = {"amount": form.get("amount", "")}
    if errors or amount is None:
        return _topup_form(page, values=values, errors=errors, status=422)
    return _topup_charge(page, form, values, amount, CardToken(form["payment_method"]))


def _topup_charge(
    page: Page,
    form: dict[str, str],
    values: dict[str, str],
    amount: int,
    card: CardDetails | CardToken,
) -> Response:
    me = page.me
    try:
        result = page.envoi.funding.top_up(me.id, amount, card, request_key=form.get("request_key"))
    except EnvoiError as exc:
        amount_codes = (
            ErrorCode.AMOUNT_OUT_OF_RANGE,
            ErrorCode.TOPUP_LIMIT_DAILY,
            ErrorCode.TOPUP_LIMIT_MONTHLY,
        )
        field = "amount" if exc.code in amount_codes else "card_number"
        return _topup_form(page, values=values, errors={field: page.error_text(exc)}, status=422)
    if result.status == "requires_action" and result.action_url:
        return page.redirect(result.action_url)  # the card issuer's 3-D Secure page
    if result.status == "declined":
        reason = decline_reason(result.decline_code, page.locale)
        errors = {"card_number": page._("topup.declined", reason=reason)}
        return _topup_form(page, values=values, errors=errors, status=402)
    return page.redirect(f"/wallet?topup={result.id}")


@router.get("/wallet/link")
def link_form(page: PageDep, done: str | None = None) -> Response:
    identities = page.envoi.members.identities(page.me.id)
    # Only a handle actually linked is announced: the query string is not to be trusted.
    linked = done if any(i.handle == done for i in identities) else None
    return page.render("link.html", identities=identities, errors={}, done=linked)


@router.post("/wallet/link")
def link(post: PostDep) -> Response:
    page, form = post.page, post.form
    me = page.me
    errors: Errors = {}
    _required(form, errors, page, "token")
    if not errors:
        try:
            identity = page.envoi.members.link_identity(me.id, "sandbox", form["token"])
            return page.redirect(f"/wallet/link?done={identity.handle}")
        except EnvoiError as exc:
            errors["token"] = page.error_text(exc)
    identities = page.envoi.members.identities(me.id)
    return page.render("link.html", status=422, identities=identities, errors=errors, done=None)


@router.get("/wallet/link/{network}/oauth")
def link_by_oauth(network: str, page: PageDep) -> Response:
    """Off to the network's consent page (OAuth 2.0 + PKCE), then back to the callback."""
    try:
        return RedirectResponse(page.envoi.oauth_links.start(page.me.id, network), status_code=303)
    except EnvoiError as exc:
        return _link_page(page, exc)


@router.get("/wallet/link/{network}/callback")
def link_by_oauth_callback(
    network: str, page: PageDep, state: str = "", code: str = "", error: str = ""
) -> Response:
    if error or not state or not code:  # the person said no at the network
        return page.redirect("/wallet/link")
    try:
        identity = page.envoi.oauth_links.finish(page.me.id, network, state[:200], code[:1000])
    except EnvoiError as exc:
        return _link_page(page, exc)
    return page.redirect(f"/wallet/link?done={identity.handle}")


def _link_page(page: Page, exc: EnvoiError) -> Response:
    identities = page.envoi.members.identities(page.me.id)
    errors = {"token": page.error_text(exc)}
    return page.render("link.html", status=422, identities=identities, errors=errors, done=None)


def _settings(page: Page, *, errors: Errors | None = None, done: str | None = None,
              status: int = 200) -> Response:  # fmt: skip
    return page.render(
        "settings.html", status=status, errors=errors or {}, done=done, privacies=list(Privacy)
    )


@router.get("/wallet/settings")
def settings_page(page: PageDep, done: str | None = None) -> Response:
    page.me  # noqa: B018 - private page
    return _settings(page, done=done if done in ("profile", "pin") else None)


@router.post("/wallet/settings")
def save_settings(post: PostDep) -> Response:
    page, form = post.page, post.form
    me = page.me
    errors: Errors = {}
    _required(form, errors, page, "display_name")
    privacy = next((p for p in Privacy if p.value == form.get("privacy")), None)
    locale = as_locale(form.get("locale"))
    if privacy is None or locale is None:
        errors[""] = page._("form.fix")
    if errors or privacy is None or locale is None:
        return _settings(page, errors=errors, status=422)
    page.envoi.members.update_profile(
        me.id, privacy=privacy, locale=locale, display_name=form["display_name"]
    )
    page.extra_cookies[LANG_COOKIE] = str(locale)
    return page.redirect("/wallet/settings?done=profile")


@router.post("/wallet/settings/pin")
def save_pin(post: PostDep) -> Response:
    page, form = post.page, post.form
    me = page.me
    errors: Errors = {}
    pin = form.get("pin", "")
    if not PIN_FORMAT.fullmatch(pin):
        errors["pin"] = page.error_text(EnvoiError(ErrorCode.INVALID_PIN_FORMAT))
    elif form.get("pin_again") != pin:
        errors["pin_again"] = page._("settings.pin_mismatch")
    if errors:
        return _settings(page, errors=errors, status=422)
    try:
        # Changing a PIN takes the password: a borrowed session alone must not reset it.
        page.envoi.members.set_pin(me.id, pin, current_password=form.get("password"))
    except EnvoiError as exc:
        where = "pin" if exc.code is ErrorCode.OBVIOUS_PIN else "password"
        return _settings(page, errors={where: page.error_text(exc)}, status=422)
    return page.redirect("/wallet/settings?done=pin")


@router.get("/wallet/pots")
def pots_form(page: PageDep, created: str | None = None) -> Response:
    page.me  # noqa: B018 - private page
    tag = created if created and HASHTAG_FORMAT.fullmatch(created) else None
    return page.render("pots.html", values={}, errors={}, created=tag)


@router.post("/wallet/pots")
def create_pot(post: PostDep) -> Response:
    page, form = post.page, post.form
    me = page.me
    errors: Errors = {}
    _required(form, errors, page, "hashtag", "title")
    goal = _euros_to_minor(form["goal"]) if form.get("goal") else None
    if form.get("goal") and not goal:
        errors["goal"] = page._("topup.amount_invalid")
    values = {k: form.get(k, "") for k in ("hashtag", "title", "goal")}
    if not errors:
        try:
            pot = page.envoi.members.create_pot(
                me.id, hashtag=form["hashtag"], title=form["title"], goal_minor=goal
            )
            return page.redirect(f"/wallet/pots?created={pot.hashtag}")
        except EnvoiError as exc:
            errors["hashtag"] = page.error_text(exc)
    return page.render("pots.html", status=422, values=values, errors=errors, created=None)
