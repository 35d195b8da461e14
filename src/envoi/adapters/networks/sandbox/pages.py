"""The sandbox network's own web pages (mounted at ``/sandbox``): a stand-in social network
for trying envoi in a browser, with no X or Mastodon account.

A visitor creates an account (its token is shown once), signs in with a token, posts
publicly or by direct message, reads the public timeline, a post with its replies, and
their inbox. Posts go through ``network.post`` then ``network.deliver`` exactly as the
JSON API's do, so the bot sees them the same way.

The account's token is kept in an HttpOnly, SameSite=Strict cookie scoped to
``/sandbox`` (never sent to the wallet); a POST whose ``Origin`` is another site is
refused. Pages speak French or English by Accept-Language (French by default).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from fastapi import APIRouter, Form, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from envoi.adapters.networks.sandbox import text as txt
from envoi.adapters.networks.sandbox.store import SandboxAccount, SandboxNetwork, SandboxPost
from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.domain.messages import pick_locale
from envoi.domain.model import Locale
from envoi.domain.typography import french
from envoi.services.ports import InboundPort

logger = logging.getLogger(__name__)

COOKIE = "sandbox_token"
COOKIE_PATH = "/sandbox"
COOKIE_MAX_AGE_S = 30 * 24 * 3600
_TOKEN_MAX = 200
_TEMPLATES = Path(__file__).parent / "templates"
_CSS = (_TEMPLATES / "sandbox.css").read_text(encoding="utf-8")
_STYLE = Markup(_CSS)  # noqa: S704 - our own file, inlined (its hash is in the CSP)
_CSS_HASH = base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode()
_REPLIES_JS = (_TEMPLATES / "replies.js").read_text(encoding="utf-8")
_REPLIES_JS_HASH = base64.b64encode(hashlib.sha256(_REPLIES_JS.encode()).digest()).decode()
_HEADERS = {
    "Cache-Control": "no-store",  # tokens and inboxes: never in a shared cache
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; img-src 'self'; "
        f"script-src 'sha256-{_REPLIES_JS_HASH}'; connect-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
}
_URL = re.compile(r"https?://[^\s<>\"']+")

_env = Environment(
    loader=FileSystemLoader(_TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)

TEXT: dict[str, dict[Locale, str]] = {
    "brand": {"fr": "Réseau sandbox", "en": "Sandbox network"},
    "brand.tag": {"fr": "réseau social de démonstration", "en": "demo social network"},
    "foot": {
        "fr": "Réseau de test d'envoi : rien de ce qui est publié ici ne sort de ce serveur.",
        "en": "envoi's test network: nothing posted here leaves this server.",
    },
    "nav.home": {"fr": "Accueil", "en": "Home"},
    "nav.post": {"fr": "Publier", "en": "Post"},
    "nav.timeline": {"fr": "Fil public", "en": "Public timeline"},
    "nav.inbox": {"fr": "Boîte de réception", "en": "Inbox"},
    "nav.wallet": {"fr": "Portefeuille envoi", "en": "envoi wallet"},
    "nav.signout": {"fr": "Se déconnecter", "en": "Sign out"},
    "nav.signed_in": {"fr": "Connecté : @{handle}", "en": "Signed in: @{handle}"},
    "home.title": {"fr": "Le réseau social de démonstration", "en": "The demo social network"},
    "home.lead": {
        "fr": "Un petit réseau social pour essayer envoi sans compte X, Mastodon ni Bluesky. "
        "Ses comptes et ses messages restent sur ce serveur ; le bot @{bot} y lit les "
        "commandes de paiement comme il le ferait sur un vrai réseau.",
        "en": "A small social network for trying envoi without an X, Mastodon or Bluesky "
        "account. Its accounts and posts stay on this server; the @{bot} bot reads payment "
        "commands here as it would on a real network.",
    },
    "home.steps": {"fr": "Pour essayer", "en": "To try it"},
    "home.step1": {
        "fr": "Créez un compte ci-dessous : vous recevez son jeton.",
        "en": "Create an account below: you get its token.",
    },
    "home.step2": {
        "fr": "Ouvrez un portefeuille envoi et reliez-y ce compte avec le jeton.",
        "en": "Open an envoi wallet and link this account to it with the token.",
    },
    "home.step3": {"fr": "Publiez une commande, par exemple :", "en": "Post a command, e.g.:"},
    "home.step4": {
        "fr": "Le bot vous répond ; confirmez le paiement dans le portefeuille.",
        "en": "The bot answers; confirm the payment in the wallet.",
    },
    "home.welcome": {"fr": "Bonjour {name}", "en": "Hello {name}"},
    "create.title": {"fr": "Créer un compte", "en": "Create an account"},
    "create.another": {"fr": "Créer un autre compte", "en": "Create another account"},
    "create.handle": {"fr": "Identifiant", "en": "Handle"},
    "create.handle_hint": {
        "fr": "1 à 15 lettres, chiffres ou _, sans @ (ex. alice_d).",
        "en": "1 to 15 letters, digits or _, without @ (e.g. alice_d).",
    },
    "create.name": {"fr": "Nom affiché", "en": "Display name"},
    "create.submit": {"fr": "Créer le compte", "en": "Create the account"},
    "created.title": {"fr": "Compte @{handle} créé", "en": "Account @{handle} created"},
    "created.token": {"fr": "Jeton du compte", "en": "Account token"},
    "created.once": {
        "fr": "Copiez ce jeton maintenant (sélectionnez-le puis Ctrl+C, ou appui long sur "
        "un téléphone) : il ne sera plus jamais affiché. Il prouve que le compte est à vous : "
        "ne le donnez à personne.",
        "en": "Copy this token now (select it then Ctrl+C, or long-press on a phone): it will "
        "never be shown again. It proves the account is yours: give it to no one.",
    },
    "created.kept": {
        "fr": "Ce navigateur reste connecté à @{handle} sur le réseau sandbox.",
        "en": "This browser stays signed in as @{handle} on the sandbox network.",
    },
    "created.link": {
        "fr": "Reliez-le dans votre portefeuille",
        "en": "Link it in your wallet",
    },
    "created.link_hint": {
        "fr": "Dans le portefeuille envoi, page « Comptes reliés », collez ce jeton.",
        "en": "In the envoi wallet, on the \u201cLinked accounts\u201d page, paste this token.",
    },
    "signin.title": {"fr": "Se connecter avec un jeton", "en": "Sign in with a token"},
    "signin.switch": {
        "fr": "Changer de compte (avec son jeton)",
        "en": "Switch account (with its token)",
    },
    "signin.token": {"fr": "Jeton", "en": "Token"},
    "signin.submit": {"fr": "Se connecter", "en": "Sign in"},
    "signin.needed": {
        "fr": "Connectez-vous avec le jeton de votre compte pour lire sa boîte de réception.",
        "en": "Sign in with your account's token to read its inbox.",
    },
    "post.title": {"fr": "Publier", "en": "Post"},
    "post.as": {"fr": "Vous publiez en tant que @{handle}.", "en": "You are posting as @{handle}."},
    "post.as_other": {"fr": "Pas vous ?", "en": "Not you?"},
    "post.handle": {"fr": "Publier en tant que (identifiant)", "en": "Post as (handle)"},
    "post.token_hint": {
        "fr": "Le jeton reçu à la création du compte. Ce navigateur s'en souviendra.",
        "en": "The token given when the account was created. This browser will remember it.",
    },
    "post.text": {"fr": "Message", "en": "Message"},
    "post.text_hint": {
        "fr": "500 caractères au plus. Par exemple : {example}",
        "en": "At most 500 characters. For example: {example}",
    },
    "post.visibility": {"fr": "Visibilité", "en": "Visibility"},
    "post.public": {"fr": "Public", "en": "Public"},
    "post.public_hint": {
        "fr": "Visible par tous dans le fil public.",
        "en": "Seen by everyone on the public timeline.",
    },
    "post.direct": {"fr": "Message privé", "en": "Direct message"},
    "post.direct_hint": {
        "fr": "Seulement pour son destinataire (ou les comptes mentionnés).",
        "en": "Only for its recipient (or the accounts it mentions).",
    },
    "post.to": {"fr": "À (message privé, facultatif)", "en": "To (direct message, optional)"},
    "post.to_hint": {
        "fr": "Un identifiant, ex. {bot}. Sans destinataire, le message va aux comptes mentionnés.",
        "en": "A handle, e.g. {bot}. Without one, the message goes to the accounts it mentions.",
    },
    "post.submit": {"fr": "Publier", "en": "Post"},
    "post.posted": {
        "fr": "Message publié. La réponse du bot s'affiche ci-dessous dès qu'elle arrive.",
        "en": "Posted. The bot's answer shows below as soon as it arrives.",
    },
    "post.refresh": {"fr": "Actualiser", "en": "Refresh"},
    "post.replies": {"fr": "Réponses", "en": "Replies"},
    "post.no_replies": {"fr": "Pas encore de réponse.", "en": "No replies yet."},
    "post.open": {"fr": "Voir la conversation", "en": "See the conversation"},
    "post.reply_to": {"fr": "en réponse à un message", "en": "in reply to a post"},
    "post.direct_to": {"fr": "Message privé à @{handle}", "en": "Direct message to @{handle}"},
    "post.direct_badge": {"fr": "Message privé", "en": "Direct message"},
    "timeline.title": {"fr": "Fil public", "en": "Public timeline"},
    "timeline.empty": {"fr": "Rien de publié pour l'instant.", "en": "Nothing posted yet."},
    "inbox.title": {"fr": "Boîte de réception de @{handle}", "en": "@{handle}'s inbox"},
    "inbox.lead": {
        "fr": "Réponses à vos messages, messages privés et mentions.",
        "en": "Replies to your posts, direct messages and mentions.",
    },
    "inbox.empty": {"fr": "Rien pour l'instant.", "en": "Nothing yet."},
    "error.title": {"fr": "Un problème est survenu", "en": "Something went wrong"},
    "error.not_found": {"fr": "Ce message n'existe pas ou plus.", "en": "No such post."},
    "error.origin": {
        "fr": "Formulaire refusé : il ne vient pas de ce site.",
        "en": "Form refused: it does not come from this site.",
    },
    "error.unexpected": {
        "fr": "Une erreur inattendue s'est produite. Réessayez dans un instant.",
        "en": "An unexpected error occurred. Please try again in a moment.",
    },
    "error.home": {"fr": "Retour à l'accueil du réseau", "en": "Back to the network's home"},
    "form.fix": {"fr": "Corrigez les champs signalés.", "en": "Please fix the fields marked."},
    "form.required": {"fr": "Champ obligatoire.", "en": "This field is required."},
    "form.handle": {
        "fr": "Un identifiant compte 1 à 15 caractères : lettres, chiffres ou _.",
        "en": "A handle is 1 to 15 characters: letters, digits or _.",
    },
    "form.handle_taken": {
        "fr": "Cet identifiant est déjà pris : choisissez-en un autre.",
        "en": "This handle is taken: choose another.",
    },
    "form.name": {
        "fr": "Un nom de 1 à {max} caractères, sur une ligne.",
        "en": "A name of 1 to {max} characters, on one line.",
    },
    "form.text": {
        "fr": "Un message de 1 à {max} caractères, sans caractères de contrôle.",
        "en": "A message of 1 to {max} characters, without control characters.",
    },
    "form.token": {
        "fr": "Ce jeton n'ouvre aucun compte de ce réseau.",
        "en": "This token opens no account on this network.",
    },
    "form.token_other": {
        "fr": "Ce jeton est celui de @{handle}, pas de @{given}.",
        "en": "This token belongs to @{handle}, not @{given}.",
    },
    "form.no_recipient": {
        "fr": "Un message privé va à quelqu'un : remplissez « À » ou mentionnez un compte.",
        "en": "A direct message goes to someone: fill in \u201cTo\u201d or mention an account.",
    },
    "form.unknown_account": {
        "fr": "Aucun compte @{handle} sur ce réseau.",
        "en": "No account @{handle} on this network.",
    },
}


class Translator:
    def __init__(self, locale: Locale) -> None:
        self.locale = locale

    def __call__(self, key: str, **params: Any) -> str:
        texts = TEXT.get(key)
        if texts is None:
            return key
        template = texts[self.locale]
        return (french(template, params) if self.locale == "fr" else template).format(**params)


@dataclass(frozen=True)
class PostView:
    """A post as a page shows it: who, when, to whom, its text with links."""

    id: str
    author_name: str
    author_handle: str
    when: str
    text: Markup
    direct: bool
    recipient_handle: str | None
    in_reply_to: str | None


class OriginError(Exception):
    """A POST from another site."""


def _linkify(text: str) -> Markup:
    """The text, escaped, with its web addresses as links (nothing else becomes markup)."""
    parts: list[str] = []
    last = 0
    for match in _URL.finditer(text):
        url = match.group().rstrip(".,;:!?)")
        end = match.start() + len(url)
        parts.append(str(escape(text[last : match.start()])))
        parts.append(f'<a href="{escape(url)}" rel="nofollow noreferrer">{escape(url)}</a>')
        last = end
    parts.append(str(escape(text[last:])))
    return Markup("".join(parts))  # noqa: S704 - every piece above is escaped


def _same_site(request: Request) -> None:
    """Browsers send ``Origin`` on every cross-site POST: it must be this host.
    (A client sending none is not a browser on another site.)"""
    origin = request.headers.get("origin")
    if origin is None:
        return
    host = request.headers.get("host", "")
    if origin == "null" or not host or urlsplit(origin).netloc.lower() != host.lower():
        raise OriginError


class _PageRoute(APIRoute):
    """Every refusal as one of this network's pages, never JSON or a stack trace."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except OriginError:
                return _error_page(request, "error.origin", 403)
            except (RequestValidationError, EnvoiError):
                return _error_page(request, "error.not_found", 404)
            except Exception:
                logger.exception("sandbox page failed: %s %s", request.method, request.url.path)
                return _error_page(request, "error.unexpected", 500)

        return guarded


