"""Replies to invalid commands, in French and English: what was wrong, and the right syntax.

Templates use one ``str.format`` field, ``{bot}`` (the bot's handle without the at sign).
Each stays under 280 characters once formatted with a 15-character handle, so it fits
a post reply.
"""

from __future__ import annotations

from envoi.domain.errors import ErrorCode

__all__ = ["COMMAND_MESSAGES", "PARSER_ERROR_CODES", "SYNTAX_HELP", "command_message"]

_SEND_FR = "@{bot} #envoyer 5€ @destinataire"
_SEND_EN = "@{bot} #send 5€ @recipient"
_POT_FR = "@{bot} #cagnotte 20€ #NomDeLaCagnotte"
_POT_EN = "@{bot} #pot 20€ #PotName"

COMMAND_MESSAGES: dict[ErrorCode, dict[str, str]] = {
    ErrorCode.MULTIPLE_COMMANDS: {
        "fr": "Une seule commande par message (#envoyer, #don, #demander ou #cagnotte). "
        f"Écrivez par exemple : {_SEND_FR}",
        "en": "Only one command per post (#send, #donate, #request or #pot). "
        f"Write for example: {_SEND_EN}",
    },
    ErrorCode.MISSING_PAYEE: {
        "fr": "Destinataire manquant (les mentions en tout début de message indiquent "
        f"à qui vous répondez). Écrivez par exemple : {_SEND_FR}",
        "en": "No recipient found (mentions at the very start of a post only show who "
        f"you reply to). Write for example: {_SEND_EN}",
    },
    ErrorCode.MULTIPLE_PAYEES: {
        "fr": f"Un seul destinataire par commande. Écrivez par exemple : {_SEND_FR}",
        "en": f"Only one recipient per command. Write for example: {_SEND_EN}",
    },
    ErrorCode.PAYEE_IS_BOT: {
        "fr": f"@{{bot}} ne reçoit pas de paiement : mentionnez le destinataire. {_SEND_FR}",
        "en": f"@{{bot}} cannot be paid: mention the recipient. {_SEND_EN}",
    },
    ErrorCode.SELF_PAYMENT: {
        "fr": f"Vous ne pouvez pas vous payer vous-même. Mentionnez quelqu'un d'autre : {_SEND_FR}",
        "en": f"You cannot pay yourself. Mention someone else: {_SEND_EN}",
    },
    ErrorCode.MISSING_AMOUNT: {
        "fr": "Montant manquant (un nombre seul ne suffit pas, ajoutez €). "
        f"Écrivez par exemple : {_SEND_FR}",
        "en": f"No amount found (a number alone is not enough, add €). "
        f"Write for example: {_SEND_EN}",
    },
    ErrorCode.MULTIPLE_AMOUNTS: {
        "fr": f"Un seul montant par commande. Écrivez par exemple : {_SEND_FR}",
        "en": f"Only one amount per command. Write for example: {_SEND_EN}",
    },
    ErrorCode.AMBIGUOUS_AMOUNT: {
        "fr": "Montant ambigu : 1,000€ peut vouloir dire 1 € ou 1 000 €. Écrivez 1000€, "
        "1 000€ ou 1,00€, par exemple : @{bot} #envoyer 1000€ @destinataire",
        "en": "Ambiguous amount: 1,000€ could mean €1 or €1000. Write 1000€, 1 000€ or "
        "1.00€, for example: @{bot} #send 1000€ @recipient",
    },
    ErrorCode.INVALID_AMOUNT: {
        "fr": "Montant illisible : des chiffres et €, sans lettres ni fourchette, comme "
        "5€ ou 5,50€. Écrivez par exemple : @{bot} #envoyer 5,50€ @destinataire",
        "en": "Unreadable amount: use digits and €, no letters or ranges, like 5€ or "
        "5.50€. Write for example: @{bot} #send 5.50€ @recipient",
    },
    ErrorCode.ZERO_AMOUNT: {
        "fr": f"Le montant doit être supérieur à zéro. Écrivez par exemple : {_SEND_FR}",
        "en": f"The amount must be more than zero. Write for example: {_SEND_EN}",
    },
    ErrorCode.SIGNED_AMOUNT: {
        "fr": f"Le montant s'écrit sans signe + ou -. Écrivez par exemple : {_SEND_FR}",
        "en": f"Write the amount without a + or - sign, for example: {_SEND_EN}",
    },
    ErrorCode.TOO_MANY_DECIMALS: {
        "fr": "Deux décimales au plus (les centimes). Écrivez par exemple : "
        "@{bot} #envoyer 5,50€ @destinataire",
        "en": "Two decimals at most (cents). Write for example: @{bot} #send 5.50€ @recipient",
    },
    ErrorCode.AMOUNT_TOO_LARGE: {
        "fr": "Montant trop élevé pour une commande. Vérifiez les chiffres, par exemple : "
        f"{_SEND_FR}",
        "en": f"That amount is too large for a command. Check the digits, for example: {_SEND_EN}",
    },
    ErrorCode.UNSUPPORTED_CURRENCY: {
        "fr": f"Seul l'euro est accepté (€ ou EUR). Écrivez par exemple : {_SEND_FR}",
        "en": f"Only euros are accepted (€ or EUR). Write for example: {_SEND_EN}",
    },
    ErrorCode.HIDDEN_CHARACTERS: {
        "fr": "Votre message contient des caractères invisibles (sans largeur ou de sens "
        f"d'écriture). Retapez la commande au clavier : {_SEND_FR}",
        "en": "Your post contains invisible characters (zero-width or text-direction "
        f"controls). Type the command again: {_SEND_EN}",
    },
    ErrorCode.LOOKALIKE_CHARACTERS: {
        "fr": "Le montant ou le destinataire contient des caractères trompeurs (pleine "
        "chasse, lettres cyrilliques ou grecques…). Retapez-les au clavier : "
        f"{_SEND_FR}",
        "en": "The amount or recipient contains look-alike characters (fullwidth, "
        f"Cyrillic or Greek letters…). Type them again: {_SEND_EN}",
    },
    ErrorCode.MISSING_POT: {
        "fr": f"Nommez la cagnotte par un second hashtag. Écrivez par exemple : {_POT_FR}",
        "en": f"Name the pot with a second hashtag. Write for example: {_POT_EN}",
    },
    ErrorCode.MULTIPLE_POTS: {
        "fr": f"Un seul hashtag de cagnotte par commande. Écrivez par exemple : {_POT_FR}",
        "en": f"Only one pot hashtag per command. Write for example: {_POT_EN}",
    },
}

# Every code the command parser can return.
PARSER_ERROR_CODES = frozenset(COMMAND_MESSAGES)

SYNTAX_HELP: dict[str, str] = {
    "fr": f"Payer : {_SEND_FR} · Don : @{{bot}} #don 10€ @association · "
    "Demander : @{bot} #demander 5€ @ami · "
    f"Cagnotte : {_POT_FR}",
    "en": f"Pay: {_SEND_EN} · Donate: @{{bot}} #donate 10€ @charity · "
    "Request: @{bot} #request 5€ @friend · "
    f"Pot: {_POT_EN}",
}


def command_message(code: ErrorCode, locale: str, bot: str) -> str:
    """The reply for ``code`` in ``locale`` (English when the locale is unknown)."""
    templates = COMMAND_MESSAGES[code]
    return templates.get(locale, templates["en"]).format(bot=bot.removeprefix("@"))
