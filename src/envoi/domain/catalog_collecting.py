"""What envoi says about organisations, donations and tax receipts, in French and English."""

from __future__ import annotations

from envoi.domain.errors import ErrorCode

COLLECTING_ERRORS: dict[ErrorCode, dict[str, str]] = {
    ErrorCode.INVALID_REGISTRY_ID: {
        "fr": "Numéro {registry_id} invalide : un SIREN (9 chiffres) ou un SIRET (14 chiffres) "
        "dont la clé de contrôle est juste, ou un numéro RNA (W suivi de 9 chiffres).",
        "en": "Invalid number {registry_id}: a SIREN (9 digits) or SIRET (14 digits) with a "
        "correct check digit, or an RNA number (W and 9 digits).",
    },
    ErrorCode.INVALID_IBAN: {
        "fr": "IBAN ou BIC invalide : vérifiez le pays, la longueur et la clé.",
        "en": "Invalid IBAN or BIC: check the country, the length and the check digits.",
    },
    ErrorCode.ORGANISATION_NOT_VERIFIED: {
        "fr": "{payee} n'est pas encore une association vérifiée par envoi : aucun don ne "
        "peut lui être fait pour l'instant. Rien n'a été prélevé.",
        "en": "{payee} is not yet an organisation verified by envoi: it cannot receive "
        "donations for now. Nothing was taken.",
    },
    ErrorCode.NOT_AN_ORGANISATION: {
        "fr": "Aucune association ne porte cet identifiant.",
        "en": "No organisation has this id.",
    },
    ErrorCode.RECEIPT_NOT_FOUND: {
        "fr": "Aucun reçu fiscal ne porte ce numéro.",
        "en": "No tax receipt has this number.",
    },
    ErrorCode.RECEIPT_ALREADY_CANCELLED: {
        "fr": "Ce reçu fiscal a déjà été annulé et remplacé.",
        "en": "This tax receipt was already cancelled and replaced.",
    },
    ErrorCode.NOT_A_DONATION: {
        "fr": "Ce paiement n'est pas un don en attente de confirmation.",
        "en": "This payment is not a donation awaiting confirmation.",
    },
    ErrorCode.POT_CLOSED: {
        "fr": "La cagnotte #{pot} est close : elle ne reçoit plus de participations.",
        "en": "The pot #{pot} is closed: it takes no more contributions.",
    },
    ErrorCode.POT_EMPTY: {
        "fr": "La cagnotte est vide : rien à reverser.",
        "en": "The pot is empty: nothing to pay out.",
    },
    ErrorCode.INVALID_CLOSING_DATE: {
        "fr": "La date de clôture doit être dans le futur, à moins d'un an (et une "
        "campagne en a une).",
        "en": "The closing date must be in the future, within a year (and a campaign needs one).",
    },
    ErrorCode.CAMPAIGN_RUNNING: {
        "fr": "La campagne n'a pas encore atteint son objectif à l'échéance : rien ne peut "
        "être reversé avant.",
        "en": "The campaign has not reached its goal by its deadline yet: nothing can be "
        "paid out before.",
    },
    ErrorCode.NOTHING_TO_BATCH: {
        "fr": "Aucun virement en attente : pas de fichier à créer.",
        "en": "No payout is waiting: no file to create.",
    },
    ErrorCode.BATCH_NOT_FOUND: {
        "fr": "Aucun lot de virements ne porte cet identifiant.",
        "en": "No payout batch has this id.",
    },
    ErrorCode.BATCH_ALREADY_EXECUTED: {
        "fr": "Ce lot de virements est déjà marqué exécuté.",
        "en": "This payout batch is already marked executed.",
    },
    ErrorCode.INVALID_STATUS_REPORT: {
        "fr": "Fichier de statut illisible (pain.002 attendu) : {reason}",
        "en": "Unreadable status report (a pain.002 was expected): {reason}",
    },
}

COLLECTING_EVENTS: dict[str, dict[str, str]] = {
    "receipt_issued": {
        "fr": "Votre reçu fiscal n° {number} pour votre don de {amount} à {payee} est prêt "
        "dans votre portefeuille.",
        "en": "Your tax receipt no. {number} for your {amount} donation to {payee} is ready "
        "in your wallet.",
    },
    "receipt_replaced": {
        "fr": "Votre reçu fiscal n° {old} est annulé et remplacé par le n° {number}.",
        "en": "Your tax receipt no. {old} is cancelled and replaced by no. {number}.",
    },
    "payout_executed": {
        "fr": "Votre virement de {amount} vers {iban} a été exécuté par la banque.",
        "en": "Your {amount} transfer to {iban} was executed by the bank.",
    },
    "payout_rejected": {
        "fr": "La banque a rejeté votre virement de {amount} vers {iban} (motif {reason}) : "
        "l'argent est revenu.",
        "en": "The bank rejected your {amount} transfer to {iban} (reason {reason}): the "
        "money is back.",
    },
    "pot_paid_out": {
        "fr": "La cagnotte #{pot} vous a reversé {amount}.",
        "en": "The pot #{pot} paid you {amount}.",
    },
    "campaign_succeeded": {
        "fr": "La campagne #{pot} a atteint son objectif : votre participation de {amount} "
        "est prélevée. Merci !",
        "en": "The campaign #{pot} reached its goal: your {amount} pledge is taken. Thank you!",
    },
    "campaign_failed": {
        "fr": "La campagne #{pot} n'a pas atteint son objectif : votre participation de "
        "{amount} est libérée, rien n'est prélevé.",
        "en": "The campaign #{pot} missed its goal: your {amount} pledge is released, "
        "nothing is taken.",
    },
}
