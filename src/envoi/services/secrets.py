"""Passwords, PINs and API tokens.

Passwords: argon2id (slow on purpose). PINs: 4–6 digits have too few values for
any slow hash to protect them offline, and a slow check would cap confirmations
per second, so a PIN is stored as HMAC-SHA-256 keyed with a secret that lives
outside the database (settings or a KMS), bound to the member id; the lockout
after repeated wrong PINs does the rest. API tokens are random and stored hashed.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from envoi.domain.errors import EnvoiError, ErrorCode

PIN_FORMAT = re.compile(r"[0-9]{4,6}")
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


def hash_password(password: str) -> str:
    return str(_hasher.hash(password))


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return bool(_hasher.verify(password_hash, password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def check_pin_format(pin: str) -> None:
    if not PIN_FORMAT.fullmatch(pin):
        raise EnvoiError(ErrorCode.INVALID_PIN_FORMAT)


def is_obvious_pin(pin: str) -> bool:
    """A PIN a thief tries first: one digit repeated (0000), a run up or down (1234,
    9876, 012345), or a pair repeated (1212, 696969). With 3 attempts before a lockout,
    these few are most of the risk."""
    steps = {int(b) - int(a) for a, b in itertools.pairwise(pin)}
    if len(steps) == 1 and steps <= {-1, 0, 1}:
        return True
    return len(pin) % 2 == 0 and pin == pin[:2] * (len(pin) // 2)


def check_new_pin(pin: str) -> None:
    """A PIN being chosen: the right format and not one of the obvious ones."""
    check_pin_format(pin)
    if is_obvious_pin(pin):
        raise EnvoiError(ErrorCode.OBVIOUS_PIN)


def hash_pin(key: bytes, member_id: str, pin: str) -> str:
    """Keyed hash of a PIN, bound to its member: the same PIN hashes apart for two members."""
    check_pin_format(pin)
    mac = hmac.new(key, f"pin:v1:{member_id}:{pin}".encode(), hashlib.sha256)
    return "hmac-sha256:v1:" + mac.hexdigest()


def verify_pin(key: bytes, member_id: str, pin: str, stored: str) -> bool:
    if not PIN_FORMAT.fullmatch(pin):
        return False
    return hmac.compare_digest(hash_pin(key, member_id, pin), stored)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_id(prefix: str) -> str:
    """Random, URL-safe, prefixed ids (``mem_…``, ``int_…``): unguessable and self-describing."""
    return f"{prefix}_{secrets.token_hex(10)}"
