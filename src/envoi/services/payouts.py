"""Payouts to IBANs: held on payout clearing, batched into SEPA credit-transfer files
(pain.001.001.09) for the bank's back office, posted when the operator marks a batch
executed, voided line by line from the bank's status report (pain.002).

Every step is one transaction with its ledger legs; the operator's steps are in the
audit trail.
"""

from __future__ import annotations

from datetime import datetime

import structlog

from envoi.domain import accounts
from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.domain.legal_ids import check_bic, check_iban, masked_iban
from envoi.domain.model import Payout, PayoutBatch, PayoutState
from envoi.domain.receipts import PARIS, FeeLine
from envoi.ledger.model import CreateTransferResult, Transfer, TransferFlags
from envoi.money import Money
from envoi.services.context import Context
from envoi.services.ledger_ops import require_ok, resolve_pending
from envoi.services.secrets import new_id
from envoi.services.sepa import CreditTransfer, Party, SepaFileError, pain001, pain002_statuses
from envoi.services.unit_of_work import UnitOfWork, retry_conflicts

log = structlog.get_logger(__name__)
BATCH_MAX = 5000


def hold_transfer(payout: Payout) -> Transfer:
    return Transfer(
        id=payout.hold_id,
        debit_account_id=payout.source_account,
        credit_account_id=accounts.payout_clearing(payout.amount.currency),
        amount=payout.amount.minor,
        currency=payout.amount.currency,
        code="payout",
        flags=TransferFlags.PENDING,
        reference=payout.id,
    )


def request_payout(
    uow: UnitOfWork,
    *,
    source_account: str,
    requested_by: str,
    amount: Money,
    creditor_name: str,
    iban: str,
    bic: str | None,
    remittance: str,
    now: datetime,
    pot_id: str | None = None,
) -> Payout:
    """Inside the caller's transaction: the payout row and its hold (the source account
    cannot go below zero: the ledger refuses with INSUFFICIENT_FUNDS)."""
    payout = Payout(
        id=new_id("pay"),
        source_account=source_account,
        requested_by=requested_by,
        pot_id=pot_id,
        amount=amount,
        creditor_name=creditor_name.strip()[:70] or "-",
        iban=check_iban(iban),
        bic=check_bic(bic) if bic else None,
        remittance=remittance[:140],
        state=PayoutState.PENDING,
        batch_id=None,
        reason=None,
        created_at=now,
    )
    require_ok(uow.ledger.create_transfers([hold_transfer(payout)]))
    uow.payouts.add(payout)
    uow.audit.record(
        "payout.requested",
        requested_by,
        payout=payout.id,
        amount_minor=amount.minor,
        iban=masked_iban(payout.iban),
    )
    return payout


