"""Pots, payouts and campaigns (issue 11): a pot filled by posts from three members and
paid out to an IBAN in a pain.001.001.09 file valid against ISO 20022's XSD, posted when
the batch is executed; a rejected payout voided from the bank's pain.002; a campaign
that succeeds and one that fails (nobody charged); a fee shown before the PIN and
posted. The ledger check runs after each (tests/integration/conftest.py)."""

from __future__ import annotations

import importlib.resources
from datetime import timedelta

import pytest
from lxml import etree

from envoi.config import FeeRule
from envoi.domain import accounts
from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.domain.model import IntentState, PayoutState
from tests.integration.flow_app import BOT, PIN, Someone, World, make_world
from tests.integration.test_new_user import run_cli

JULIE_IBAN = "DE89370400440532013000"
OTHER_IBAN = "GB29NWBK60161331926819"


def contribute(world: World, who: Someone, text: str) -> str:
    world.clock.advance(seconds=30)
    world.post(who, text)
    (intent_id,) = world.pending(who)
    world.app.lifecycle.confirm(who.member.id, intent_id, PIN)
    return intent_id


def official_xsd() -> etree.XMLSchema:
    xsd = importlib.resources.files("sepaxml") / "schemas" / "pain.001.001.09.xsd"
    return etree.XMLSchema(etree.fromstring(xsd.read_bytes()))


def pain002(batch_id: str, rejected: dict[str, str], accepted: list[str]) -> bytes:
    lines = "".join(
        f"<TxInfAndSts><OrgnlEndToEndId>{e2e}</OrgnlEndToEndId><TxSts>RJCT</TxSts>"
        f"<StsRsnInf><Rsn><Cd>{code}</Cd></Rsn></StsRsnInf></TxInfAndSts>"
        for e2e, code in rejected.items()
    ) + "".join(
        f"<TxInfAndSts><OrgnlEndToEndId>{e2e}</OrgnlEndToEndId><TxSts>ACCP</TxSts></TxInfAndSts>"
        for e2e in accepted
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"><CstmrPmtStsRpt>'
        "<GrpHdr><MsgId>STS-1</MsgId><CreDtTm>2026-11-28T09:00:00</CreDtTm></GrpHdr>"
        f"<OrgnlGrpInfAndSts><OrgnlMsgId>{batch_id}</OrgnlMsgId>"
        "<OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId><GrpSts>PART</GrpSts></OrgnlGrpInfAndSts>"
        f"<OrgnlPmtInfAndSts><OrgnlPmtInfId>{batch_id}</OrgnlPmtInfId>{lines}"
        "</OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>"
    ).encode()


def test_a_pot_filled_by_three_posts_is_paid_out_to_an_iban_in_a_valid_pain001(
    world: World,
) -> None:
    julie = world.person("julie")
    pot = world.app.members.create_pot(
        julie.member.id, hashtag="AnnivJulie", title="Anniversaire de Julie", goal_minor=50_00
    )
    friends = [world.person(name, funds=50_00) for name in ("alice", "bob", "chloe")]
    for friend, amount in zip(friends, ("20€", "15€", "10,50 €"), strict=True):
        intent_id = contribute(world, friend, f"@{BOT} #cagnotte {amount} #AnnivJulie")
        if friend.handle != "chloe":
            world.app.pots.choose(friend.member.id, intent_id, show_name=True)
    page = world.app.pots.page("annivjulie")
    assert page.raised.minor == 45_50
    assert page.contributors == 3
    assert page.names == ["Alice", "Bob"]  # Chloé did not choose to show hers
    assert page.progress_percent == 91
    assert page.url.endswith("/pots/annivjulie")
    assert page.qr_svg().startswith("<svg")
    # Only the owner pays out; someone else's pot is unknown to them.
    with pytest.raises(EnvoiError) as refused:
        world.app.pots.pay_out_to_iban(friends[0].member.id, "AnnivJulie", iban=JULIE_IBAN,
                                       name="Alice")  # fmt: skip
    assert refused.value.code is ErrorCode.UNKNOWN_POT
    with pytest.raises(EnvoiError) as refused:
        world.app.pots.pay_out_to_iban(julie.member.id, "AnnivJulie", iban="DE00123", name="J")
    assert refused.value.code is ErrorCode.INVALID_IBAN
    payout = world.app.pots.pay_out_to_iban(
        julie.member.id, "AnnivJulie", iban="DE89 3704 0044 0532 0130 00", name="Julie Dupont"
    )
    assert payout.amount.minor == 45_50
    pot_balance = world.app.wallet.ledger_balance(accounts.pot(pot.id))
    assert (pot_balance.available, pot_balance.debits_pending) == (0, 45_50)
    batch = world.app.payouts.create_batch(operator="test")
    document = etree.fromstring(batch.xml.encode())
    official_xsd().assertValid(document)  # ISO 20022's own schema, from sepaxml
    ns = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"}
    assert document.findtext(".//p:CdtTrfTxInf/p:CdtrAcct/p:Id/p:IBAN", namespaces=ns) == JULIE_IBAN
    assert document.findtext(".//p:InstdAmt", namespaces=ns) == "45.50"
    assert document.findtext(".//p:EndToEndId", namespaces=ns) == payout.id
    assert document.findtext(".//p:GrpHdr/p:CtrlSum", namespaces=ns) == "45.50"
    with pytest.raises(EnvoiError) as nothing:
        world.app.payouts.create_batch(operator="test")
    assert nothing.value.code is ErrorCode.NOTHING_TO_BATCH
    assert world.app.payouts.mark_executed(batch.id, operator="test") == 1
    pot_balance = world.app.wallet.ledger_balance(accounts.pot(pot.id))
    assert (pot_balance.posted, pot_balance.debits_pending) == (0, 0)
    (done,) = world.app.payouts.of_member(julie.member.id)
    assert done.state is PayoutState.EXECUTED


