"""The web wallet's own words, in French and English.

Error texts come from ``envoi.domain.messages`` (one catalogue for the API, the
network replies and these pages); this module holds only what the pages say.
Language: the member's own locale, else the visitor's choice (a cookie set by
the switch), else Accept-Language, else French.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from envoi.domain.messages import pick_locale
from envoi.domain.model import LOCALES, Locale
from envoi.domain.typography import french

STRINGS: dict[str, dict[Locale, str]] = {
    # layout
    "brand.tagline": {"fr": "Payer en un message", "en": "Pay with a post"},
    "nav.wallet": {"fr": "Portefeuille", "en": "Wallet"},
    "nav.topup": {"fr": "Recharger", "en": "Top up"},
    "nav.link": {"fr": "Comptes reliés", "en": "Linked accounts"},
    "nav.pots": {"fr": "Cagnottes", "en": "Pots"},
    "nav.settings": {"fr": "Réglages", "en": "Settings"},
    "nav.logout": {"fr": "Se déconnecter", "en": "Sign out"},
    "nav.login": {"fr": "Se connecter", "en": "Sign in"},
    "nav.signup": {"fr": "Ouvrir un portefeuille", "en": "Open a wallet"},
    "nav.skip": {"fr": "Aller au contenu", "en": "Skip to content"},
    "lang.switch": {"fr": "English", "en": "Français"},
    "lang.switch_label": {"fr": "Switch to English", "en": "Passer en français"},
    "when": {"fr": "{date} à {time}", "en": "{date}, {time}"},
    "banner.sandbox": {
        "fr": "Sandbox : argent et comptes de test, rien de réel ne bouge.",
        "en": "Sandbox: test money and accounts, nothing real moves.",
    },
    "footer.sandbox": {
        "fr": "Démonstration : réseau social et paiements par carte de test (sandbox).",
        "en": "Demo: test (sandbox) social network and card payments.",
    },
    # landing
    "landing.title": {
        "fr": "Envoyez de l'argent en publiant un message",
        "en": "Send money by posting a message",
    },
    "landing.lead": {
        "fr": "Mentionnez @{bot} sur votre réseau social avec un montant et un destinataire. "
        "Rien ne part tant que vous n'avez pas confirmé avec votre code secret.",
        "en": "Mention @{bot} on your social network with an amount and a recipient. "
        "Nothing leaves your wallet until you confirm with your PIN.",
    },
    "landing.example": {"fr": "Par exemple :", "en": "For example:"},
    "landing.step1": {
        "fr": "Ouvrez votre portefeuille et reliez votre compte de réseau social.",
        "en": "Open your wallet and link your social account.",
    },
    "landing.step2": {
        "fr": "Publiez la commande : envoyer, faire un don, demander, cagnotte.",
        "en": "Post the command: send, donate, request, pot.",
    },
    "landing.step3": {
        "fr": "Vérifiez le destinataire et le montant, puis confirmez avec votre code secret.",
        "en": "Check the recipient and the amount, then confirm with your PIN.",
    },
    "landing.steps": {"fr": "Comment ça marche", "en": "How it works"},
    "landing.to_wallet": {"fr": "Mon portefeuille", "en": "My wallet"},
    "landing.try_sandbox": {
        "fr": "Essayer avec le réseau de démonstration",
        "en": "Try it with the demo network",
    },
    "landing.try_sandbox_lead": {
        "fr": "Pas besoin de compte X ni Mastodon : créez un compte sur notre petit réseau "
        "social de test, reliez-le à votre portefeuille et publiez une commande.",
        "en": "No X or Mastodon account needed: create an account on our small test social "
        "network, link it to your wallet and post a command.",
    },
    "landing.have_account": {"fr": "Déjà un portefeuille ?", "en": "Already have a wallet?"},
    # forms
    "form.email": {"fr": "E-mail", "en": "E-mail"},
    "form.password": {"fr": "Mot de passe", "en": "Password"},
    "form.password_hint": {"fr": "8 caractères au moins.", "en": "At least 8 characters."},
    "form.display_name": {"fr": "Votre nom", "en": "Your name"},
    "form.display_name_hint": {
        "fr": "Affiché à ceux qui vous paient.",
        "en": "Shown to the people who pay you.",
    },
    "form.language": {"fr": "Langue", "en": "Language"},
    "form.required": {"fr": "Champ obligatoire.", "en": "This field is required."},
    "form.invalid_email": {"fr": "Adresse e-mail invalide.", "en": "Invalid e-mail address."},
    "form.email_lookalike": {
        "fr": "Adresse e-mail invalide : avant le @, seulement des lettres latines sans accent, "
        "des chiffres et . _ + - ; le domaine dans un seul alphabet.",
        "en": "Invalid e-mail address: before the @, only unaccented Latin letters, digits "
        "and . _ + -; the domain in a single alphabet.",
    },
    "form.password_short": {
        "fr": "Le mot de passe doit compter 8 caractères au moins.",
        "en": "The password must be at least 8 characters.",
    },
    "form.csrf": {
        "fr": "Ce formulaire a expiré. Rechargez la page et recommencez.",
        "en": "This form has expired. Reload the page and try again.",
    },
    "form.fix": {
        "fr": "Corrigez les champs signalés.",
        "en": "Please correct the highlighted fields.",
    },
    "signup.title": {"fr": "Ouvrir un portefeuille", "en": "Open a wallet"},
    "signup.submit": {"fr": "Créer mon portefeuille", "en": "Create my wallet"},
    "login.title": {"fr": "Se connecter", "en": "Sign in"},
    "login.submit": {"fr": "Se connecter", "en": "Sign in"},
    "login.no_account": {"fr": "Pas encore de portefeuille ?", "en": "No wallet yet?"},
    "logout.title": {"fr": "Se déconnecter", "en": "Sign out"},
    "logout.done": {"fr": "Vous êtes déconnecté.", "en": "You are signed out."},
    # wallet
    "wallet.title": {"fr": "Mon portefeuille", "en": "My wallet"},
    "wallet.hello": {"fr": "Bonjour {name}", "en": "Hello {name}"},
    "wallet.available": {"fr": "Disponible", "en": "Available"},
    "wallet.balance": {"fr": "Solde", "en": "Balance"},
    "wallet.reserved": {
        "fr": "dont {amount} réservés pour des paiements à confirmer",
        "en": "of which {amount} held for payments to confirm",
    },
    "wallet.to_confirm": {"fr": "À confirmer", "en": "To confirm"},
    "wallet.to_confirm_none": {
        "fr": "Aucun paiement n'attend votre confirmation.",
        "en": "No payment is awaiting your confirmation.",
    },
    "wallet.review": {"fr": "Vérifier et confirmer", "en": "Review and confirm"},
    "wallet.history": {"fr": "Derniers mouvements", "en": "Latest activity"},
    "wallet.history_none": {"fr": "Aucun mouvement pour l'instant.", "en": "No activity yet."},
    "wallet.notifications": {"fr": "Notifications", "en": "Notifications"},
    "wallet.notifications_none": {"fr": "Rien de nouveau.", "en": "Nothing new."},
    "wallet.identities": {"fr": "Comptes reliés", "en": "Linked accounts"},
    "wallet.identities_none": {
        "fr": "Aucun compte relié : reliez-en un pour payer en publiant.",
        "en": "No linked account: link one to pay by posting.",
    },
    "wallet.no_pin": {
        "fr": "Choisissez votre code secret : il sert à confirmer chaque paiement.",
        "en": "Choose your PIN: you need it to confirm every payment.",
    },
    "wallet.set_pin": {"fr": "Choisir mon code secret", "en": "Choose my PIN"},
    "wallet.expires": {"fr": "à confirmer avant {when}", "en": "confirm before {when}"},
    "wallet.example_payee": {"fr": "@pseudo", "en": "@handle"},
    "wallet.how": {
        "fr": "Pour payer, publiez : {example}",
        "en": "To pay, post: {example}",
    },
    # movements
    "kind.send": {"fr": "Envoi", "en": "Payment"},
    "kind.donate": {"fr": "Don", "en": "Donation"},
    "kind.request": {"fr": "Demande de paiement", "en": "Payment request"},
    "kind.pot": {"fr": "Cagnotte", "en": "Pot"},
    "kind.topup": {"fr": "Rechargement par carte", "en": "Card top-up"},
    "dir.to": {"fr": "À {name}", "en": "To {name}"},
    "dir.from": {"fr": "De {name}", "en": "From {name}"},
    "state.awaiting_confirmation": {
        "fr": "En attente de confirmation",
        "en": "Awaiting confirmation",
    },
    "state.awaiting_payer": {"fr": "En attente de sa réponse", "en": "Awaiting their answer"},
    "state.sent": {"fr": "Envoyé", "en": "Sent"},
    "state.received": {"fr": "Reçu", "en": "Received"},
    "state.claimable": {
        "fr": "En attente que @{handle} ouvre un portefeuille",
        "en": "Waiting for @{handle} to open a wallet",
    },
    "state.claimed_out": {"fr": "Reçu par @{handle}", "en": "Received by @{handle}"},
    "state.refunded": {"fr": "Remboursé", "en": "Refunded"},
    "state.cancelled": {"fr": "Annulé", "en": "Cancelled"},
    "state.pledged": {
        "fr": "Promis (prélevé si la campagne réussit)",
        "en": "Pledged (taken if the campaign succeeds)",
    },
    "state.expired": {"fr": "Expiré", "en": "Expired"},
    "state.topup.succeeded": {"fr": "Crédité", "en": "Credited"},
    "state.topup.requires_action": {
        "fr": "En attente d'authentification 3-D Secure",
        "en": "Awaiting 3-D Secure authentication",
    },
    "state.topup.pending": {"fr": "En cours", "en": "Processing"},
    "state.topup.declined": {"fr": "Refusé", "en": "Declined"},
    # confirmation
    "intent.title": {"fr": "Confirmer le paiement", "en": "Confirm the payment"},
    "intent.title_done": {"fr": "Paiement", "en": "Payment"},
    "intent.to": {"fr": "Vous envoyez", "en": "You are sending"},
    "intent.sent": {"fr": "Vous avez envoyé", "en": "You sent"},
    "intent.asking": {"fr": "Vous demandez", "en": "You are asking for"},
    "intent.received": {"fr": "Vous avez reçu", "en": "You received"},
    "intent.recipient": {"fr": "Destinataire", "en": "Recipient"},
    "intent.asked_of": {"fr": "Demandé à", "en": "Asked of"},
    "intent.from": {"fr": "De la part de", "en": "From"},
    "intent.amount": {"fr": "Montant", "en": "Amount"},
    "intent.fee": {"fr": "Frais", "en": "Fee"},
    "intent.total": {"fr": "Total débité", "en": "Total debited"},
    "intent.kind": {"fr": "Type", "en": "Type"},
    "intent.status": {"fr": "État", "en": "Status"},
    "intent.created": {"fr": "Créé le", "en": "Created"},
    "intent.requested": {"fr": "Demandé le", "en": "Requested"},
    "intent.expires": {"fr": "À confirmer avant", "en": "Confirm before"},
    "intent.source": {"fr": "Origine", "en": "Source"},
    "intent.from_post": {"fr": "Message sur {network}", "en": "Post on {network}"},
    "intent.not_member": {
        "fr": "@{handle} n'a pas encore de portefeuille : l'argent l'attendra {days} jours, "
        "puis vous sera rendu.",
        "en": "@{handle} has no wallet yet: the money will wait {days} days for them, "
        "then come back to you.",
    },
    "intent.check": {
        "fr": "Vérifiez le destinataire et le montant avant de saisir votre code.",
        "en": "Check the recipient and the amount before entering your PIN.",
    },
    "intent.details": {"fr": "Détails du paiement", "en": "Payment details"},
    "intent.verified_org": {"fr": "Organisation vérifiée", "en": "Verified organisation"},
    "intent.legal_name": {"fr": "Nom officiel : {name}", "en": "Legal name: {name}"},
    "intent.pin": {"fr": "Code secret", "en": "PIN"},
    "intent.pin_hint": {"fr": "4 à 6 chiffres.", "en": "4 to 6 digits."},
    "intent.confirm": {"fr": "Confirmer et payer {amount}", "en": "Confirm and pay {amount}"},
    "intent.cancel": {"fr": "Annuler ce paiement", "en": "Cancel this payment"},
    "intent.confirmed": {"fr": "Paiement confirmé.", "en": "Payment confirmed."},
    "intent.cancelled": {
        "fr": "Paiement annulé : rien n'a été débité.",
        "en": "Payment cancelled: nothing was taken.",
    },
    "intent.payer_only_request": {
        "fr": "Seule la personne à qui vous demandez peut accepter, avec son code secret. "
        "Vous serez prévenu de sa réponse.",
        "en": "Only the person you asked can agree, with their PIN. "
        "You will be told of their answer.",
    },
    "intent.payer_only": {
        "fr": "Ce paiement attend la confirmation de la personne qui paie.",
        "en": "This payment is waiting for the payer's confirmation.",
    },
    "intent.back": {"fr": "Retour au portefeuille", "en": "Back to the wallet"},
    # top-up
    "topup.title": {"fr": "Recharger par carte", "en": "Top up by card"},
    "topup.amount": {"fr": "Montant (€)", "en": "Amount (€)"},
    "topup.amount_hint": {"fr": "Entre {min} et {max}.", "en": "Between {min} and {max}."},
    "topup.amount_invalid": {
        "fr": "Montant invalide : par exemple 20 ou 12,50.",
        "en": "Invalid amount: for example 20 or 12.50.",
    },
    "topup.card": {"fr": "Numéro de carte", "en": "Card number"},
    "topup.expiry": {"fr": "Expiration (MM/AA)", "en": "Expiry (MM/YY)"},
    "topup.expiry_invalid": {
        "fr": "Date d'expiration invalide : MM/AA.",
        "en": "Invalid expiry date: MM/YY.",
    },
    "topup.cvc": {"fr": "Cryptogramme (CVC)", "en": "Security code (CVC)"},
    "topup.submit": {"fr": "Recharger", "en": "Top up"},
    "topup.test_cards": {"fr": "Cartes de test (sandbox)", "en": "Test cards (sandbox)"},
    "topup.unavailable": {
        "fr": "Le rechargement par carte n'est pas proposé par ce service.",
        "en": "Card top-ups are not offered by this service.",
    },
    "topup.card_ok": {"fr": "acceptée", "en": "accepted"},
    "topup.card_3ds": {"fr": "authentification 3-D Secure", "en": "3-D Secure challenge"},
    "topup.card_declined": {"fr": "refusée", "en": "declined"},
    "topup.card_hint": {
        "fr": "N'importe quelle date future et n'importe quel CVC à 3 chiffres.",
        "en": "Any future date and any 3-digit CVC.",
    },
    "topup.done": {
        "fr": "{amount} ont été ajoutés à votre portefeuille.",
        "en": "{amount} was added to your wallet.",
    },
    "topup.declined": {"fr": "Carte refusée : {reason}", "en": "Card declined: {reason}"},
    "topup.auth_pending": {
        "fr": "Le résultat de l'authentification 3-D Secure n'est pas encore connu : "
        "il apparaîtra dans vos derniers mouvements.",
        "en": "The 3-D Secure result is not known yet: it will appear in your latest activity.",
    },
    "topup.see_wallet": {"fr": "Voir mon portefeuille", "en": "See my wallet"},
    "topup.stripe_note": {
        "fr": "Votre carte est saisie chez Stripe : envoi ne voit jamais son numéro.",
        "en": "Your card is entered at Stripe: envoi never sees its number.",
    },
    "topup.3ds_title": {"fr": "Authentification 3-D Secure", "en": "3-D Secure authentication"},
    "topup.3ds_wait": {
        "fr": "Votre banque vérifie que c'est bien vous qui payez…",
        "en": "Your bank is checking that it is really you paying…",
    },
    "topup.3ds_back": {"fr": "Retour au rechargement", "en": "Back to the top-up"},
    "topup.try_again": {
        "fr": "— Vous pouvez réessayer ci-dessous, avec la même carte ou une autre.",
        "en": "— You can try again below, with the same card or another.",
    },
    # decline reasons
    "decline.card_declined": {"fr": "la banque a refusé", "en": "the bank refused"},
    "decline.insufficient_funds": {"fr": "provision insuffisante", "en": "insufficient funds"},
    "decline.expired_card": {"fr": "carte expirée", "en": "expired card"},
    "decline.incorrect_cvc": {"fr": "cryptogramme incorrect", "en": "incorrect security code"},
    "decline.incorrect_number": {"fr": "numéro incorrect", "en": "incorrect number"},
    "decline.processing_error": {
        "fr": "erreur technique, réessayez",
        "en": "processing error, try again",
    },
    "decline.authentication_failed": {
        "fr": "authentification échouée",
        "en": "authentication failed",
    },
    "decline.other": {"fr": "refus de la banque", "en": "refused by the bank"},
    # link
    "link.title": {"fr": "Relier un compte", "en": "Link an account"},
    "link.lead": {
        "fr": "Reliez votre compte du réseau social pour payer en publiant. Le paiement est "
        "rattaché à l'identifiant permanent du compte, pas à son nom : si vous changez de nom, "
        "rien ne se perd.",
        "en": "Link your social account to pay by posting. Payments follow the account's "
        "permanent id, not its name: rename it and nothing is lost.",
    },
    "link.token": {"fr": "Jeton du compte sandbox", "en": "Sandbox account token"},
    "link.token_hint": {
        "fr": "Le jeton affiché à la création du compte sur le réseau de démonstration. "
        "Il prouve que le compte est à vous.",
        "en": "The token shown when the account was created on the demo network. "
        "It proves the account is yours.",
    },
    "link.no_account": {
        "fr": "Pas encore de compte sur le réseau de démonstration ?",
        "en": "No account on the demo network yet?",
    },
    "link.create_sandbox": {
        "fr": "Créez-en un en quelques secondes",
        "en": "Create one in a few seconds",
    },
    "link.submit": {"fr": "Relier ce compte", "en": "Link this account"},
    "link.oauth": {"fr": "Relier mon compte {network}", "en": "Link my {network} account"},
    "link.done": {"fr": "Compte @{handle} relié.", "en": "Account @{handle} linked."},
    "link.since": {"fr": "relié le {when}", "en": "linked on {when}"},
    # settings
    "settings.title": {"fr": "Réglages", "en": "Settings"},
    "settings.profile": {"fr": "Profil et confidentialité", "en": "Profile and privacy"},
    "settings.privacy": {"fr": "Confidentialité", "en": "Privacy"},
    "privacy.public": {"fr": "Public", "en": "Public"},
    "privacy.public_help": {
        "fr": "Le bot répond publiquement à votre message, avec le montant et le destinataire.",
        "en": "The bot replies publicly to your post, with the amount and the recipient.",
    },
    "privacy.discreet": {"fr": "Discret", "en": "Discreet"},
    "privacy.discreet_help": {
        "fr": "Le bot répond publiquement, sans montant ni destinataire.",
        "en": "The bot replies publicly, without the amount or the recipient.",
    },
    "privacy.private": {"fr": "Privé", "en": "Private"},
    "privacy.private_help": {
        "fr": "Jamais de réponse publique : tout passe par message privé et dans le portefeuille.",
        "en": "Never a public reply: everything goes by direct message and in the wallet.",
    },
    "privacy.rule": {
        "fr": "Entre deux personnes, le réglage le plus discret des deux l'emporte.",
        "en": "Between two people, the more private of their two settings wins.",
    },
    "settings.save": {"fr": "Enregistrer", "en": "Save"},
    "settings.saved": {"fr": "Réglages enregistrés.", "en": "Settings saved."},
    "settings.pin": {"fr": "Code secret", "en": "PIN"},
    "settings.pin_help": {
        "fr": "4 à 6 chiffres, demandés à chaque paiement. Ne le communiquez à personne.",
        "en": "4 to 6 digits, asked for every payment. Never share it.",
    },
    "settings.new_pin": {"fr": "Nouveau code secret", "en": "New PIN"},
    "settings.pin_again": {"fr": "Confirmez le code secret", "en": "Repeat the PIN"},
    "settings.pin_mismatch": {
        "fr": "Les deux codes ne sont pas identiques.",
        "en": "The two PINs differ.",
    },
    "settings.pin_password": {
        "fr": "Mot de passe (pour changer le code)",
        "en": "Password (to change the PIN)",
    },
    "settings.pin_submit": {"fr": "Enregistrer le code secret", "en": "Save the PIN"},
    "settings.pin_saved": {"fr": "Code secret enregistré.", "en": "PIN saved."},
    "settings.pin_set": {"fr": "Un code secret est défini.", "en": "A PIN is set."},
    # pots
    # a pot's public page
    "pot.by": {"fr": "une cagnotte de {owner}", "en": "a pot by {owner}"},
    "pot.campaign": {
        "fr": "Tout ou rien : rien n'est prélevé si l'objectif n'est pas atteint",
        "en": "All or nothing: nobody is charged if the goal is missed",
    },
    "pot.goal": {"fr": "Objectif : {goal}", "en": "Goal: {goal}"},
    "pot.contributors": {"fr": "Participants : {count}", "en": "Contributors: {count}"},
    "pot.paid_out": {"fr": "Déjà reversé : {amount}", "en": "Paid out so far: {amount}"},
    "receipts.title": {"fr": "Mes reçus fiscaux", "en": "My tax receipts"},
    "receipts.none": {"fr": "Aucun reçu fiscal.", "en": "No tax receipts."},
    "receipts.summary": {"fr": "Récapitulatif {year} (PDF)", "en": "{year} summary (PDF)"},
    "receipts.cancelled": {"fr": "annulé et remplacé", "en": "cancelled and replaced"},
    "pot.closes": {"fr": "Se termine le {when}", "en": "Ends {when}"},
    "pot.outcome.succeeded": {"fr": "Objectif atteint !", "en": "Goal reached!"},
    "pot.outcome.failed": {
        "fr": "Objectif manqué : personne n'a été prélevé.",
        "en": "Goal missed: nobody was charged.",
    },
    "pot.by_post": {"fr": "Participer par un message :", "en": "Contribute with a post:"},
    "pot.amount": {"fr": "Montant (€)", "en": "Amount (€)"},
    "pot.show_name": {
        "fr": "Afficher mon nom sur la cagnotte",
        "en": "Show my name on the pot",
    },
    "pot.contribute": {"fr": "Participer", "en": "Contribute"},
    "pot.sign_in": {
        "fr": "Connectez-vous pour participer depuis cette page",
        "en": "Sign in to contribute from this page",
    },
    "pot.closed": {"fr": "Cette cagnotte est close.", "en": "This pot is closed."},
    "pot.share": {"fr": "Partager :", "en": "Share:"},
    # an organisation's public page
    "org.verified": {"fr": "Association vérifiée", "en": "Verified organisation"},
    "org.unverified": {
        "fr": "Pas encore vérifiée : dons impossibles",
        "en": "Not verified yet: no donations",
    },
    "org.how_to_give": {"fr": "Pour donner, publiez :", "en": "To give, post:"},
    "org.tax_receipts": {
        "fr": "Chaque don reçoit un reçu fiscal, dans votre portefeuille.",
        "en": "Each donation gets a tax receipt, in your wallet.",
    },
    "org.recent": {"fr": "Derniers dons", "en": "Recent donations"},
    "org.anonymous": {"fr": "Anonyme", "en": "Anonymous"},
    "org.no_donations": {"fr": "Aucun don pour l'instant.", "en": "No donations yet."},
    "pots.title": {"fr": "Créer une cagnotte", "en": "Create a pot"},
    "pots.lead": {
        "fr": "Une cagnotte a son propre hashtag : chacun y participe en publiant {example}",
        "en": "A pot has its own hashtag: anyone chips in by posting {example}",
    },
    "pots.hashtag": {"fr": "Hashtag", "en": "Hashtag"},
    "pots.hashtag_hint": {
        "fr": "Lettres, chiffres ou _, sans espace (ex. AnnivJulie).",
        "en": "Letters, digits or _, no spaces (e.g. JuliesBirthday).",
    },
    "pots.pot_title": {"fr": "Titre", "en": "Title"},
    "pots.goal": {"fr": "Objectif (€, facultatif)", "en": "Goal (€, optional)"},
    "pots.submit": {"fr": "Créer la cagnotte", "en": "Create the pot"},
    "pots.created": {
        "fr": "Cagnotte #{tag} créée. Pour y participer : {example}",
        "en": "Pot #{tag} created. To chip in: {example}",
    },
    # errors
    "error.title": {"fr": "Un problème est survenu", "en": "Something went wrong"},
    "error.not_found": {"fr": "Page introuvable.", "en": "Page not found."},
    "error.unexpected": {
        "fr": "Une erreur inattendue s'est produite. Réessayez dans un instant.",
        "en": "An unexpected error occurred. Please try again in a moment.",
    },
    "error.home": {"fr": "Retour à l'accueil", "en": "Back to the home page"},
}

DECLINES = frozenset(k.removeprefix("decline.") for k in STRINGS if k.startswith("decline."))


class _Lenient(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class Translator:
    """``_("wallet.title")`` in templates; a missing key shows itself rather than crashing."""

    def __init__(self, locale: Locale) -> None:
        self.locale = locale

    def __call__(self, key: str, **params: Any) -> str:
        texts: Mapping[Locale, str] | None = STRINGS.get(key)
        if texts is None:
            return key
        template = texts.get(self.locale, texts["fr"])
        if self.locale == "fr":
            template = french(template, params)
        return template.format_map(_Lenient(params))


def as_locale(value: str | None) -> Locale | None:
    for locale in LOCALES:
        if value == locale:
            return locale
    return None


def choose_locale(
    member_locale: Locale | None, chosen: str | None, accept_language: str | None
) -> Locale:
    if member_locale is not None:
        return member_locale
    return as_locale(chosen) or pick_locale(accept_language, "fr")


def decline_reason(code: str | None, locale: Locale) -> str:
    key = code if code in DECLINES else "other"
    return Translator(locale)(f"decline.{key}")
