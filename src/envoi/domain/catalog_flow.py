"""What envoi says to people about accounts and payments, in French and English.

Templates use ``str.format`` fields: {amount} {payee} {payer} {url} {bot} {minutes}
{limit} {reason} {pot}. Network replies stay well under 280 characters.
"""

from __future__ import annotations

from envoi.domain.errors import ErrorCode

FLOW_ERRORS: dict[ErrorCode, dict[str, str]] = {
    ErrorCode.MISSING_COMMAND: {
        "fr": "Rien n'est parti : il manque la commande, avec son # (#envoyer, #don, "
        "#demander ou #cagnotte). Écrivez par exemple : @{bot} #envoyer 5€ @destinataire",
        "en": "Nothing was sent: the command is missing, with its # (#send, #donate, "
        "#request or #pot). Write for example: @{bot} #send 5€ @recipient",
    },
    ErrorCode.VALIDATION_ERROR: {
        "fr": "Requête invalide : {reason}",
        "en": "Invalid request: {reason}",
    },
    ErrorCode.UNAUTHENTICATED: {
        "fr": "Connectez-vous pour continuer.",
        "en": "Please sign in to continue.",
    },
    ErrorCode.INVALID_CREDENTIALS: {
        "fr": "E-mail ou mot de passe incorrect.",
        "en": "Wrong e-mail or password.",
    },
    ErrorCode.TOO_MANY_ATTEMPTS: {
        "fr": "Trop de tentatives de connexion. Par sécurité, réessayez dans {retry_after_s} s.",
        "en": "Too many sign-in attempts. For your security, try again in {retry_after_s} s.",
    },
    ErrorCode.TOO_MANY_SIGNUPS: {
        "fr": "Trop de comptes ouverts depuis cette connexion. Réessayez dans {minutes} min.",
        "en": "Too many accounts opened from this connection. Try again in {minutes} min.",
    },
    ErrorCode.EMAIL_TAKEN: {
        "fr": "Un compte existe déjà avec cet e-mail.",
        "en": "An account with this e-mail already exists.",
    },
    ErrorCode.NOT_FOUND: {"fr": "Introuvable.", "en": "Not found."},
    ErrorCode.FORBIDDEN: {"fr": "Action non autorisée.", "en": "You may not do that."},
    ErrorCode.INVALID_PIN_FORMAT: {
        "fr": "Le code secret doit compter 4 à 6 chiffres.",
        "en": "The PIN must be 4 to 6 digits.",
    },
    ErrorCode.OBVIOUS_PIN: {
        "fr": "Ce code secret se devine trop facilement (chiffres répétés ou qui se suivent) : "
        "choisissez-en un autre.",
        "en": "This PIN is too easy to guess (repeated or consecutive digits): choose another.",
    },
    ErrorCode.PASSWORD_REQUIRED: {
        "fr": "Pour changer votre code secret, saisissez aussi votre mot de passe.",
        "en": "To change your PIN, enter your password too.",
    },
    ErrorCode.PIN_NOT_SET: {
        "fr": "Choisissez d'abord votre code secret dans le portefeuille.",
        "en": "Set your PIN in the wallet first.",
    },
    ErrorCode.WRONG_PIN: {
        "fr": "Code secret incorrect. Essais restants avant blocage : {remaining}.",
        "en": "Wrong PIN. Attempts left before it locks: {remaining}.",
    },
    ErrorCode.PIN_LOCKED: {
        "fr": "Trop d'essais : code secret bloqué pendant {minutes} min.",
        "en": "Too many attempts: PIN locked for {minutes} min.",
    },
    ErrorCode.UNKNOWN_NETWORK: {
        "fr": "Réseau inconnu : {network}.",
        "en": "Unknown network: {network}.",
    },
    ErrorCode.INVALID_NETWORK_TOKEN: {
        "fr": "Impossible de vérifier ce compte : autorisation refusée ou expirée.",
        "en": "Could not verify this account: authorisation refused or expired.",
    },
    ErrorCode.IDENTITY_ALREADY_LINKED: {
        "fr": "Ce compte de réseau social est déjà relié à un portefeuille.",
        "en": "This social account is already linked to a wallet.",
    },
    ErrorCode.HANDLE_TAKEN: {"fr": "Ce nom est déjà pris.", "en": "This handle is taken."},
    ErrorCode.INVALID_HANDLE: {
        "fr": "Nom invalide : 1 à 15 lettres, chiffres ou _.",
        "en": "Invalid handle: 1 to 15 letters, digits or _.",
    },
    ErrorCode.INVALID_DISPLAY_NAME: {
        "fr": "Nom invalide : 1 à 100 caractères visibles, sans caractère de contrôle ni "
        "mélange d'alphabets (comme un В cyrillique dans un nom latin).",
        "en": "Invalid name: 1 to 100 visible characters, no control characters and no mix "
        "of alphabets (such as a Cyrillic В in a Latin name).",
    },
    ErrorCode.INVALID_HASHTAG: {
        "fr": "Hashtag invalide : 2 à 50 lettres, chiffres ou _ sans accent, pas seulement "
        "des chiffres (par exemple AnnivJulie).",
        "en": "Invalid hashtag: 2 to 50 unaccented letters, digits or _, not only digits "
        "(for example JuliesBirthday).",
    },
    ErrorCode.HASHTAG_TAKEN: {
        "fr": "Une cagnotte #{hashtag} existe déjà : choisissez un autre hashtag.",
        "en": "A pot #{hashtag} already exists: choose another hashtag.",
    },
    ErrorCode.POST_NOT_FOUND: {"fr": "Message introuvable.", "en": "Post not found."},
    ErrorCode.PAYER_NOT_MEMBER: {
        "fr": "Pour payer avec @{bot}, ouvrez un portefeuille et reliez ce compte : {url}",
        "en": "To pay with @{bot}, open a wallet and link this account: {url}",
    },
    ErrorCode.REQUESTEE_NOT_MEMBER: {
        "fr": "@{payee} n'a pas encore de portefeuille : impossible de lui demander un paiement.",
        "en": "@{payee} has no wallet yet, so they cannot be asked to pay.",
    },
    ErrorCode.UNKNOWN_PAYEE: {
        "fr": "Le compte @{payee} n'existe pas. Vérifiez le nom du destinataire.",
        "en": "There is no account @{payee}. Check the recipient's name.",
    },
    ErrorCode.PAYEE_NOT_ORGANISATION: {
        "fr": "@{payee} n'est pas une association vérifiée : utilisez #envoyer pour un proche.",
        "en": "@{payee} is not a verified organisation: use #send to pay a person.",
    },
    ErrorCode.UNKNOWN_POT: {
        "fr": "Aucune cagnotte #{pot}. Vérifiez le hashtag de la cagnotte.",
        "en": "No pot #{pot}. Check the pot's hashtag.",
    },
    ErrorCode.INSUFFICIENT_FUNDS: {
        "fr": "Solde insuffisant. Rechargez votre portefeuille : {url}",
        "en": "Not enough money in your wallet. Top up: {url}",
    },
    ErrorCode.LIMIT_PER_PAYMENT: {
        "fr": "Montant au-dessus du plafond par paiement ({limit}).",
        "en": "Amount above the per-payment limit ({limit}).",
    },
    ErrorCode.LIMIT_DAILY: {
        "fr": "Plafond journalier atteint ({limit} sur 24 h).",
        "en": "Daily limit reached ({limit} per 24 h).",
    },
    ErrorCode.LIMIT_MONTHLY: {
        "fr": "Plafond mensuel atteint ({limit} sur 30 jours).",
        "en": "Monthly limit reached ({limit} per 30 days).",
    },
    ErrorCode.RATE_LIMITED: {
        "fr": "Trop de commandes en peu de temps. Réessayez dans une minute.",
        "en": "Too many commands in a short time. Try again in a minute.",
    },
    ErrorCode.INTENT_NOT_FOUND: {"fr": "Paiement introuvable.", "en": "Payment not found."},
    ErrorCode.BUSY: {
        "fr": "Service très sollicité : rien n'a été fait, réessayez dans un instant.",
        "en": "envoi is very busy: nothing was done, try again in a moment.",
    },
    ErrorCode.INTENT_NOT_PENDING: {
        "fr": "Ce paiement n'attend plus de confirmation.",
        "en": "This payment is no longer awaiting confirmation.",
    },
    ErrorCode.INTENT_EXPIRED: {
        "fr": "Le délai de confirmation est dépassé.",
        "en": "The confirmation window has closed.",
    },
    ErrorCode.INTENT_MISMATCH: {
        "fr": "Le paiement a changé depuis son affichage : vérifiez-le à nouveau.",
        "en": "The payment differs from what was shown: check it again.",
    },
    ErrorCode.CARD_DECLINED: {
        "fr": "Carte refusée ({reason}).",
        "en": "Card declined ({reason}).",
    },
    ErrorCode.CARD_INVALID: {
        "fr": "Numéro de carte invalide.",
        "en": "Invalid card number.",
    },
    ErrorCode.CARD_EXPIRED: {"fr": "Carte expirée.", "en": "Card expired."},
    ErrorCode.IDEMPOTENCY_CONFLICT: {
        "fr": "Cette clé d'idempotence a déjà servi pour une autre demande.",
        "en": "This idempotency key was already used for a different request.",
    },
    ErrorCode.TOPUP_NOT_FOUND: {"fr": "Rechargement introuvable.", "en": "Top-up not found."},
    ErrorCode.TOPUP_UNAVAILABLE: {
        "fr": "Le rechargement par carte n'est pas proposé par ce service.",
        "en": "Card top-ups are not offered by this service.",
    },
    ErrorCode.TOPUP_LIMIT_DAILY: {
        "fr": "Plafond de rechargement atteint ({limit} sur 24 h).",
        "en": "Top-up limit reached ({limit} per 24 h).",
    },
    ErrorCode.TOPUP_LIMIT_MONTHLY: {
        "fr": "Plafond de rechargement atteint ({limit} sur 30 jours).",
        "en": "Top-up limit reached ({limit} per 30 days).",
    },
    ErrorCode.AMOUNT_OUT_OF_RANGE: {
        "fr": "Montant hors limites : entre {min} et {max}.",
        "en": "Amount out of range: between {min} and {max}.",
    },
    ErrorCode.TOPUP_NOT_REFUNDABLE: {
        "fr": "Ce rechargement n'est pas un paiement par carte abouti : rien à rembourser.",
        "en": "This top-up is not a completed card payment: nothing to refund.",
    },
    ErrorCode.REFUND_EXCEEDS_PAYMENT: {
        "fr": "Il ne reste que {refundable} à rembourser sur ce paiement par carte.",
        "en": "Only {refundable} of this card payment is left to refund.",
    },
    ErrorCode.REFUND_EXCEEDS_BALANCE: {
        "fr": "Le membre ne détient plus que {available} : {rest} ne peuvent pas être"
        " remboursés sur la carte.",
        "en": "The member only holds {available}: {rest} cannot be refunded to the card.",
    },
    ErrorCode.REFUND_REFUSED: {
        "fr": "Le prestataire de paiement a refusé le remboursement ({reason}).",
        "en": "The card processor refused the refund ({reason}).",
    },
    ErrorCode.REFUND_PENDING: {
        "fr": "Le prestataire de paiement n'a pas répondu : le remboursement {refund_id} reste"
        " en attente, son montant réservé jusqu'à ce qu'il soit repris (envoi psp refund"
        " --resume ; le worker le fait de lui-même).",
        "en": "The card processor did not answer: refund {refund_id} stays pending, its amount"
        " held until it is resumed (envoi psp refund --resume; the worker does it by itself).",
    },
    ErrorCode.RECEIVABLE_OUTSTANDING: {
        "fr": "Un impayé de {owed} doit d'abord être réglé.",
        "en": "An outstanding {owed} must be settled first.",
    },
}

