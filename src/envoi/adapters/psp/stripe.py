"""The Stripe card processor: top-ups as PaymentIntents, with the official ``stripe`` library.

Card details never reach envoi: the wallet page turns them into a PaymentMethod with
Stripe.js, and envoi only ever sees its id (tests use Stripe's documented test
PaymentMethods, ``pm_card_visa`` and friends). Every create call carries an idempotency
key derived from envoi's own id, so a retried request is the same request at Stripe;
our id is also kept in the PaymentIntent's metadata (``envoi_topup``), which is how
webhooks and reconciliation map Stripe's objects back to ours.

3-D Secure: the PaymentIntent is created and confirmed at once with a ``return_url``
(``/wallet/topup/return``); a card that needs authentication comes back
``requires_action`` with ``next_action.redirect_to_url``, where the wallet sends the
cardholder, and the issuer sends them back to the return URL. With
``ENVOI_STRIPE__REDIRECT_3DS=false`` (servers without ``return_url``, like localstripe)
Stripe answers ``use_stripe_sdk`` instead, which Stripe.js completes in envoi's own
page (``handleNextAction``) before the same return.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import stripe
from stripe.params import PaymentIntentCreateParams

from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.money import Money
from envoi.services.ports import (
    BalanceEntry,
    CardDetails,
    CardToken,
    ChargeResult,
    ProcessorEvent,
    ProcessorPayment,
    RefundResult,
)

METADATA_KEY = "envoi_topup"
REFUND_METADATA_KEY = "envoi_refund"
# No answer, or none to trust (after the library's own retries, same idempotency key):
# the request may or may not have been carried out.
_UNANSWERED = (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError)
_PAGE = 100  # Stripe's largest list page


def _get(obj: Any, key: str) -> Any:
    """A field of a Stripe object or plain dict (events carry dicts), None when absent."""
    if obj is None:
        return None
    if isinstance(obj, stripe.StripeObject):
        return obj[key] if key in obj else None  # noqa: SIM401 - not a dict: no .get()
    if isinstance(obj, dict):
        return obj.get(key)
    return None


def _id(obj: Any) -> str | None:
    """An expandable field: an id, or the expanded object."""
    if obj is None or isinstance(obj, str):
        return obj
    value = _get(obj, "id")
    return str(value) if value is not None else None


def _when(ts: Any) -> datetime:
    return datetime.fromtimestamp(int(ts or 0), UTC)


class StripeCardProcessor:
    """``CardProcessor`` over Stripe's API (or any server speaking it, such as localstripe)."""

    name = "stripe"

    def __init__(
        self,
        secret_key: str,
        *,
        base_url: str,
        api_base: str | None = None,
        redirect_3ds: bool = True,
        http_client: stripe.HTTPClient | None = None,  # tests: recorded responses
        publishable_key: str = "",
    ) -> None:
        if not secret_key:
            raise ValueError("ENVOI_STRIPE__SECRET_KEY is required for the stripe processor")
        self.client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base} if api_base else {},
            # Retries reuse the idempotency key, so Stripe never charges twice for them.
            max_network_retries=2,
            http_client=http_client,
        )
        self.base_url = base_url.rstrip("/")
        self.publishable_key = publishable_key  # for Stripe.js in the wallet page
        # Where the card issuer sends the cardholder back after 3-D Secure (Stripe adds
        # ``payment_intent``). Without it Stripe answers ``use_stripe_sdk`` and Stripe.js
        # runs the challenge in the page instead (the only way localstripe knows).
        self.return_url = f"{self.base_url}/wallet/topup/return" if redirect_3ds else None

    # --- charges -------------------------------------------------------------------

    def charge(self, request_id: str, amount: Money, card: CardDetails | CardToken) -> ChargeResult:
        if not isinstance(card, CardToken):
            # Raw card numbers would put envoi in PCI DSS scope: Stripe.js tokenises them.
            raise EnvoiError(ErrorCode.CARD_INVALID, reason="raw_card_refused")
        params: PaymentIntentCreateParams = {
            "amount": amount.minor,
            "currency": amount.currency.lower(),
            "payment_method": card.token,
            "confirm": True,
            "metadata": {METADATA_KEY: request_id},
            "expand": ["latest_charge"],
        }
        if self.return_url:
            params["return_url"] = self.return_url
        try:
            intent = self.client.v1.payment_intents.create(
                params=params,
                options={"idempotency_key": f"envoi-charge-{request_id}"},
            )
        except stripe.CardError as exc:
            return self._declined(request_id, exc)
        except stripe.IdempotencyError as exc:
            raise EnvoiError(ErrorCode.IDEMPOTENCY_CONFLICT, request_id=request_id) from exc
        except stripe.InvalidRequestError as exc:
            # An unknown or already used PaymentMethod: the card, as far as the member sees.
            raise EnvoiError(ErrorCode.CARD_INVALID, reason=exc.code or "invalid_request") from exc
        return self._result(intent)

    def retrieve(self, processor_ref: str) -> ChargeResult:
        if not processor_ref.startswith("pi_"):
            raise EnvoiError(ErrorCode.NOT_FOUND, processor_ref=processor_ref[:60])
        try:
            intent = self.client.v1.payment_intents.retrieve(
                processor_ref, params={"expand": ["latest_charge"]}
            )
        except stripe.InvalidRequestError as exc:
            raise EnvoiError(ErrorCode.NOT_FOUND, processor_ref=processor_ref[:60]) from exc
        return self._result(intent)

    def find(self, request_id: str) -> ChargeResult | None:
        # The Search API: what Stripe documents for finding objects by metadata.
        found = self.client.v1.payment_intents.search(
            params={"query": f"metadata['{METADATA_KEY}']:'{request_id}'", "limit": 1}
        )
        return self.retrieve(found.data[0].id) if found.data else None

    def client_secret(self, processor_ref: str) -> str:
        """What Stripe.js needs to finish 3-D Secure in the cardholder's browser."""
        intent = self.client.v1.payment_intents.retrieve(processor_ref)
        return str(intent.client_secret or "")

    def _declined(self, request_id: str, exc: stripe.CardError) -> ChargeResult:
        error = exc.error
        intent = _get(error, "payment_intent") if error is not None else None
        # Stripe names the PaymentIntent in the error; a server that does not still names
        # the failed charge, which is unique as well.
        ref = _id(intent) or (_get(error, "charge") if error is not None else None) or ""
        code = (error and (_get(error, "decline_code") or _get(error, "code"))) or "card_declined"
        return ChargeResult(
            str(ref), "declined", decline_code=str(code), request_id=request_id, last4=""
        )

    def _result(self, intent: Any) -> ChargeResult:
        status = intent.status
        charge = _get(intent, "latest_charge")
        last4 = ""
        details = _get(charge, "payment_method_details")
        if details is not None:
            last4 = str(_get(_get(details, "card"), "last4") or "")
        request_id = _get(_get(intent, "metadata"), METADATA_KEY)
        common: dict[str, Any] = {"last4": last4, "request_id": request_id}
        if status == "succeeded":
            return ChargeResult(intent.id, "succeeded", **common)
        if status == "requires_action":
            return ChargeResult(
                intent.id, "requires_action", action_url=self._action_url(intent), **common
            )
        if status in ("processing", "requires_confirmation", "requires_capture"):
            # Not final yet: the webhook (or the return from 3-D Secure) finishes it.
            return ChargeResult(intent.id, "requires_action", **common)
        # requires_payment_method (declined, authentication failed) or canceled: final for
        # this top-up; a new attempt is a new top-up.
        error = _get(intent, "last_payment_error")
        code = _get(error, "decline_code") or _get(error, "code")
        if status == "canceled":
            code = code or "canceled"
        return ChargeResult(
            intent.id, "declined", decline_code=str(code or "card_declined"), **common
        )

    def _action_url(self, intent: Any) -> str:
        redirect = _get(_get(intent, "next_action"), "redirect_to_url")
        url = _get(redirect, "url")
        if url:
            return str(url)
        return f"{self.base_url}/wallet/topup/authenticate?payment_intent={intent.id}"

    # --- refunds and reconciliation ----------------------------------------------------

    def refund(self, request_id: str, processor_ref: str, amount: Money) -> RefundResult:
        try:
            refund = self.client.v1.refunds.create(
                params={
                    "payment_intent": processor_ref,
                    "amount": amount.minor,
                    "metadata": {REFUND_METADATA_KEY: request_id},
                },
                options={"idempotency_key": f"envoi-refund-{request_id}"},
            )
        except stripe.IdempotencyError as exc:
            raise EnvoiError(ErrorCode.IDEMPOTENCY_CONFLICT, request_id=request_id) from exc
        except stripe.InvalidRequestError as exc:
            # Already refunded, more than the charge: Stripe refused, nothing moved.
            raise EnvoiError(
                ErrorCode.REFUND_REFUSED, reason=exc.code or "invalid_request"
            ) from exc
        except _UNANSWERED as exc:
            raise EnvoiError(ErrorCode.REFUND_PENDING, refund_id=request_id) from exc
        return _refund_result(refund)

    def find_refund(self, request_id: str, processor_ref: str) -> RefundResult | None:
        # Refunds cannot be searched by metadata: the PaymentIntent's own are listed
        # (a handful at most) and ours is the one carrying our id.
        try:
            pages = self.client.v1.refunds.list(
                params={"payment_intent": processor_ref, "limit": _PAGE}
            )
            for refund in pages.auto_paging_iter():
                if _get(_get(refund, "metadata"), REFUND_METADATA_KEY) == request_id:
                    return _refund_result(refund)
        except _UNANSWERED as exc:
            raise EnvoiError(ErrorCode.REFUND_PENDING, refund_id=request_id) from exc
        return None

    def payments_since(self, since: datetime) -> list[ProcessorPayment]:
        cutoff = int(since.timestamp())
        found = []
        # Filtered here rather than with ``created[gte]``: localstripe refuses that filter,
        # and the answer must not depend on the server's order.
        pages = self.client.v1.payment_intents.list(
            params={"limit": _PAGE, "expand": ["data.latest_charge"]}
        )
        for intent in pages.auto_paging_iter():
            if int(intent.created) < cutoff:
                continue
            charge = _get(intent, "latest_charge")
            refunded = int(_get(charge, "amount_refunded") or 0)
            found.append(
                ProcessorPayment(
                    processor_ref=intent.id,
                    request_id=_get(_get(intent, "metadata"), METADATA_KEY),
                    amount=Money(int(intent.amount), str(intent.currency).upper()),
                    status=str(intent.status),
                    amount_refunded=refunded,
                    charge_ref=_id(charge),
                    created_at=_when(intent.created),
                )
            )
        return found

    def balance_entries_since(self, since: datetime) -> list[BalanceEntry]:
        cutoff = int(since.timestamp())
        pages = self.client.v1.balance_transactions.list(params={"limit": _PAGE})
        return [
            BalanceEntry(
                entry_id=txn.id,
                kind=str(txn.type),
                amount_minor=int(txn.amount),
                currency=str(txn.currency).upper(),
                source_ref=_id(txn.source) or "",
                created_at=_when(txn.created),
            )
            for txn in pages.auto_paging_iter()
            if int(txn.created) >= cutoff
        ]

    # --- webhooks -------------------------------------------------------------------------

    def parse_event(self, payload: bytes, signature: str, secret: str, tolerance_s: int) -> Any:
        """Stripe's own verifier: HMAC-SHA256 over ``t.payload``, constant-time compare,
        timestamp within ``tolerance_s``. Raises ``stripe.SignatureVerificationError`` or
        ``ValueError`` (not JSON)."""
        return stripe.Webhook.construct_event(payload, signature, secret, tolerance=tolerance_s)