class Payouts:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @retry_conflicts
    def create_batch(self, *, operator: str) -> PayoutBatch:
        """Every pending payout into one SEPA file, validated against the XSD."""
        settings = self.ctx.settings
        now = self.ctx.clock.now()
        batch_id = new_id("bat")
        with self.ctx.uow() as uow:
            claimed = uow.payouts.lock_pending(limit=BATCH_MAX)
            if not claimed:
                raise EnvoiError(ErrorCode.NOTHING_TO_BATCH)
            xml = pain001(
                message_id=batch_id,
                created=now,
                execution=now.date(),
                debtor=Party(
                    settings.payout_debtor_name,
                    check_iban(settings.payout_debtor_iban),
                    settings.payout_debtor_bic,
                ),
                transfers=[
                    CreditTransfer(
                        end_to_end_id=p.id,
                        amount_minor=p.amount.minor,
                        currency=p.amount.currency,
                        creditor=Party(p.creditor_name, p.iban, p.bic),
                        remittance=p.remittance,
                    )
                    for p in claimed
                ],
            )
            total = Money(sum(p.amount.minor for p in claimed), settings.currency)
            batch = PayoutBatch(
                id=batch_id,
                created_at=now,
                created_by=operator,
                count=len(claimed),
                total=total,
                xml=xml.decode(),
                executed_at=None,
            )
            uow.payouts.add_batch(batch)
            uow.payouts.assign(batch_id, [p.id for p in claimed])
            uow.audit.record(
                "payout.batch_created", None, batch=batch_id, operator=operator, count=batch.count
            )
            uow.commit()
        log.info("payout.batch_created", batch=batch_id, count=batch.count)
        return batch

    def batch(self, batch_id: str) -> tuple[PayoutBatch, list[Payout]]:
        with self.ctx.uow() as uow:
            batch = uow.payouts.batch(batch_id)
            if batch is None:
                raise EnvoiError(ErrorCode.BATCH_NOT_FOUND)
            return batch, uow.payouts.of_batch(batch_id)

    def batches(self) -> list[PayoutBatch]:
        with self.ctx.uow() as uow:
            return uow.payouts.batches()

    def fee_report(self, year: int, month: int) -> list[FeeLine]:
        """Per organisation (or pot owner) and kind: what was collected in that month
        (Paris time) and the fees taken on it."""
        start = datetime(year, month, 1, tzinfo=PARIS)
        end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=PARIS)
        with self.ctx.uow() as uow:
            return uow.reports.fees(start, end, self.ctx.settings.currency)

    def of_member(self, member_id: str) -> list[Payout]:
        with self.ctx.uow() as uow:
            return uow.payouts.of_member(member_id)

    @retry_conflicts
    def mark_executed(self, batch_id: str, *, operator: str) -> int:
        """The bank paid the batch: every line still in it is posted. Returns how many."""
        now = self.ctx.clock.now()
        with self.ctx.uow() as uow:
            if uow.payouts.batch(batch_id) is None:
                raise EnvoiError(ErrorCode.BATCH_NOT_FOUND)
            if not uow.payouts.mark_executed(batch_id, now):
                raise EnvoiError(ErrorCode.BATCH_ALREADY_EXECUTED)
            done = [
                p
                for p in uow.payouts.of_batch(batch_id)
                if uow.payouts.transition(p.id, PayoutState.BATCHED, PayoutState.EXECUTED, now=now)
            ]
            if done:
                posts = resolve_pending([hold_transfer(p) for p in done], post=True, linked=False)
                require_ok(uow.ledger.create_transfers(posts))
            for p in done:
                self._tell(uow, p, "payout_executed", now)
            uow.audit.record(
                "payout.batch_executed", None, batch=batch_id, operator=operator, count=len(done)
            )
            uow.commit()
        return len(done)

    @retry_conflicts
    def apply_status_report(self, data: bytes, *, operator: str) -> list[Payout]:
        """The bank's pain.002: each rejected line is voided (its money back on its source
        account), or returned if the batch was marked executed already. Lines it
        accepts change nothing; a report read twice rejects nothing twice."""
        try:
            message_id, group_status, lines = pain002_statuses(data)
        except SepaFileError as exc:
            raise EnvoiError(ErrorCode.INVALID_STATUS_REPORT, reason=str(exc)[:200]) from None
        now = self.ctx.clock.now()
        rejected: list[Payout] = []
        with self.ctx.uow() as uow:
            if group_status == "RJCT" and not lines and message_id:
                # The whole file refused: every line of it.
                targets = [(p, "RJCT") for p in uow.payouts.of_batch(message_id)]
            else:
                targets = []
                for line in lines:
                    if not line.rejected:
                        continue
                    payout = uow.payouts.get(line.end_to_end_id)
                    if payout is None or (message_id and payout.batch_id != message_id):
                        raise EnvoiError(
                            ErrorCode.INVALID_STATUS_REPORT,
                            reason=f"unknown line {line.end_to_end_id[:40]}",
                        )
                    targets.append((payout, line.reason or "RJCT"))
            transfers: list[Transfer] = []
            for payout, reason in targets:
                if uow.payouts.transition(
                    payout.id, PayoutState.BATCHED, PayoutState.REJECTED, now=now, reason=reason
                ):
                    transfers += resolve_pending([hold_transfer(payout)], post=False)
                elif uow.payouts.transition(
                    payout.id, PayoutState.EXECUTED, PayoutState.REJECTED, now=now, reason=reason
                ):
                    transfers.append(_returned(payout))
                else:
                    continue  # rejected already (a report read twice)
                rejected.append(payout)
                self._tell(uow, payout, "payout_rejected", now, reason=reason)
            if transfers:
                outcomes = uow.ledger.create_transfers(transfers)
                require_ok([o for o in outcomes if o.result is not CreateTransferResult.EXISTS])
            uow.audit.record(
                "payout.status_report",
                None,
                batch=message_id,
                operator=operator,
                rejected=len(rejected),
            )
            uow.commit()
        return rejected

    @staticmethod
    def _tell(uow: UnitOfWork, payout: Payout, code: str, now: datetime, **extra: str) -> None:
        member = uow.members.get(payout.requested_by)
        locale = member.locale if member else "fr"
        uow.notices.notify(
            payout.requested_by,
            code,
            {
                "amount": payout.amount.format(locale),
                "iban": masked_iban(payout.iban),
                **extra,
            },
            intent_id=None,
            now=now,
        )


def _returned(payout: Payout) -> Transfer:
    """A line the bank rejected after we posted it: the money comes back."""
    return Transfer(
        id=f"{payout.id}:returned",
        debit_account_id=accounts.payout_clearing(payout.amount.currency),
        credit_account_id=payout.source_account,
        amount=payout.amount.minor,
        currency=payout.amount.currency,
        code="payout_return",
        reference=payout.id,
    )
