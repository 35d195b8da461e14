"""X's webhook CRC and signature, and OAuth 1.0a signing, against X's documented examples."""

from __future__ import annotations

import base64
import hashlib
import hmac

from envoi.adapters.networks.x.signing import (
    body_signature,
    crc_response,
    oauth1_signature,
    signature_valid,
)

SECRET = "consumer-secret-for-tests"


def test_crc_answer_is_sha256_base64_of_the_token() -> None:
    expected = base64.b64encode(
        hmac.new(SECRET.encode(), b"challenge-123", hashlib.sha256).digest()
    ).decode()
    assert crc_response(SECRET, "challenge-123") == {"response_token": f"sha256={expected}"}


def test_a_body_signed_with_our_secret_is_accepted_and_nothing_else() -> None:
    body = b'{"for_user_id":"1","tweet_create_events":[]}'
    header = body_signature(SECRET, body)
    assert signature_valid(SECRET, body, header)
    assert not signature_valid(SECRET, body + b" ", header)  # a byte changed
    assert not signature_valid("another secret", body, header)
    assert not signature_valid(SECRET, body, None)
    assert not signature_valid(SECRET, body, "")
    assert not signature_valid(SECRET, body, header.replace("sha256=", "sha1="))
    assert not signature_valid("", body, body_signature("", body))  # no secret: nothing holds


def test_oauth1_signature_matches_the_documented_example() -> None:
    # docs.x.com "Creating a signature" (the developer documentation's worked example).
    params = [
        ("include_entities", "true"),
        ("status", "Hello Ladies + Gentlemen, a signed OAuth request!"),
        ("oauth_consumer_key", "xvz1evFS4wEEPTGEFPHBog"),
        ("oauth_nonce", "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg"),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", "1318622958"),
        ("oauth_token", "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"),
        ("oauth_version", "1.0"),
    ]
    signature = oauth1_signature(
        "post",
        "https://api.twitter.com/1.1/statuses/update.json",
        params,
        "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
        "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
    )
    assert signature == "hCtSmYh+iHYCEqBWrE7C7hYmtUk="
