"""Render a message key or error code in the reader's language."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from envoi.domain.catalog_collecting import COLLECTING_ERRORS, COLLECTING_EVENTS
from envoi.domain.catalog_commands import COMMAND_MESSAGES
from envoi.domain.catalog_flow import EVENTS, FLOW_ERRORS
from envoi.domain.catalog_networks import NETWORK_ERRORS, NETWORK_EVENTS
from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.domain.model import LOCALES, Locale
from envoi.domain.typography import french
from envoi.money import Money

_CATALOG: dict[str, Mapping[str, str]] = {
    **{code.value: text for code, text in COMMAND_MESSAGES.items()},
    **{code.value: text for code, text in FLOW_ERRORS.items()},
    **{code.value: text for code, text in NETWORK_ERRORS.items()},
    **{code.value: text for code, text in COLLECTING_ERRORS.items()},
    **COLLECTING_EVENTS,
    **EVENTS,
    **NETWORK_EVENTS,
}


class _Lenient(dict[str, Any]):
    # A missing parameter must never turn a refusal into a crash.
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def pick_locale(value: str | None, default: Locale = "fr") -> Locale:
    """Best match among our locales for ``fr-FR``, ``en_GB``, an Accept-Language header…"""
    for part in (value or "").replace("_", "-").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        for locale in LOCALES:
            if tag == locale:
                return locale
    return default


def render(key: str | ErrorCode, locale: Locale, **params: Any) -> str:
    templates = _CATALOG.get(str(key))
    if templates is None:
        return str(key)
    template = templates.get(locale, templates["en"])
    if locale == "fr":
        template = french(template, params)
    return template.format_map(_Lenient(params))


def render_error(error: EnvoiError, locale: Locale, **extra: Any) -> str:
    params: dict[str, Any] = {**extra, **error.params}
    currency = str(params.get("currency", "EUR"))
    # ``limit_minor=25000`` is shown as ``limit`` = "250,00 €" in the reader's language.
    for key, value in list(params.items()):
        if key.endswith("_minor") and type(value) is int:
            params[key.removesuffix("_minor")] = Money(value, currency).format(locale)
    # A network's own wording when it has one (``INVALID_HANDLE.matrix``: a Matrix id
    # is not "1 to 15 letters").
    variant = f"{error.code.value}.{params.get('network')}"
    return render(variant if variant in _CATALOG else error.code, locale, **params)


def has_message(key: str | ErrorCode) -> bool:
    return str(key) in _CATALOG