# Notifications and network replies about a payment's life.
EVENTS: dict[str, dict[str, str]] = {
    # In the app, to the member themselves (no "@" greeting).
    "to_confirm": {
        "fr": "Paiement de {amount} à {payee} à confirmer avec votre code secret.",
        "en": "Payment of {amount} to {payee} to confirm with your PIN.",
    },
    "asked_to_pay": {
        "fr": "{payee} vous demande {amount} : à confirmer avec votre code secret.",
        "en": "{payee} asks you for {amount}: confirm with your PIN.",
    },
    "confirm_request": {
        "fr": "@{payer}, confirmez {amount} pour {payee} dans votre portefeuille : {url}",
        "en": "@{payer}, confirm {amount} to {payee} in your wallet: {url}",
    },
    "confirm_request_check": {
        "fr": "@{payer}, vérifiez qui est {payee} dans votre portefeuille avant de confirmer "
        "{amount} : {url}",
        "en": "@{payer}, check who {payee} is in your wallet before you confirm {amount}: {url}",
    },
    "confirm_request_check_discreet": {
        "fr": "@{payer}, vérifiez le destinataire dans votre portefeuille avant de confirmer : "
        "{url}",
        "en": "@{payer}, check the payee in your wallet before you confirm: {url}",
    },
    # Shown before the PIN (wallet page and API), one per ``PayeeWarning``.
    "payee_warning.handle_reassigned": {
        "fr": "Attention : @{handle} n'est plus le compte que vous avez payé auparavant, ou "
        "qu'un portefeuille avait relié, sous ce nom. Ce nom a pu changer de propriétaire : "
        "vérifiez qui c'est avant de confirmer.",
        "en": "Careful: @{handle} is no longer the account you paid before, or that a wallet "
        "had linked, under this name. The name may have changed hands: check who this is "
        "before you confirm.",
    },
    "payee_warning.new_account": {
        "fr": "Attention : le compte @{handle} a été ouvert sur le réseau il y a moins de "
        "{days} jours.",
        "en": "Careful: the account @{handle} was opened on the network less than {days} days ago.",
    },
    "payee_warning.lookalike_name": {
        "fr": "Attention : le nom affiché par @{handle} mélange des alphabets ou cache des "
        "caractères ; il peut imiter quelqu'un d'autre.",
        "en": "Careful: the name @{handle} shows mixes alphabets or hides characters; it may "
        "imitate someone else.",
    },
    "confirm_request_discreet": {
        "fr": "@{payer}, confirmez ce paiement dans votre portefeuille : {url}",
        "en": "@{payer}, confirm this payment in your wallet: {url}",
    },
    "payment_requested": {
        "fr": "@{payer}, {payee} vous demande {amount}. Confirmez dans votre portefeuille : {url}",
        "en": "@{payer}, {payee} asks you for {amount}. Confirm in your wallet: {url}",
    },
    "payment_requested_discreet": {
        "fr": "@{payer}, une demande de paiement vous attend dans votre portefeuille : {url}",
        "en": "@{payer}, a payment request awaits you in your wallet: {url}",
    },
    "settled": {
        "fr": "✅ {payer} a envoyé {amount} à {payee}.",
        "en": "✅ {payer} sent {amount} to {payee}.",
    },
    "settled_discreet": {"fr": "✅ Paiement effectué.", "en": "✅ Payment done."},
    "received": {
        "fr": "Vous avez reçu {amount} de {payer}.",
        "en": "You received {amount} from {payer}.",
    },
    "sent": {
        "fr": "Vous avez envoyé {amount} à {payee}.",
        "en": "You sent {amount} to {payee}.",
    },
    "claimable": {
        "fr": "@{payee}, {payer} vous a envoyé {amount}. "
        "Ouvrez un portefeuille pour le recevoir : {url}",
        "en": "@{payee}, {payer} sent you {amount}. Open a wallet to receive it: {url}",
    },
    "claimable_discreet": {
        "fr": "@{payee}, de l'argent vous attend. Ouvrez un portefeuille pour le recevoir : {url}",
        "en": "@{payee}, money is waiting for you. Open a wallet to receive it: {url}",
    },
    "held_for_payee": {
        "fr": "{amount} pour {payee} sont réservés jusqu'à ce que {payee} ouvre un portefeuille.",
        "en": "{amount} for {payee} is held until {payee} opens a wallet.",
    },
    "claimed": {
        "fr": "Vous avez reçu {amount} de {payer}, qui vous attendaient.",
        "en": "You received {amount} from {payer} that was waiting for you.",
    },
    "claimed_by_payee": {
        "fr": "{payee} a reçu vos {amount}.",
        "en": "{payee} received your {amount}.",
    },
    "refunded": {
        "fr": "{payee} n'a pas réclamé vos {amount} : ils sont revenus dans votre portefeuille.",
        "en": "{payee} did not claim your {amount}: it is back in your wallet.",
    },
    "expired": {
        "fr": "Paiement de {amount} à {payee} non confirmé à temps : rien n'a été débité.",
        "en": "Payment of {amount} to {payee} was not confirmed in time: nothing was taken.",
    },
    "cancelled": {
        "fr": "Paiement de {amount} à {payee} annulé : rien n'a été débité.",
        "en": "Payment of {amount} to {payee} cancelled: nothing was taken.",
    },
    "pin_locked": {
        "fr": "Code secret bloqué {minutes} min après plusieurs erreurs. Si ce n'était pas vous, "
        "changez votre mot de passe.",
        "en": "PIN locked for {minutes} min after repeated mistakes. If this was not you, "
        "change your password.",
    },
    "pin_changed": {
        "fr": "Votre code secret a été changé. Si ce n'était pas vous, contactez-nous.",
        "en": "Your PIN was changed. If this was not you, contact us.",
    },
    "request_expired": {
        "fr": "{payer} n'a pas répondu à temps à votre demande de {amount}.",
        "en": "{payer} did not answer your request for {amount} in time.",
    },
    "request_cancelled": {
        "fr": "Votre demande de {amount} à {payer} est annulée.",
        "en": "Your request for {amount} from {payer} was cancelled.",
    },
    "topup_succeeded": {
        "fr": "Rechargement de {amount} réussi.",
        "en": "Top-up of {amount} succeeded.",
    },
    "topup_declined": {
        "fr": "Rechargement de {amount} refusé ({reason}).",
        "en": "Top-up of {amount} declined ({reason}).",
    },
    "card_refunded": {
        "fr": "{amount} de votre rechargement par carte vous ont été remboursés sur la carte.",
        "en": "{amount} of your card top-up was refunded to the card.",
    },
    "card_refund_failed": {
        "fr": "Le remboursement de {amount} sur votre carte a échoué : le montant est de retour"
        " dans votre portefeuille.",
        "en": "The refund of {amount} to your card failed: the amount is back in your wallet.",
    },
    "card_dispute_opened": {
        "fr": "Votre banque conteste un rechargement par carte : {amount} sont bloqués"
        " jusqu'à sa décision.",
        "en": "Your bank disputes a card top-up: {amount} is held until it decides.",
    },
    "card_dispute_lost": {
        "fr": "La contestation du rechargement de {amount} est tranchée : le montant est repris.",
        "en": "The dispute over the {amount} top-up is decided: the amount is taken back.",
    },
    "card_dispute_won": {
        "fr": "La contestation du rechargement de {amount} est close : le montant vous reste.",
        "en": "The dispute over the {amount} top-up is closed: the amount stays yours.",
    },
    "invalid_command": {
        "fr": "Commande non exécutée : {reason}",
        "en": "Command not carried out: {reason}",
    },
}

