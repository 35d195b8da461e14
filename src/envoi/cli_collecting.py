"""``envoi org …`` and ``envoi payouts …``: the operator's commands for collecting money."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import typer

if TYPE_CHECKING:
    from envoi.bootstrap import Envoi

org_app = typer.Typer(
    help="Organisations: register, verify, link their network accounts, list.",
    no_args_is_help=True,
)
T = TypeVar("T")


@contextmanager
def _envoi() -> Iterator[Envoi]:
    from envoi.bootstrap import bootstrap, prepare
    from envoi.cli import _configure_logging
    from envoi.config import get_settings

    settings = get_settings()
    _configure_logging(settings, quiet=True)
    envoi = bootstrap(settings)
    prepare(envoi)
    try:
        yield envoi
    finally:
        envoi.engine.dispose()


def _or_exit(action: Callable[[], T]) -> T:
    from envoi.domain.errors import EnvoiError
    from envoi.domain.messages import render_error

    try:
        return action()
    except EnvoiError as error:
        typer.echo(f"Refused: {error.code.value}: {render_error(error, 'en')}", err=True)
        raise typer.Exit(1) from None


@org_app.command("register")
def register(  # noqa: PLR0917 — one Typer option per field
    email: str = typer.Option(..., help="The organisation's own sign-in e-mail."),
    name: str = typer.Option(..., help="The name people see (display name)."),
    legal_name: str = typer.Option(..., help="Legal name, as on receipts."),
    registry_id: str = typer.Option(..., "--registry-id", help="SIREN, SIRET or RNA number."),
    address: str = typer.Option(..., help="Postal address, as on receipts."),
    purpose: str = typer.Option("", help="What it collects for (its public page)."),
    iban: str | None = typer.Option(None, help="Where its payouts go."),
    bic: str | None = typer.Option(None),
    tax_receipts: bool = typer.Option(False, "--tax-receipts", help="May issue tax receipts."),
    verify: bool = typer.Option(False, "--verify", help="Verified now (papers checked)."),
) -> None:
    """Register an organisation (unverified unless --verify); prints its id and, once,
    the password made for its account."""
    from envoi.services.organisations import OrganisationForm

    form = OrganisationForm(
        display_name=name,
        legal_name=legal_name,
        registry_id=registry_id,
        address=address,
        purpose=purpose,
        tax_receipts=tax_receipts,
        iban=iban,
        bic=bic,
    )
    with _envoi() as envoi:
        member, password = _or_exit(
            lambda: envoi.organisations.register(form, email=email, password=None, verify=verify)
        )
    state = "verified" if member.verified else "unverified"
    typer.echo(f"{member.id} {state}")
    typer.echo(f"password (shown once): {password}")


@org_app.command("verify")
def verify(organisation_id: str = typer.Argument(..., help="mem_…")) -> None:
    """The papers are checked: the badge, and donations may come in (audit trail)."""
    with _envoi() as envoi:
        member = _or_exit(lambda: envoi.organisations.verify(organisation_id, operator="cli"))
    typer.echo(f"{member.id} verified")


@org_app.command("link")
def link(
    organisation_id: str = typer.Argument(..., help="mem_…"),
    network: str = typer.Option(..., help="e.g. sandbox, mastodon"),
    handle: str = typer.Option(..., help="Its handle on that network."),
) -> None:
    """Link a network account the operator vouches is the organisation's."""
    with _envoi() as envoi:
        identity = _or_exit(lambda: envoi.organisations.link(organisation_id, network, handle))
    typer.echo(
        f"{organisation_id} linked to {network}:{identity.handle} ({identity.network_user_id})"
    )


@org_app.command("list")
def listing(
    unverified: bool = typer.Option(False, "--unverified", help="Only those to verify."),
) -> None:
    """Organisations: id, badge, legal name, registry number."""
    with _envoi() as envoi:
        found = envoi.organisations.listing(verified=False if unverified else None)
    for member, org in found:
        badge = "verified  " if member.verified else "unverified"
        typer.echo(f"{member.id}  {badge}  {org.registry_kind}:{org.registry_id}  {org.legal_name}")


payouts_app = typer.Typer(
    help="Payouts to IBANs: SEPA batches for the bank, executed, rejections.",
    no_args_is_help=True,
)


@payouts_app.command("batch")
def batch(
    out: str = typer.Option(..., "--out", help="Where to write the pain.001.001.09 file."),
) -> None:
    """Every pending payout into one SEPA credit-transfer file (validated against the
    ISO 20022 XSD), for the bank's back office."""
    with _envoi() as envoi:
        made = _or_exit(lambda: envoi.payouts.create_batch(operator="cli"))
    Path(out).write_text(made.xml, encoding="utf-8")
    typer.echo(f"{made.id} {made.count} transfers {made.total.format('en')} -> {out}")


@payouts_app.command("executed")
def executed(batch_id: str = typer.Argument(..., help="bat_…")) -> None:
    """The bank executed the batch: its payouts are posted."""
    with _envoi() as envoi:
        count = _or_exit(lambda: envoi.payouts.mark_executed(batch_id, operator="cli"))
    typer.echo(f"{batch_id} executed: {count} payouts posted")


@payouts_app.command("status")
def status(report: str = typer.Argument(..., help="The bank's pain.002 file.")) -> None:
    """Apply the bank's status report: each rejected line is voided (money back)."""
    data = Path(report).read_bytes()
    with _envoi() as envoi:
        rejected = _or_exit(lambda: envoi.payouts.apply_status_report(data, operator="cli"))
    for payout in rejected:
        typer.echo(f"{payout.id} rejected: {payout.amount.format('en')} back")
    typer.echo(f"{len(rejected)} rejected")


@payouts_app.command("list")
def batches() -> None:
    """Batches, newest first."""
    with _envoi() as envoi:
        found = envoi.payouts.batches()
    for b in found:
        state = f"executed {b.executed_at:%Y-%m-%d}" if b.executed_at else "sent"
        typer.echo(f"{b.id}  {b.count:4d}  {b.total.format('en'):>14}  {state}")


@org_app.command("fees")
def fees(month: str = typer.Argument(..., help="YYYY-MM (Paris time)")) -> None:
    """Per organisation (or pot owner) and kind: payments, amount collected, fees taken."""
    try:
        year, number = (int(part) for part in month.split("-"))
        if not 1 <= number <= 12:
            raise ValueError(month)
    except ValueError:
        typer.echo("Refused: the month is YYYY-MM", err=True)
        raise typer.Exit(2) from None
    with _envoi() as envoi:
        lines = envoi.payouts.fee_report(year, number)
    for line in lines:
        typer.echo(
            f"{line.payee_id}  {line.payee_name}  {line.kind}  {line.count}  "
            f"{line.amount.format('en')}  fees {line.fees.format('en')}"
        )
