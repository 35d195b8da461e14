"""From a network post to a payment intent with a hold — or to a reply saying why not.

Every post is stored once (keyed by network and post id) in the same
transaction as what it causes, so a post delivered twice pays once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from envoi.commands import ParseResult, looks_like_a_command, parse
from envoi.commands.handles import Grammar, X, grammar_for
from envoi.domain import accounts
from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.domain.model import (
    IntentKind,
    IntentState,
    Member,
    MemberKind,
    Payee,
    PayeeKind,
    PayeeWarning,
    PaymentIntent,
    Privacy,
)
from envoi.domain.names import name_problem
from envoi.faults import crash_point
from envoi.ledger.model import Transfer, TransferFlags
from envoi.metrics import COMMANDS
from envoi.money import Money
from envoi.services.announce import Announcer
from envoi.services.context import Context
from envoi.services.ledger_ops import require_ok
from envoi.services.policy import enforce_limits, fee_for, fee_rule, is_organisation
from envoi.services.ports import InboundPost, NetworkUser
from envoi.services.secrets import new_id
from envoi.services.unit_of_work import UnitOfWork, retry_conflicts

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class _Resolved:
    """The payee as the network knows them, looked up before the transaction opens."""

    user: NetworkUser | None


class Intake:
    """Implements ``InboundPort``: every network adapter delivers here."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    # --- InboundPort -----------------------------------------------------------

    @retry_conflicts
    def receive_post(self, post: InboundPost) -> None:
        settings = self.ctx.settings
        bot, grammar = self._speech(post.network)
        if self._links_identity(post):
            return
        result = parse(
            post.text,
            author=post.author.handle,
            bot=bot,
            direct=post.direct,
            ceiling=Money(settings.amount_ceiling_minor, settings.currency),
            grammar=grammar,
            mentioned=[user.handle for user in post.mentions],
        )
        # Network I/O (handle lookup) happens before the transaction, never inside it.
        resolved = self._resolve_user(post, result, grammar)
        now = self.ctx.clock.now()
        with self.ctx.uow() as uow:
            if not uow.posts.add_once(post, now):
                log.info("post.duplicate", network=post.network, post_id=post.post_id)
                COMMANDS.labels(post.network, "duplicate").inc()
                return
            outcome, intent_id = self._handle(uow, post, result, resolved)
            uow.posts.set_outcome(post.network, post.post_id, outcome, intent_id)
            crash_point("intake.hold_written")  # the hold and the replies, not committed
            uow.commit()
        crash_point("intake.committed")  # the network does not know it was received
        log.info("post.received", network=post.network, post_id=post.post_id, outcome=outcome)
        COMMANDS.labels(post.network, outcome).inc()

    @retry_conflicts
    def receive_deletion(self, network: str, post_id: str) -> None:
        """A deleted post cancels its payment if it is still awaiting confirmation."""
        from envoi.services.lifecycle import Lifecycle

        now = self.ctx.clock.now()
        with self.ctx.uow() as uow:
            if not uow.posts.mark_deleted(network, post_id, now):
                # The deletion overtook its post (or came twice): a tombstone makes the
                # post, if it ever arrives, a duplicate that does nothing.
                uow.posts.add_tombstone(network, post_id, now)
            intent = uow.intents.by_source(network, post_id)
            if intent is not None and intent.state is IntentState.AWAITING_CONFIRMATION:
                try:
                    Lifecycle(self.ctx).end_in(uow, intent, IntentState.CANCELLED, now)
                except EnvoiError as exc:
                    # Confirmed, cancelled or expired a moment before: that stands.
                    if exc.code is not ErrorCode.INTENT_NOT_PENDING:
                        raise
            uow.commit()

    # --- steps -----------------------------------------------------------------

    def _speech(self, network: str) -> tuple[str, Grammar]:
        """The bot's handle on ``network`` and how that network writes people."""
        gateway = self.ctx.gateways.get(network)
        if gateway is None:
            return self.ctx.settings.bot_handle, X
        return gateway.bot_handle, grammar_for(gateway.grammar)

    def _links_identity(self, post: InboundPost) -> bool:
        """A message carrying a link challenge's code links its author: nothing else."""
        from envoi.services.linking import Linking

        return Linking(self.ctx).receive_code(post)

    def _resolve_user(self, post: InboundPost, result: ParseResult, grammar: Grammar) -> _Resolved:
        if result.payee is None or result.kind not in ("send", "donate", "request"):
            return _Resolved(None)
        # The network's own mentions first: they carry the immutable id.
        for user in post.mentions:
            if grammar.key(user.handle) == result.payee:
                return _Resolved(user)
        gateway = self.ctx.gateways.get(post.network)
        return _Resolved(gateway.lookup_user(result.payee) if gateway else None)

    def _handle(
        self, uow: UnitOfWork, post: InboundPost, result: ParseResult, resolved: _Resolved
    ) -> tuple[str, str | None]:
        # Handles change: what the network reports now (the author, the people mentioned,
        # the payee looked up) is what linked accounts show and replies name.
        seen = [post.author, *post.mentions, *([resolved.user] if resolved.user else [])]
        for user in {u.user_id: u for u in seen if u.network == post.network}.values():
            uow.identities.update_handle(user.network, user.user_id, user.handle, user.display_name)
        if result.kind == "not_a_command":
            return self._near_miss(uow, post), None
        now = self.ctx.clock.now()
        author = uow.identities.member_for(post.network, post.author.user_id)
        locale = author.locale if author else self.ctx.settings.default_locale
        # A refusal can tell a lot (a balance too low, a cap reached): only members who
        # chose "public" get it in public.
        private = post.direct or (author is not None and author.privacy is not Privacy.PUBLIC)
        announcer = Announcer(self.ctx, uow, now)
        if self._over_rate(uow, post, now):
            # One answer per author and minute, or the bot would amplify a flood.
            window = f"rate:{post.network}:{post.author.user_id}:{int(now.timestamp()) // 60}"
            announcer.refusal(
                post, EnvoiError(ErrorCode.RATE_LIMITED), locale, private=private, key=window
            )
            return ErrorCode.RATE_LIMITED.value, None
        try:
            if result.kind == "invalid":
                assert result.error is not None
                raise EnvoiError(result.error, position=result.position)
            if author is None:
                raise EnvoiError(ErrorCode.PAYER_NOT_MEMBER)
            intent, payer = self._open_intent(uow, post, result, resolved, author)
        except EnvoiError as error:
            announcer.refusal(post, error, locale, private=private)
            return error.code.value, None
        announcer.created(intent, payer)
        return "intent", intent.id

    def _near_miss(self, uow: UnitOfWork, post: InboundPost) -> str:
        """``@SmoneyFR envoyer 5€ @alice`` (no ``#``): nothing moves, but the author gets
        the syntax — once a day at most, so chatter that looks like it is not answered
        over and over."""
        settings = self.ctx.settings
        bot, grammar = self._speech(post.network)
        if not looks_like_a_command(
            post.text,
            author=post.author.handle,
            bot=bot,
            direct=post.direct,
            ceiling=Money(settings.amount_ceiling_minor, settings.currency),
            grammar=grammar,
        ):
            return "ignored"
        now = self.ctx.clock.now()
        author = uow.identities.member_for(post.network, post.author.user_id)
        locale = author.locale if author else settings.default_locale
        private = post.direct or (author is not None and author.privacy is not Privacy.PUBLIC)
        day = int(now.timestamp()) // 86400
        Announcer(self.ctx, uow, now).refusal(
            post,
            EnvoiError(ErrorCode.MISSING_COMMAND),
            locale,
            private=private,
            key=f"hint:{post.network}:{post.author.user_id}:{day}",
        )
        return ErrorCode.MISSING_COMMAND.value

    def _over_rate(self, uow: UnitOfWork, post: InboundPost, now: datetime) -> bool:
        # This post is already stored, so it counts itself.
        recent = uow.posts.count_recent(
            post.network, post.author.user_id, now - timedelta(minutes=1)
        )
        return recent > self.ctx.settings.commands_per_minute

    def _payee(
        self,
        uow: UnitOfWork,
        post: InboundPost,
        result: ParseResult,
        resolved: _Resolved,
        author: Member,
    ) -> tuple[Payee, Member | None]:
        """Who receives: a member, a network identity (escrow) or a pot."""
        if result.kind == "pot":
            assert result.pot is not None
            pot = uow.pots.by_hashtag(result.pot.lower())
            if pot is None:
                raise EnvoiError(ErrorCode.UNKNOWN_POT, pot=result.pot)
            if not pot.open_at(self.ctx.clock.now()):
                raise EnvoiError(ErrorCode.POT_CLOSED, pot=result.pot)
            # Shown as the author wrote it (#AnnivJulie); matched case-insensitively.
            payee = Payee(PayeeKind.POT, result.pot, pot.title, pot_id=pot.id)
            return payee, None
        assert result.payee is not None
        user = resolved.user
        if user is None:
            raise EnvoiError(ErrorCode.UNKNOWN_PAYEE, payee=result.payee)
        member = uow.identities.member_for(user.network, user.user_id)
        if member is not None and member.id == author.id:
            raise EnvoiError(ErrorCode.SELF_PAYMENT)
        if member is None:
            payee = Payee(
                PayeeKind.IDENTITY,
                user.handle,
                user.display_name,
                network=user.network,
                network_user_id=user.user_id,
            )
        else:
            payee = Payee(
                PayeeKind.MEMBER,
                user.handle,
                member.display_name,
                member_id=member.id,
                network=user.network,
                network_user_id=user.user_id,
            )
        return payee, member

    def _open_intent(
        self,
        uow: UnitOfWork,
        post: InboundPost,
        result: ParseResult,
        resolved: _Resolved,
        author: Member,
    ) -> tuple[PaymentIntent, Member]:
        settings = self.ctx.settings
        assert result.amount is not None
        kind = IntentKind(result.kind)
        payee, payee_member = self._payee(uow, post, result, resolved, author)
        payer, requester_id = author, None
        payer_account = (post.author.user_id, post.author.handle)
        if kind is IntentKind.DONATE and not is_organisation(payee_member):
            if payee_member is not None and payee_member.kind is MemberKind.ORGANISATION:
                # Registered, not yet checked by the operator: no donation until it is.
                raise EnvoiError(
                    ErrorCode.ORGANISATION_NOT_VERIFIED, payee=payee_member.display_name
                )
            raise EnvoiError(ErrorCode.PAYEE_NOT_ORGANISATION, payee=payee.handle)
        if kind is IntentKind.REQUEST:
            if payee_member is None:
                raise EnvoiError(ErrorCode.REQUESTEE_NOT_MEMBER, payee=payee.handle)
            # The asked person pays the author: swap the sides.
            assert payee.network_user_id is not None
            payer_account = (payee.network_user_id, payee.handle)
            author_handle = post.author.handle
            payer, requester_id = payee_member, author.id
            payee = Payee(
                PayeeKind.MEMBER,
                author_handle,
                author.display_name,
                member_id=author.id,
                network=post.network,
                network_user_id=post.author.user_id,
            )
            payee_member = author

        now = self.ctx.clock.now()
        if kind is not IntentKind.REQUEST:
            # A request is checked when the asked person agrees (Lifecycle.confirm): checking
            # now would let anyone probe someone else's caps.
            enforce_limits(
                uow,
                settings,
                payer,
                result.amount,
                to_organisation=is_organisation(payee_member),
                now=now,
            )
        rule = fee_rule(settings, kind)
        fee = fee_for(rule, result.amount)
        privacy = (
            Privacy.PRIVATE
            if post.direct
            else Privacy.most_private(
                payer.privacy, payee_member.privacy if payee_member else payer.privacy
            )
        )
        intent = PaymentIntent(
            id=new_id("int"),
            kind=kind,
            state=IntentState.AWAITING_CONFIRMATION,
            payer_member_id=payer.id,
            payee=payee,
            amount=result.amount,
            fee=fee,
            fee_charged_to=rule.charged_to,
            privacy=privacy,
            source_network=post.network,
            source_post_id=post.post_id,
            requester_member_id=requester_id,
            payer_network_user_id=payer_account[0],
            payer_handle=payer_account[1],
            created_at=now,
            expires_at=now + timedelta(seconds=settings.confirmation_window_s),
            payee_warnings=(
                () if kind is IntentKind.REQUEST else self._warnings(uow, payer, resolved, now)
            ),
        )
        if kind is not IntentKind.REQUEST:
            # A request holds nothing until the asked person agrees.
            require_ok(
                uow.ledger.create_transfers(hold_transfers(intent, settings.confirmation_window_s))
            )
        uow.intents.add(intent)
        return intent, payer

    def _warnings(
        self, uow: UnitOfWork, payer: Member, resolved: _Resolved, now: datetime
    ) -> tuple[PayeeWarning, ...]:
        """What the payer must read before the PIN: money goes to whoever holds the handle
        now, so say when that is not whom this payer paid before, when a wallet's linked
        account was last seen under this handle, when the account is new, or when its
        name disguises itself."""
        user = resolved.user
        if user is None:
            return ()
        other_before, known = uow.intents.payee_history(
            payer.id, user.network, user.handle, user.user_id
        )
        warnings = []
        if other_before or uow.identities.others_with_handle(
            user.network, user.handle, user.user_id
        ):
            warnings.append(PayeeWarning.HANDLE_REASSIGNED)
        young = timedelta(days=self.ctx.settings.new_account_days)
        if not known and user.created_at is not None and now - user.created_at < young:
            warnings.append(PayeeWarning.NEW_ACCOUNT)
        if name_problem(user.display_name) is not None:
            warnings.append(PayeeWarning.LOOKALIKE_NAME)
        return tuple(warnings)