def test_a_rejected_payout_is_voided_from_the_banks_pain002(world: World) -> None:
    julie = world.person("julie")
    world.app.members.create_pot(julie.member.id, hashtag="Rando", title="Rando", goal_minor=None)
    world.app.members.create_pot(julie.member.id, hashtag="Ski", title="Ski", goal_minor=None)
    alice = world.person("alice", funds=100_00)
    contribute(world, alice, f"@{BOT} #cagnotte 30€ #Rando")
    contribute(world, alice, f"@{BOT} #cagnotte 12€ #Ski")
    bad = world.app.pots.pay_out_to_iban(julie.member.id, "rando", iban=OTHER_IBAN, name="J")
    good = world.app.pots.pay_out_to_iban(julie.member.id, "ski", iban=JULIE_IBAN, name="J")
    batch = world.app.payouts.create_batch(operator="test")
    report = pain002(batch.id, rejected={bad.id: "AC04"}, accepted=[good.id])
    (rejected,) = world.app.payouts.apply_status_report(report, operator="test")
    assert rejected.id == bad.id
    assert world.app.payouts.apply_status_report(report, operator="test") == []  # once
    assert world.app.pots.page("rando").pot.id == bad.pot_id
    rando = world.app.wallet.ledger_balance(accounts.pot(bad.pot_id or ""))
    assert (rando.available, rando.debits_pending) == (30_00, 0)  # the money is back
    assert world.app.payouts.mark_executed(batch.id, operator="test") == 1  # the other line
    states = {p.id: (p.state, p.reason) for p in world.app.payouts.of_member(julie.member.id)}
    assert states == {
        bad.id: (PayoutState.REJECTED, "AC04"),
        good.id: (PayoutState.EXECUTED, None),
    }
    with pytest.raises(EnvoiError) as unreadable:
        world.app.payouts.apply_status_report(b"<not xml", operator="test")
    assert unreadable.value.code is ErrorCode.INVALID_STATUS_REPORT


def test_a_closed_pot_takes_nothing_more_and_pays_a_member(world: World) -> None:
    julie = world.person("julie")
    world.app.members.create_pot(julie.member.id, hashtag="Pizza", title="Pizza", goal_minor=None)
    alice = world.person("alice", funds=20_00)
    contribute(world, alice, f"@{BOT} #pot 8€ #Pizza")
    world.app.pots.close(julie.member.id, "pizza")
    world.clock.advance(minutes=1)
    world.post(alice, f"@{BOT} #cagnotte 5€ #Pizza")
    assert world.pending(alice) == []
    assert any("close" in r for r in world.replies(alice))
    paid = world.app.pots.pay_out_to_member(julie.member.id, "pizza", julie.member.id)
    assert paid.minor == 8_00
    assert world.available(julie) == 8_00
    with pytest.raises(EnvoiError) as empty:
        world.app.pots.pay_out_to_member(julie.member.id, "pizza", julie.member.id)
    assert empty.value.code is ErrorCode.POT_EMPTY


