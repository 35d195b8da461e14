"""Collecting money, organisations and donations (issue 11): the operator registers and
verifies an organisation, a member's own one waits unverified, a donation by post gets
its tax receipt (read back from the PDF field by field), numbers without gaps even
under 16 donations at once, a correction cancels and replaces, the yearly summary."""

from __future__ import annotations

import io
import re
import threading

import pypdf
import pytest
from sqlalchemy import Engine, text

from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.domain.legal_ids import check_iban, check_registry_id
from envoi.domain.messages import render_error
from envoi.domain.model import Member
from envoi.services.organisations import OrganisationForm
from envoi.services.receipt_pdf import receipt_pdf, yearly_summary_pdf
from tests.integration.flow_app import BOT, PIN, Someone, World

# A real SIREN (Luhn-valid) and a valid French IBAN (ISO 7064 check digits).
SIREN = "775684764"
IBAN = "FR7630006000011234567890189"
RESTOS = OrganisationForm(
    display_name="Les Restos du Cœur",
    legal_name="Association Les Restaurants du Cœur",
    registry_id=SIREN,
    address="42 rue de Clichy, 75009 Paris",
    purpose="Aide alimentaire et insertion",
    tax_receipts=True,
    iban=IBAN,
)


def operator_org(world: World, handle: str = "restos", form: OrganisationForm = RESTOS) -> Member:
    """Registered and verified by the operator, its sandbox account linked by the operator."""
    world.person(handle, member=False)
    member, password = world.app.organisations.register(
        form, email=f"{handle}@org.example", password=None, verify=True
    )
    assert password  # made for it, shown once
    world.app.organisations.link(member.id, "sandbox", handle)
    return member


def donate(world: World, donor: Someone, text_: str) -> str:
    world.clock.advance(minutes=1)
    world.post(donor, text_)
    (intent_id,) = world.pending(donor)
    return intent_id


def pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def field(text_: str, label: str) -> str:
    match = re.search(re.escape(label) + r"\s*:\s*(.+)", text_)
    assert match is not None, f"{label!r} not in:\n{text_}"
    return match.group(1).strip()


def test_invalid_siren_siret_and_iban_are_refused(world: World) -> None:
    assert check_registry_id("775 684 764") == ("siren", SIREN)
    assert check_registry_id("W751234567") == ("rna", "W751234567")
    assert check_registry_id("77568476400001")[0] == "siret"
    for wrong in ("775684765", "77568476400002", "W75123", "12345"):
        with pytest.raises(EnvoiError) as refused:
            check_registry_id(wrong)
        assert refused.value.code is ErrorCode.INVALID_REGISTRY_ID
    assert check_iban("FR76 3000 6000 0112 3456 7890 189") == IBAN
    with pytest.raises(EnvoiError) as refused:
        check_iban("FR7630006000011234567890188")  # one digit off
    assert refused.value.code is ErrorCode.INVALID_IBAN
    # Through the service: nothing is created.
    from dataclasses import replace

    for form, code in (
        (replace(RESTOS, registry_id="775684765"), ErrorCode.INVALID_REGISTRY_ID),
        (replace(RESTOS, iban="FR7630006000011234567890188"), ErrorCode.INVALID_IBAN),
    ):
        with pytest.raises(EnvoiError) as refused:
            world.app.organisations.register(form, email="x@org.example", password=None)
        assert refused.value.code is code
    assert world.app.organisations.listing() == []


def test_a_members_own_organisation_stays_unverified_and_donations_are_refused(
    world: World,
) -> None:
    alice = world.person("alice", funds=50_00)
    world.person("asso", member=False)
    org, _ = world.app.organisations.register(
        RESTOS,
        email="asso@org.example",
        password="long enough password",
        created_by=alice.member.id,
    )
    world.app.organisations.link(org.id, "sandbox", "asso")
    assert not org.verified
    assert [m.id for m, _ in world.app.organisations.listing(verified=False)] == [org.id]
    world.post(alice, f"@{BOT} #don 10€ @asso")
    assert world.pending(alice) == []
    assert world.available(alice) == 50_00  # nothing held
    (reply,) = world.replies(alice)
    assert "pas encore une association vérifiée" in reply
    english = render_error(EnvoiError(ErrorCode.ORGANISATION_NOT_VERIFIED, payee="X"), "en")
    assert "not yet an organisation verified" in english
    # Once the operator verifies it, the same donation goes through.
    world.app.organisations.verify(org.id, operator="test")
    intent_id = donate(world, alice, f"@{BOT} #donner 10€ @asso")
    world.app.lifecycle.confirm(alice.member.id, intent_id, PIN)
    assert world.available(alice) == 40_00