def _locale(request: Request) -> Locale:
    return pick_locale(request.headers.get("accept-language"), "fr")


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers=_HEADERS)


def _error_page(request: Request, key: str, status: int) -> Response:
    _ = Translator(_locale(request))
    body = _env.get_template("error.html").render(
        _=_,
        locale=_.locale,
        css=_STYLE,
        me=None,
        path="",
        message=_(key),
    )
    return _html(body, status)


def _remember(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=COOKIE_MAX_AGE_S,
        path=COOKIE_PATH,
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )


def _forget(response: Response, request: Request) -> None:
    response.delete_cookie(
        COOKIE,
        path=COOKIE_PATH,
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )


Text = Annotated[str, Form()]


def create_sandbox_pages(
    network: SandboxNetwork,
    inbound: InboundPort,
    bot_handle: str,
    *,
    timezone: str = "Europe/Paris",
    wallet_link_url: str = "/wallet/link",
) -> APIRouter:
    """The network's pages; posts for ``bot_handle`` are delivered to ``inbound``."""
    if txt.handle_key(bot_handle) != txt.handle_key(network.bot_handle):
        raise ValueError(f"bot handle {bot_handle!r} != network's {network.bot_handle!r}")
    pages = _Pages(network, inbound, bot_handle, ZoneInfo(timezone), wallet_link_url)
    router = APIRouter(route_class=_PageRoute, include_in_schema=False)
    for path, method, endpoint in (
        ("", "GET", pages.index),
        ("/", "GET", pages.index),
        ("/accounts", "POST", pages.create_account),
        ("/signin", "POST", pages.sign_in),
        ("/signout", "POST", pages.sign_out),
        ("/post", "GET", pages.compose_form),
        ("/post", "POST", pages.publish),
        ("/timeline", "GET", pages.timeline),
        ("/inbox", "GET", pages.inbox),
        ("/posts/{post_id}", "GET", pages.post_page),
        ("/posts/{post_id}/replies", "GET", pages.replies_fragment),
    ):
        router.add_api_route(path, endpoint, methods=[method])
    return router


