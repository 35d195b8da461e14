"""What envoi says about linking network accounts, in French and English."""

from __future__ import annotations

from envoi.domain.errors import ErrorCode

NETWORK_ERRORS: dict[ErrorCode, dict[str, str]] = {
    ErrorCode.NETWORK_USER_NOT_FOUND: {
        "fr": "Aucun compte {handle} sur {network}.",
        "en": "No account {handle} on {network}.",
    },
}

NETWORK_EVENTS: dict[str, dict[str, str]] = {
    # How each network writes a person, when the one given is not (``render_error``
    # picks ``<code>.<network>`` over ``<code>``).
    "INVALID_HANDLE.matrix": {
        "fr": "Identifiant Matrix invalide : @nom:serveur, 255 caractères au plus "
        "(par exemple @bob:example.org).",
        "en": "Invalid Matrix id: @name:server, at most 255 characters "
        "(for example @bob:example.org).",
    },
    "INVALID_HANDLE.bluesky": {
        "fr": "Pseudo Bluesky invalide : un nom de domaine, 253 caractères au plus "
        "(par exemple @bob.bsky.social).",
        "en": "Invalid Bluesky handle: a domain name, at most 253 characters "
        "(for example @bob.bsky.social).",
    },
    "INVALID_HANDLE.mastodon": {
        "fr": "Compte Mastodon invalide : @nom@instance (par exemple @bob@mastodon.social).",
        "en": "Invalid Mastodon account: @name@instance (for example @bob@mastodon.social).",
    },
    "link_instructions": {
        "fr": "Depuis ce compte {network}, envoyez à @{bot} un message privé contenant "
        "exactement : {code} (valable {minutes} min). Ce compte sera alors relié à "
        "votre portefeuille.",
        "en": "From that {network} account, send @{bot} a direct message containing "
        "exactly: {code} (valid for {minutes} min). That account will then be linked to "
        "your wallet.",
    },
    "identity_linked": {
        "fr": "✅ Compte {network} @{handle} relié à votre portefeuille.",
        "en": "✅ {network} account @{handle} linked to your wallet.",
    },
    "link_refused": {
        "fr": "Ce code de liaison n'est pas valable pour ce compte, a déjà servi ou a "
        "expiré. Demandez-en un nouveau : {url}",
        "en": "This link code is not valid for this account, was already used or has "
        "expired. Ask for a new one: {url}",
    },
}