def test_a_donation_by_post_gets_its_tax_receipt_field_by_field(world: World) -> None:
    org = operator_org(world)
    alice = world.person("alice", funds=100_00)
    world.app.donations.set_donor_details(
        alice.member.id, full_name="Alice Martin", address="3 rue des Lilas, 69001 Lyon"
    )
    intent_id = donate(world, alice, f"@{BOT} #donate 42,50€ @restos")
    world.app.donations.choose(alice.member.id, intent_id, message="Bon courage !", anonymous=False)
    world.app.lifecycle.confirm(alice.member.id, intent_id, PIN)
    assert world.available(alice) == 57_50
    assert world.app.wallet.balance(org.id).posted == 42_50
    (receipt,) = world.app.donations.receipts(alice.member.id)
    assert (receipt.year, receipt.number) == (2026, 1)
    got = pdf_text(receipt_pdf(receipt))
    assert field(got, "Numéro d'ordre du reçu") == "2026-000001"
    assert field(got, "Nom ou dénomination") == "Association Les Restaurants du Cœur"
    assert field(got, "Adresse").startswith("42 rue de Clichy, 75009 Paris")
    assert field(got, "Numéro SIREN, SIRET ou RNA") == SIREN
    assert field(got, "Nom") == "Alice Martin"
    assert "3 rue des Lilas, 69001 Lyon" in got
    assert field(got, "Montant en chiffres").replace("\u202f", " ").replace("\xa0", " ") in (
        "42,50 €",
        "42,50 EUR",
    )
    assert field(got, "Montant en toutes lettres") == "quarante-deux euros et cinquante centimes"
    assert field(got, "Date du versement ou du don") == "27/11/2026"
    assert field(got, "Forme du don") == "Déclaration de don manuel"
    assert field(got, "Nature du don") == "Numéraire"
    assert field(got, "Mode de versement") == "Virement, prélèvement, carte bancaire"
    assert "article 200 du CGI" in " ".join(got.split())
    # The organisation's page: its badge and this donation, with the name she chose.
    page = world.app.organisations.page(org.id)
    assert page.member.verified
    assert page.organisation.purpose == "Aide alimentaire et insertion"
    (seen,) = page.donations
    assert (seen.donor, seen.message) == ("Alice", "Bon courage !")
    assert seen.amount is not None
    assert seen.amount.minor == 42_50


def test_anonymous_by_default_on_the_public_page(world: World) -> None:
    org = operator_org(world)
    bob = world.person("bob", funds=20_00)
    intent_id = donate(world, bob, f"@{BOT} #don 5€ @restos")
    world.app.lifecycle.confirm(bob.member.id, intent_id, PIN)
    (seen,) = world.app.organisations.page(org.id).donations
    assert seen.donor is None


def test_a_correction_cancels_and_replaces_and_the_receipt_never_changes(
    world: World, engine: Engine
) -> None:
    operator_org(world)
    alice = world.person("alice", funds=100_00)
    for amount in ("10€", "15€"):
        intent_id = donate(world, alice, f"@{BOT} #don {amount} @restos")
        world.app.lifecycle.confirm(alice.member.id, intent_id, PIN)
    first, second = world.app.donations.receipts(alice.member.id)
    assert first.donor_address == "Adresse non communiquée"
    world.app.donations.set_donor_details(
        alice.member.id, full_name="Alice Martin", address="3 rue des Lilas, 69001 Lyon"
    )
    corrected = world.app.donations.reissue(alice.member.id, first.id)
    assert corrected.number == 3
    assert corrected.cancels_id == first.id
    assert corrected.donor_address == "3 rue des Lilas, 69001 Lyon"
    assert corrected.amount == first.amount
    with pytest.raises(EnvoiError) as again:
        world.app.donations.reissue(alice.member.id, first.id)
    assert again.value.code is ErrorCode.RECEIPT_ALREADY_CANCELLED
    old = world.app.donations.receipt(alice.member.id, first.id)
    assert old.cancelled_at is not None
    assert old.donor_address == "Adresse non communiquée"
    assert "ANNULÉ" in pdf_text(receipt_pdf(old))
    assert first.id in pdf_text(receipt_pdf(corrected))
    # The database itself refuses to change an issued receipt.
    with pytest.raises(Exception, match="immutable"), engine.begin() as conn:
        conn.execute(
            text("UPDATE tax_receipts SET amount_minor = 1 WHERE id = :id"), {"id": second.id}
        )
    # Yearly summary: the receipts in force (second and the correction), and their total.
    summary = pdf_text(
        yearly_summary_pdf("Alice Martin", 2026, world.app.donations.receipts(alice.member.id))
    )
    assert "2026-000002" in summary
    assert "2026-000003" in summary
    assert "2026-000001" not in summary
    assert field(summary, "Total en toutes lettres") == "vingt-cinq euros"


def test_receipt_numbers_have_no_gaps_under_16_concurrent_donations(
    world: World, is_postgres: bool
) -> None:
    if not is_postgres:
        pytest.skip("SQLite serialises every writer: the race needs PostgreSQL")
    operator_org(world)
    donors = [world.person(f"donor{i}", funds=30_00) for i in range(16)]
    for i, donor in enumerate(donors):  # sixteen authors: no per-author rate to wait for
        world.post(donor, f"@{BOT} #don {i + 1}€ @restos")
    intents = [world.pending(d)[0] for d in donors]
    barrier = threading.Barrier(16)
    errors: list[BaseException] = []

    def confirm(i: int) -> None:
        barrier.wait()
        try:
            world.app.lifecycle.confirm(donors[i].member.id, intents[i], PIN)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=confirm, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    numbers = sorted(r.number for d in donors for r in world.app.donations.receipts(d.member.id))
    assert numbers == list(range(1, 17))