def destination(intent: PaymentIntent) -> str:
    """The ledger account the payment credits."""
    if intent.payee.kind is PayeeKind.POT:
        assert intent.payee.pot_id is not None
        return accounts.pot(intent.payee.pot_id)
    if intent.payee.kind is PayeeKind.IDENTITY:
        return accounts.escrow(intent.amount.currency)
    assert intent.payee.member_id is not None
    return accounts.wallet(intent.payee.member_id)


def hold_transfers(intent: PaymentIntent, timeout_s: int) -> list[Transfer]:
    """The pending payment and, if the payer bears it, its fee: held together or not at all."""
    fee_by_payer = intent.fee.minor > 0 and intent.fee_charged_to == "payer"
    # The ledger's own timeout is a safety net a little after the intent's window.
    timeout = timeout_s + 3600
    hold = Transfer(
        id=intent.hold_id,
        debit_account_id=accounts.wallet(intent.payer_member_id),
        credit_account_id=destination(intent),
        amount=intent.amount.minor,
        currency=intent.amount.currency,
        code=intent.kind.value,
        flags=TransferFlags.PENDING
        | (TransferFlags.LINKED if fee_by_payer else TransferFlags.NONE),
        timeout_s=timeout,
        reference=intent.id,
    )
    if not fee_by_payer:
        return [hold]
    fee = Transfer(
        id=intent.fee_id,
        debit_account_id=accounts.wallet(intent.payer_member_id),
        credit_account_id=accounts.fees(intent.amount.currency),
        amount=intent.fee.minor,
        currency=intent.amount.currency,
        code="fee",
        flags=TransferFlags.PENDING,
        timeout_s=timeout,
        reference=intent.id,
    )
    return [hold, fee]