def _refund_result(refund: Any) -> RefundResult:
    status = _get(refund, "status")
    if status in ("failed", "canceled"):
        return RefundResult(str(refund.id), "failed")
    return RefundResult(str(refund.id), "succeeded" if status == "succeeded" else "pending")


def translate(event: Any) -> ProcessorEvent:
    """A verified Stripe event as the services understand it."""
    kind = str(_get(event, "type") or "")
    obj = _get(_get(event, "data"), "object")
    event_id = str(_get(event, "id") or "")
    if kind in ("payment_intent.succeeded", "payment_intent.payment_failed"):
        return ProcessorEvent(
            kind="payment_updated",
            payment_ref=str(_get(obj, "id") or ""),
            request_id=_get(_get(obj, "metadata"), METADATA_KEY),
            processor="stripe",
            event_id=event_id,
        )
    if kind == "charge.refunded":
        return ProcessorEvent(
            kind="refunded",
            payment_ref=_id(_get(obj, "payment_intent")) or "",
            amount=Money(
                int(_get(obj, "amount_refunded") or 0), str(_get(obj, "currency")).upper()
            ),
            processor="stripe",
            event_id=event_id,
        )
    if kind in ("refund.failed", "charge.refund.updated", "refund.updated"):
        # A refund that failed after it was made (the card closed, say): Stripe puts the
        # money back in the merchant's balance. Any other update changes nothing here.
        if _get(obj, "status") not in ("failed", "canceled"):
            return ProcessorEvent(processor="stripe", event_id=event_id, kind="ignored")
        return ProcessorEvent(
            kind="refund_failed",
            payment_ref=_id(_get(obj, "payment_intent")) or "",
            refund_ref=str(_get(obj, "id") or ""),
            refund_id=_get(_get(obj, "metadata"), REFUND_METADATA_KEY),
            amount=Money(int(_get(obj, "amount") or 0), str(_get(obj, "currency")).upper()),
            processor="stripe",
            event_id=event_id,
        )
    if kind in ("charge.dispute.created", "charge.dispute.closed"):
        return ProcessorEvent(
            kind="dispute_opened" if kind.endswith("created") else "dispute_closed",
            payment_ref=_id(_get(obj, "payment_intent")) or "",
            dispute_ref=str(_get(obj, "id") or ""),
            dispute_status=str(_get(obj, "status") or ""),
            amount=Money(int(_get(obj, "amount") or 0), str(_get(obj, "currency")).upper()),
            processor="stripe",
            event_id=event_id,
        )
    return ProcessorEvent(processor="stripe", event_id=event_id, kind="ignored")