def _campaign(world: World, goal_minor: int) -> tuple[Someone, list[Someone]]:
    owner = world.person("fundovino")
    world.app.members.create_pot(
        owner.member.id,
        hashtag="Vigne",
        title="Une vigne bio",
        goal_minor=goal_minor,
        closes_at=world.clock.now() + timedelta(days=7),
        all_or_nothing=True,
    )
    backers = [world.person(name, funds=40_00) for name in ("alice", "bob", "chloe")]
    for backer in backers:
        intent_id = contribute(world, backer, f"@{BOT} #cagnotte 10€ #Vigne")
        assert world.app.wallet.intent(backer.member.id, intent_id).state is IntentState.PLEDGED  # type: ignore[union-attr]
        assert world.available(backer) == 30_00  # held, not taken
        assert world.posted(backer) == 40_00
    with pytest.raises(EnvoiError) as early:
        world.app.pots.pay_out_to_member(owner.member.id, "vigne", owner.member.id)
    assert early.value.code is ErrorCode.CAMPAIGN_RUNNING
    assert world.app.pots.settle_campaigns() == 0  # not before the deadline
    world.clock.advance(days=7, seconds=1)
    return owner, backers


def test_a_campaign_that_reaches_its_goal_takes_every_pledge_at_once(world: World) -> None:
    owner, backers = _campaign(world, goal_minor=30_00)
    assert world.app.pots.settle_campaigns() == 1
    assert world.app.pots.settle_campaigns() == 0
    for backer in backers:
        assert world.posted(backer) == 30_00
        assert world.available(backer) == 30_00
    page = world.app.pots.page("vigne")
    assert page.pot.outcome == "succeeded"
    assert page.raised.minor == 30_00
    assert (
        world.app.pots.pay_out_to_member(owner.member.id, "vigne", owner.member.id).minor == 30_00
    )


def test_a_campaign_that_misses_its_goal_charges_nobody_and_tells_everyone(
    world: World,
) -> None:
    owner, backers = _campaign(world, goal_minor=100_00)
    assert world.app.pots.settle_campaigns() == 1
    for backer in backers:
        assert world.posted(backer) == 40_00
        assert world.available(backer) == 40_00
        (intent,) = world.app.wallet.intents(backer.member.id, IntentState.CANCELLED)
        assert intent.kind.value == "pot"
        assert any("rien n'est prélevé" in r.replace("’", "'") for r in world.replies(backer))
    assert world.app.pots.page("vigne").pot.outcome == "failed"
    with pytest.raises(EnvoiError) as nothing:
        world.app.pots.pay_out_to_member(owner.member.id, "vigne", owner.member.id)
    assert nothing.value.code is ErrorCode.CAMPAIGN_RUNNING


def test_a_pot_fee_is_shown_before_the_pin_and_posted(database_url: str, engine: object) -> None:
    world = make_world(database_url, fee_pot=FeeRule(basis_points=250, min_minor=10))
    try:
        julie = world.person("julie")
        world.app.members.create_pot(julie.member.id, hashtag="Cadeau", title="Cadeau",
                                     goal_minor=None)  # fmt: skip
        alice = world.person("alice", funds=50_00)
        world.post(alice, f"@{BOT} #cagnotte 20€ #Cadeau")
        (intent,) = world.app.wallet.to_confirm(alice.member.id)
        assert (intent.fee.minor, intent.total_debit.minor) == (50, 20_50)
        world.app.lifecycle.confirm(alice.member.id, intent.id, PIN)
        assert world.available(alice) == 29_50
        fees = world.app.wallet.ledger_balance(accounts.fees("EUR"))
        assert fees.credits_posted == 50
        # The monthly report: per payee (the pot's owner here) and kind.
        (line,) = world.app.payouts.fee_report(2026, 11)
        assert (line.payee_id, line.kind, line.count) == (julie.member.id, "pot", 1)
        assert (line.amount.minor, line.fees.minor) == (20_00, 50)
        assert world.app.payouts.fee_report(2026, 12) == []
        assert "fees €0.50" in run_cli(database_url, "org", "fees", "2026-11")
    finally:
        world.app.engine.dispose()