# Card processors' decline codes (Stripe's names), in words.
DECLINE_REASONS: dict[str, dict[str, str]] = {
    "card_declined": {"fr": "carte refusée par la banque", "en": "declined by the bank"},
    "insufficient_funds": {"fr": "provision insuffisante", "en": "insufficient funds"},
    "incorrect_number": {"fr": "numéro de carte incorrect", "en": "incorrect card number"},
    "expired_card": {"fr": "carte expirée", "en": "card expired"},
    "incorrect_cvc": {"fr": "cryptogramme incorrect", "en": "incorrect security code"},
    "invalid_expiry_month": {"fr": "date d'expiration invalide", "en": "invalid expiry date"},
    "invalid_expiry_year": {"fr": "date d'expiration invalide", "en": "invalid expiry date"},
    "authentication_failed": {
        "fr": "authentification 3-D Secure échouée",
        "en": "3-D Secure authentication failed",
    },
    "processing_error": {
        "fr": "erreur du processeur de paiement, réessayez",
        "en": "payment processor error, try again",
    },
    "lost_card": {"fr": "carte déclarée perdue", "en": "card reported lost"},
    "stolen_card": {"fr": "carte déclarée volée", "en": "card reported stolen"},
    "abandoned": {"fr": "paiement jamais abouti", "en": "payment never completed"},
}
