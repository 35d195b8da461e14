"""An organisation's legal identifiers, checked before anyone may rely on them.

SIREN (9 digits) and SIRET (14 digits) carry a Luhn check digit (``python-stdnum``);
an RNA number (the register of associations) is ``W`` and nine digits and has none, so
its form is all that can be checked. IBANs are checked by ``schwifty`` (country
length, national format, ISO 7064 check digits).
"""

from __future__ import annotations

import re
from typing import Literal

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from stdnum.exceptions import ValidationError
from stdnum.fr import siren, siret

from envoi.domain.errors import EnvoiError, ErrorCode

RegistryKind = Literal["siren", "siret", "rna"]
_RNA = re.compile(r"W\d{9}")


def check_registry_id(value: str) -> tuple[RegistryKind, str]:
    """(kind, compact form) of a SIREN, SIRET or RNA number; refused when its check
    digit or its form is wrong."""
    compact = re.sub(r"[\s.\-]", "", value).upper()
    try:
        if _RNA.fullmatch(compact):
            return "rna", compact
        if len(compact) == 9:
            return "siren", siren.validate(compact)
        if len(compact) == 14:
            return "siret", siret.validate(compact)
    except ValidationError:
        pass
    raise EnvoiError(ErrorCode.INVALID_REGISTRY_ID, registry_id=value[:40])


def check_iban(value: str) -> str:
    """The IBAN in its compact form (``FR7630006000011234567890189``), or refused."""
    try:
        return IBAN(value).compact
    except (SchwiftyException, ValueError):
        raise EnvoiError(ErrorCode.INVALID_IBAN) from None


def check_bic(value: str) -> str:
    try:
        return str(BIC(value).compact)
    except (SchwiftyException, ValueError):
        raise EnvoiError(ErrorCode.INVALID_IBAN) from None


def format_iban(iban: str) -> str:
    """Grouped by four, as printed on a bank statement."""
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


def masked_iban(iban: str) -> str:
    """For pages other people see: country, check digits and the last four."""
    return f"{iban[:4]} •••• {iban[-4:]}"