# (error code, field it came with or "") -> (form field, text key)
_REFUSALS: dict[tuple[ErrorCode, str], tuple[str, str]] = {
    (ErrorCode.INVALID_HANDLE, ""): ("handle", "form.handle"),
    (ErrorCode.HANDLE_TAKEN, ""): ("handle", "form.handle_taken"),
    (ErrorCode.NOT_FOUND, "handle"): ("to", "form.unknown_account"),
    (ErrorCode.VALIDATION_ERROR, "display_name"): ("display_name", "form.name"),
    (ErrorCode.VALIDATION_ERROR, "to"): ("to", "form.no_recipient"),
    (ErrorCode.VALIDATION_ERROR, "text"): ("text", "form.text"),
}


def _refusal(exc: EnvoiError, _: Translator) -> tuple[str, str]:
    """(field, words) for a refusal of the network."""
    params = exc.params
    about = "handle" if exc.code is ErrorCode.NOT_FOUND and "handle" in params else ""
    if exc.code is ErrorCode.VALIDATION_ERROR:
        about = str(params.get("field", ""))
    field, key = _REFUSALS.get((exc.code, about), ("", "form.fix"))
    return field, _(key, handle=str(params.get("handle", ""))[:40], max=params.get("max", 500))


class _Pages:
    def __init__(
        self,
        network: SandboxNetwork,
        inbound: InboundPort,
        bot_handle: str,
        zone: ZoneInfo,
        wallet_link_url: str,
    ) -> None:
        self.network = network
        self.inbound = inbound
        self.bot_handle = bot_handle
        self.zone = zone
        self.wallet_link_url = wallet_link_url

    # --- helpers ------------------------------------------------------------------

    def signed_in(self, request: Request) -> tuple[SandboxAccount | None, str | None]:
        token = request.cookies.get(COOKIE)
        if not token or len(token) > _TOKEN_MAX:
            return None, None
        account = self.network.authenticate(token)
        return (account, token) if account else (None, None)

    def view(self, post: SandboxPost, locale: Locale) -> PostView:
        return PostView(
            id=post.id,
            author_name=post.author.display_name,
            author_handle=post.author.handle,
            when=str(format_datetime(post.created_at, "short", tzinfo=self.zone, locale=locale)),
            text=_linkify(post.text),
            direct=post.visibility == "direct",
            recipient_handle=post.recipient.handle if post.recipient else None,
            in_reply_to=post.in_reply_to,
        )

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        _ = Translator(_locale(request))
        context.setdefault("me", self.signed_in(request)[0])
        me = context["me"]
        # Never suggest that someone pay themselves: Bob's own pages name Alice instead.
        payee = "alice" if me is not None and me.handle.lower() == "bob" else "bob"
        context.setdefault("errors", {})
        context.setdefault("values", {"visibility": "public"})
        body = _env.get_template(name).render(
            _=_,
            locale=_.locale,
            css=_STYLE,
            path=request.url.path,
            bot=self.bot_handle,
            example=f"@{self.bot_handle} #envoyer 5€ @{payee}",
            wallet_link_url=self.wallet_link_url,
            **context,
        )
        return _html(body, status)

    # --- pages --------------------------------------------------------------------

    def index(self, request: Request) -> Response:
        return self.render(request, "home.html")

    def create_account(
        self, request: Request, *, handle: Text = "", display_name: Text = ""
    ) -> Response:
        _same_site(request)
        _ = Translator(_locale(request))
        values = {"handle": handle.strip(), "display_name": display_name.strip()}
        errors = {k: _("form.required") for k, v in values.items() if not v}
        if not errors:
            try:
                created = self.network.create_account(values["handle"], values["display_name"])
            except EnvoiError as exc:
                field, words = _refusal(exc, _)
                errors[field if field in values else ""] = words
            else:
                # Shown in this answer only: the token is never put in a URL or shown again.
                page = self.render(
                    request, "created.html", 201, me=created.account, token=created.token
                )
                _remember(page, request, created.token)
                return page
        return self.render(request, "home.html", 422, values=values, errors=errors)

    def sign_in(self, request: Request, *, token: Text = "") -> Response:
        _same_site(request)
        _ = Translator(_locale(request))
        token = token.strip()
        account = self.network.authenticate(token) if token else None
        if account is None:
            errors = {"token": _("form.token") if token else _("form.required")}
            return self.render(request, "home.html", 401, errors=errors, values={})
        response = RedirectResponse("/sandbox/", status_code=303, headers=_HEADERS)
        _remember(response, request, token)
        return response

    def sign_out(self, request: Request) -> Response:
        _same_site(request)
        response = RedirectResponse("/sandbox/", status_code=303, headers=_HEADERS)
        _forget(response, request)
        return response

    def compose_form(self, request: Request) -> Response:
        return self.render(request, "compose.html")

    def _poster(
        self, request: Request, handle: str, token: str, errors: dict[str, str]
    ) -> tuple[SandboxAccount | None, str | None]:
        """Who posts: the signed-in account, else the handle and token typed in the form."""
        me, remembered = self.signed_in(request)
        if me is not None:
            return me, remembered
        _ = Translator(_locale(request))
        if not handle:
            errors["handle"] = _("form.required")
        if not token:
            errors["token"] = _("form.required")
            return None, None
        me = self.network.authenticate(token)
        given = handle.removeprefix("@")
        if me is None:
            errors["token"] = _("form.token")
        elif given and txt.handle_key(given) != txt.handle_key(me.handle):
            errors["token"] = _("form.token_other", handle=me.handle, given=given)
        return me, token

    def publish(
        self,
        request: Request,
        *,
        text: Text = "",
        visibility: Text = "public",
        to: Text = "",
        handle: Text = "",
        token: Text = "",
    ) -> Response:
        _same_site(request)
        _ = Translator(_locale(request))
        session = self.signed_in(request)[0]  # signed in: the form had no handle or token
        direct = visibility == "direct"
        values = {
            "text": text,
            "visibility": "direct" if direct else "public",
            "to": to.strip(),
            "handle": handle.strip(),
        }
        errors: dict[str, str] = {}
        me, remembered = self._poster(request, values["handle"], token.strip(), errors)
        if not text.strip():
            errors["text"] = _("form.required")
        if errors or me is None or remembered is None:
            return self.render(
                request, "compose.html", 422, values=values, errors=errors, me=session
            )
        try:
            post = self.network.post(
                me.id,
                text,
                visibility="direct" if direct else "public",
                to=(values["to"] or None) if direct else None,
            )
        except EnvoiError as exc:
            field, words = _refusal(exc, _)
            errors[field if field in ("text", "to") else ""] = words
            return self.render(
                request, "compose.html", 422, values=values, errors=errors, me=session
            )
        # After the commit, as a real network's webhook would; on failure the post
        # stays pending and the catch-up worker (``deliver_pending``) sends it.
        self.network.deliver(post.id, self.inbound)
        response = RedirectResponse(
            f"/sandbox/posts/{post.id}?posted=1", status_code=303, headers=_HEADERS
        )
        _remember(response, request, remembered)
        return response

    def timeline(self, request: Request) -> Response:
        locale = _locale(request)
        posts = [self.view(p, locale) for p in self.network.timeline(100)]
        return self.render(request, "timeline.html", posts=posts)

    def inbox(self, request: Request) -> Response:
        me = self.signed_in(request)[0]
        locale = _locale(request)
        posts = [self.view(p, locale) for p in self.network.inbox(me.id, 100)] if me else []
        return self.render(request, "inbox.html", posts=posts, me=me)

    def _replies(
        self, request: Request, post_id: str
    ) -> tuple[SandboxAccount | None, SandboxPost, list[PostView]]:
        """The post and the replies this visitor may see: public ones, and their own."""
        me = self.signed_in(request)[0]
        post = self.network.get_post(post_id, me.id if me else None)
        if post is None:
            raise EnvoiError(ErrorCode.POST_NOT_FOUND)
        locale = _locale(request)
        seen = {p.id: p for p in self.network.timeline(200) if p.in_reply_to == post.id}
        if me is not None:
            mine = self.network.inbox(me.id, 200)
            seen |= {p.id: p for p in mine if p.in_reply_to == post.id}
        replies = sorted(seen.values(), key=lambda p: p.cursor)
        return me, post, [self.view(p, locale) for p in replies]

    def post_page(self, request: Request, post_id: str, posted: str | None = None) -> Response:
        me, post, replies = self._replies(request, post_id)
        return self.render(
            request,
            "post.html",
            post=self.view(post, _locale(request)),
            replies=replies,
            posted=posted == "1" and me is not None and post.author.id == me.id,
            me=me,
            replies_js=Markup(_REPLIES_JS),  # noqa: S704 - our own file (its hash is in the CSP)
        )

    def replies_fragment(self, request: Request, post_id: str) -> Response:
        """The replies alone, for the post page to show the bot's answer when it arrives."""
        me, _post, replies = self._replies(request, post_id)
        return self.render(request, "_replies.html", replies=replies, me=me)
