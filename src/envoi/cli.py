"""The ``envoi`` command."""

from __future__ import annotations

import multiprocessing
import multiprocessing.process
import subprocess
import sys
from typing import TYPE_CHECKING

import typer

from envoi.cli_collecting import org_app, payouts_app
from envoi.config import MIN_SECRET_LENGTH, Settings, get_settings

if TYPE_CHECKING:
    from envoi.bootstrap import Envoi

app = typer.Typer(
    help="envoi: pay by posting on a social network. Settings come from ENVOI_* variables "
    "(ENVOI_DATABASE_URL, ENVOI_BOT_HANDLE, ENVOI_PIN_KEY…).",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
sandbox_app = typer.Typer(help="The built-in sandbox social network.", no_args_is_help=True)
app.add_typer(db_app, name="db")
ledger_app = typer.Typer(help="The double-entry ledger.", no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(ledger_app, name="ledger")
psp_app = typer.Typer(
    help="The card processor: reconciliation, refunds, what members owe.", no_args_is_help=True
)
app.add_typer(psp_app, name="psp")
audit_app = typer.Typer(help="The hash-chained audit trail.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
networks_app = typer.Typer(help="The social networks this deployment runs.", no_args_is_help=True)
app.add_typer(networks_app, name="networks")
app.add_typer(org_app, name="org")
app.add_typer(payouts_app, name="payouts")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _configure_logging(settings: Settings, quiet: bool = False) -> None:
    """Structured logs at ENVOI_LOG_LEVEL; one-shot commands stay quiet below warnings."""
    import logging

    import structlog

    level = logging.getLevelName("WARNING" if quiet else settings.log_level.upper())
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(
            level if isinstance(level, int) else logging.INFO
        )
    )


BASE_URL_FACT = "base_url"


def _record_base_url(settings: Settings, base: str) -> None:
    """Remember where the server answers, so one-shot commands (``envoi sandbox post``,
    ``envoi demo``) started from another terminal send links that work."""
    from envoi.adapters.db.engine import make_engine
    from envoi.adapters.db.profile_tables import record_fact
    from envoi.services.context import SystemClock

    engine = make_engine(settings.database_url)
    try:
        with engine.begin() as conn:
            record_fact(conn, BASE_URL_FACT, base, SystemClock().now())
    finally:
        engine.dispose()


def links_follow_server(settings: Settings, port: int | None = None) -> Settings:
    """The settings a one-shot command uses for the links it sends: ENVOI_BASE_URL when set,
    else the port it was given, else the URL the last ``envoi run`` recorded."""
    if "base_url" in settings.model_fields_set:
        return settings
    if port is not None:
        return settings.model_copy(update={"base_url": f"http://127.0.0.1:{port}"})
    from sqlalchemy.exc import SQLAlchemyError

    from envoi.adapters.db.engine import make_engine
    from envoi.adapters.db.profile_tables import read_fact

    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            recorded = read_fact(conn, BASE_URL_FACT)
    except SQLAlchemyError:
        recorded = None  # a database not migrated yet: nothing recorded
    finally:
        engine.dispose()
    return settings.model_copy(update={"base_url": recorded}) if recorded else settings


GENERATE_KEY = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'


def _check_secrets(settings: Settings) -> None:
    """Refuse to serve a real database with the published demo keys (or short ones).

    On SQLite (the demo, a developer's machine) a one-line warning is enough.
    """
    weak = settings.insecure_secrets()
    if not weak:
        return
    names = " and ".join(weak)
    default = "is the published demo default" if len(weak) == 1 else "are the demo defaults"
    problem = f"{names} {default} or shorter than {MIN_SECRET_LENGTH} characters"
    if settings.uses_sqlite:
        typer.echo(f"Warning: {problem} (acceptable for a SQLite demo only).", err=True)
        return
    typer.echo(
        f"Refusing to start on {_safe_url(settings.database_url)}: {problem}. "
        f"Set {names} to a secret of your own, for example generated with: {GENERATE_KEY}",
        err=True,
    )
    raise typer.Exit(1)


def _assemble(settings: Settings) -> Envoi:
    """Wire the service, or refuse with the reason when the settings must not run."""
    from envoi.bootstrap import ConfigurationError, bootstrap

    try:
        return bootstrap(settings)
    except ConfigurationError as error:
        typer.echo(f"Refusing to start: {error}.", err=True)
        raise typer.Exit(1) from None


def _announce_parts(settings: Settings) -> None:
    import structlog

    from envoi.bootstrap import describe

    parts = describe(settings)
    structlog.get_logger("envoi").info("parts", **parts)
    networks = ", ".join(settings.enabled_networks) or "none"
    typer.echo(
        f"networks: {networks}; card processor: {settings.enabled_card_processor}"
        + ("  [SANDBOX: test money]" if parts["sandbox"] else "")
    )


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending migrations to ENVOI_DATABASE_URL (SQLite file envoi.db by default)."""
    from envoi.adapters.db.migrate import upgrade

    url = get_settings().database_url
    upgrade(url)
    typer.echo(f"Schema up to date: {_safe_url(url)}")


@app.command()
def run(
    port: int = typer.Option(8000, envvar="PORT", help="TCP port to listen on."),
    host: str = typer.Option("127.0.0.1", help="Address to bind."),
    workers: bool = typer.Option(True, help="Run the background jobs in this process too."),
    processes: int = typer.Option(
        1,
        min=1,
        help="Serve the API from this many processes (uses every core); the background jobs "
        "then run in one more process of their own.",
    ),
) -> None:
    """Start the API, the web wallet and the workers (one process by default; migrates first)."""
    import os
    import shutil
    import tempfile

    import uvicorn

    from envoi.adapters.db.migrate import upgrade
    from envoi.bootstrap import prepare
    from envoi.web.app import create_app

    settings = get_settings()
    _check_secrets(settings)
    _configure_logging(settings)
    base = f"http://{host}:{port}"
    if "base_url" not in settings.model_fields_set:
        # Links sent to people (replies, 3-D Secure) must point where we listen.
        settings = settings.model_copy(update={"base_url": base})
    envoi = _assemble(settings)
    upgrade(settings.database_url)
    _record_base_url(settings, settings.base_url)
    typer.echo(f"envoi on {base}  — wallet: {base}/  API docs: {base}/docs")
    _announce_parts(settings)
    if processes == 1:
        uvicorn.run(
            create_app(envoi, run_workers=workers),
            host=host,
            port=port,
            log_level="warning",
        )
        return
    # Several processes: each API process builds its own app from the environment (uvicorn
    # imports the factory in every child), so the derived base URL goes there too.
    os.environ["ENVOI_BASE_URL"] = settings.base_url
    # Each process writes its metrics here and /metrics sums them (prometheus-client's
    # multiprocess mode); a fresh directory, so no dead process's counts linger.
    metrics_dir = tempfile.mkdtemp(prefix="envoi-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    prepare(envoi)  # once, before the children race to create the same rows
    worker_proc = _start_worker() if workers else None
    try:
        uvicorn.run(
            "envoi.web.app:create_api_only_app",
            factory=True,
            host=host,
            port=port,
            workers=processes,
            log_level="warning",
        )
    finally:
        if worker_proc is not None:
            worker_proc.terminate()
            worker_proc.wait(timeout=30)
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _start_worker() -> subprocess.Popen[bytes]:
    """``envoi worker`` beside the API processes, with the same settings; on Linux it is
    stopped with this process even when this one is killed outright (no orphan worker)."""
    import sys

    return subprocess.Popen(
        [sys.executable, "-m", "envoi.cli", "worker"],
        preexec_fn=_stop_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
    )


def _stop_with_parent() -> None:
    import ctypes
    import signal

    pr_set_pdeathsig = 1  # from <linux/prctl.h>
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


@app.command()
def worker(
    once: bool = typer.Option(False, help="Run every job once and exit."),
) -> None:
    """Run the background jobs alone (start several against PostgreSQL to scale out)."""
    import threading

    from envoi.bootstrap import prepare
    from envoi.workers.runner import run_once, run_until

    settings = get_settings()
    _check_secrets(settings)
    _configure_logging(settings)
    envoi = _assemble(settings)
    _announce_parts(settings)
    prepare(envoi)
    if once:
        for name, count in run_once(envoi.jobs).items():
            typer.echo(f"{name}: {count}")
        return
    typer.echo(f"envoi worker polling every {settings.worker_poll_s}s (Ctrl-C to stop)")
    # Each network's ingest loop in a process of its own: one network's outage or slow
    # long-poll never holds up the jobs or another network.
    readers = [_start_ingest_process(name) for name in envoi.ingests]
    stop = threading.Event()
    try:
        run_until(envoi.jobs, settings.worker_poll_s, stop)
    except KeyboardInterrupt:
        stop.set()
    finally:
        for process in readers:
            process.terminate()
            process.join(10)


def _start_ingest_process(network: str) -> multiprocessing.process.BaseProcess:
    process = multiprocessing.get_context("spawn").Process(
        target=_ingest_main, args=(network,), name=f"envoi-ingest-{network}", daemon=True
    )
    process.start()
    return process


def _ingest_main(network: str) -> None:
    """Body of an ingest process: its own service assembly, one network's loop."""
    import threading

    from envoi.bootstrap import bootstrap
    from envoi.workers.ingest import run_ingest

    settings = get_settings()
    _configure_logging(settings)
    envoi = bootstrap(settings)
    stop = threading.Event()
    try:
        run_ingest(network, envoi.ingests[network].step, stop)
    except KeyboardInterrupt:
        stop.set()


@app.command()
def ingest(network: str = typer.Argument(help="A configured network, e.g. matrix.")) -> None:
    """Run one network's ingest loop alone, in the foreground."""
    from envoi.bootstrap import bootstrap

    settings = get_settings()
    _check_secrets(settings)
    envoi = bootstrap(settings)
    if network not in envoi.ingests:
        raise typer.BadParameter(f"no ingest for {network!r}; configured: {sorted(envoi.ingests)}")
    _ingest_main(network)


@app.command()
def demo(
    once: bool = typer.Option(False, help="Do nothing if the demo story is already there."),
    port: int | None = typer.Option(
        None, envvar="PORT", help="Port the server will listen on (links in replies use it)."
    ),
) -> None:
    """Seed the demo story: Alice, Bob, an organisation, a pot and a payment to confirm."""
    from envoi.adapters.db.migrate import upgrade
    from envoi.demo import (
        PASSWORD,
        PIN,
        already_seeded,
        fresh_token_for_carol,
        refresh_pending,
        seed,
    )

    settings = get_settings()
    _configure_logging(settings, quiet=True)
    if not settings.sandbox_allowed:
        typer.echo(
            "Refusing to seed demo people and test money into "
            f"{_safe_url(settings.database_url)}: the demo runs on SQLite, or elsewhere only "
            "with ENVOI_SANDBOX=1 (never in production).",
            err=True,
        )
        raise typer.Exit(1)
    envoi = _assemble(links_follow_server(settings, port))
    if envoi.sandbox_network is None:
        typer.echo("The demo story needs the sandbox network in ENVOI_NETWORKS.", err=True)
        raise typer.Exit(1)
    upgrade(settings.database_url)
    if already_seeded(envoi):
        if once:
            typer.echo(
                "Demo story already seeded (delete envoi.db to start afresh): "
                f"alice@demo.envoi, bob@demo.envoi, asso@demo.envoi / {PASSWORD}, PIN {PIN}."
            )
            # Say only what is true now: a payment is waiting, or why none could be posted.
            if refresh_pending(envoi):
                typer.echo(
                    f"Alice has a payment to confirm: her post '@{settings.bot_handle} "
                    "#envoyer 5€ @bob' (posted again when the last one was confirmed, "
                    "cancelled or expired)."
                )
            else:
                typer.echo(
                    "Alice has no payment waiting: her post was refused "
                    "(see her wallet's notifications)."
                )
            token = fresh_token_for_carol(envoi)
            if token:
                typer.echo(
                    "Carol (no wallet yet) has a new sandbox token, to claim what Alice "
                    f"sent her once Alice has confirmed it: {token}"
                )
            else:
                typer.echo("Carol has linked her sandbox account to a wallet: no token to print.")
            return
        raise typer.BadParameter("the demo story is already seeded; use --once or a fresh database")
    story = seed(envoi)
    bot = settings.bot_handle
    typer.echo("Demo story ready:")
    for person in story.people:
        who = f"{person.email} / {PASSWORD}, PIN {PIN}" if person.email else "no wallet yet"
        typer.echo(f"  @{person.handle:<12} {person.name:<28} {who}")
        typer.echo(f"  {'':13} sandbox token: {person.sandbox_token}")
    typer.echo(f"Alice posted '@{bot} #envoyer 5€ @bob': sign in as Alice and confirm with {PIN}.")
    typer.echo("Try also:")
    typer.echo(
        f"  envoi sandbox post --as alice '@{bot} #envoyer 3€ @carol'   (Carol has no wallet)"
    )
    typer.echo(f"  envoi sandbox post --as bob '@{bot} #cagnotte 10€ #AnnivJulie'")
    typer.echo(f"  envoi sandbox post --as alice '@{bot} #don 2€ @restos_demo'")
    typer.echo(f"  envoi sandbox post --as bob '@{bot} #envoyer 1,000€ @alice'   (ambiguous)")


@ledger_app.command("check")
def ledger_check(
    full: bool = typer.Option(
        False,
        "--full",
        help="Read every transfer again, not only those since the last checkpoint"
        " (run it nightly: it also finds a verified row rewritten behind the ledger's back).",
    ),
) -> None:
    """Prove the ledger's invariants: balances sum to zero, every balance equals its transfers.

    By default, from the last checkpoint: every balance, the holds still pending and the
    transfers written since; a sound run saves a new checkpoint. The first run is full."""
    from envoi.adapters.db.engine import make_engine
    from envoi.adapters.db.ledger_check import STEPS, check_and_checkpoint

    engine = make_engine(get_settings().database_url)
    try:
        with typer.progressbar(length=len(STEPS), label="Checking", file=sys.stderr) as bar:
            run = check_and_checkpoint(engine, full=full, progress=lambda _step: bar.update(1))
    finally:
        engine.dispose()
    if run.problems:
        for problem in run.problems:
            typer.echo(f"PROBLEM {problem}", err=True)
        raise typer.Exit(1)
    scope = "every transfer" if run.since == 0 else f"the transfers after #{run.since:,}"
    typer.echo(
        f"Ledger OK: every currency sums to zero and every balance matches its transfers"
        f" ({scope}: {run.transfers:,} read in {run.seconds:.1f} s; checkpoint at #{run.upto:,})."
    )


@networks_app.command("status")
def networks_status() -> None:
    """Each network: where its reader resumes, and what it costs (X: the month's spend)."""
    import json

    from envoi.adapters.db.repo_networks import SqlCursors

    envoi = _assemble(get_settings())
    cursors = SqlCursors(envoi.engine)
    for name in envoi.settings.enabled_networks:
        shown: dict[str, object] = {"cursor": cursors.load(name)}
        if name in envoi.network_status:
            shown |= envoi.network_status[name]()
        typer.echo(f"{name}: {json.dumps(shown, sort_keys=True)}")
    envoi.engine.dispose()


@audit_app.command("verify")
def audit_verify() -> None:
    """Prove the audit trail: every chain unbroken, every hash recomputed, heads matching.

    Prints each chain's head (shard, last seq, hash): kept elsewhere, they also prove
    that no tail of a chain was cut off later."""
    from envoi.adapters.db.audit import verify
    from envoi.adapters.db.engine import make_engine

    engine = make_engine(get_settings().database_url)
    try:
        with engine.connect() as conn:
            verdict = verify(conn)
    finally:
        engine.dispose()
    for shard, (seq, digest) in sorted(verdict.heads.items()):
        typer.echo(f"head shard={shard} seq={seq} hash={digest}")
    if verdict.problems:
        for problem in verdict.problems:
            typer.echo(f"PROBLEM {problem}", err=True)
        raise typer.Exit(1)
    typer.echo(f"Audit trail OK: {verdict.rows} rows in {len(verdict.heads)} chains.")


@ledger_app.command("balance")
def ledger_balance(account_id: str = typer.Argument(..., help="e.g. wallet:mem_…")) -> None:
    """Show one account's posted, pending and available balance (minor units)."""
    from envoi.adapters.db.engine import make_engine
    from envoi.adapters.db.ledger_store import SqlLedger
    from envoi.services.context import SystemClock

    engine = make_engine(get_settings().database_url)
    try:
        with engine.connect() as conn:
            balance = SqlLedger(conn, SystemClock().now).balance(account_id)
    except KeyError:
        typer.echo(f"No ledger account {account_id!r} (ids look like wallet:mem_…).", err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    typer.echo(
        f"{account_id}: posted {balance.posted}, pending out {balance.debits_pending}, "
        f"pending in {balance.credits_pending}, available {balance.available} {balance.currency}"
    )


@sandbox_app.command("post")
def sandbox_post(
    text: str = typer.Argument(..., help="What to post, e.g. '@SmoneyFR #envoyer 5€ @bob'."),
    as_: str = typer.Option(..., "--as", help="Handle of the sandbox account that posts."),
    direct: bool = typer.Option(False, help="Send as a direct message to the bot."),
) -> None:
    """Post on the sandbox network as someone, and show what envoi answered."""
    from envoi.bootstrap import prepare
    from envoi.domain.errors import EnvoiError
    from envoi.domain.messages import render_error

    settings = links_follow_server(get_settings())
    _configure_logging(settings, quiet=True)
    envoi = _assemble(settings)
    sandbox = envoi.sandbox_network
    if sandbox is None:
        typer.echo("The sandbox network is off (ENVOI_NETWORKS does not include it).", err=True)
        raise typer.Exit(1)
    prepare(envoi)
    account = sandbox.get_by_handle(as_.lstrip("@"))
    if account is None:
        typer.echo(f"No sandbox account @{as_.lstrip('@')}.", err=True)
        raise typer.Exit(1)
    try:
        post = sandbox.post(
            account.id,
            text,
            visibility="direct" if direct else "public",
            to=settings.bot_handle if direct else None,
        )
    except EnvoiError as error:
        limits = ", ".join(f"{k} {v}" for k, v in error.params.items() if k != "field")
        why = render_error(error, "en", reason=error.params.get("field", "text"))
        typer.echo(f"Not posted: {why}" + (f" ({limits})" if limits else ""), err=True)
        raise typer.Exit(1) from None
    sandbox.deliver(post.id, envoi.intake)
    envoi.delivery.deliver_due()
    typer.echo(f"Posted {post.id} as @{account.handle}.")
    # The bot's answer to this post: a reply to it, or a DM sent after it.
    answers = [
        a
        for a in sandbox.inbox(account.id, limit=20)
        if a.author.handle.lower() == settings.bot_handle.lower()
        and (a.in_reply_to == post.id or (a.visibility == "direct" and a.cursor > post.cursor))
    ]
    if not answers:
        typer.echo("  (no answer: not a command)")
    for answer in answers:
        typer.echo(f"  @{answer.author.handle}: {answer.text}")


@psp_app.command("reconcile")
def psp_reconcile(
    since: str = typer.Option(..., help="First day to compare, YYYY-MM-DD (UTC)."),
) -> None:
    """Compare the processor's payments and balance movements since DATE with envoi's
    top-ups, refunds and ledger; list every difference (exit 1 when there is one)."""
    from datetime import UTC, datetime

    from envoi.bootstrap import bootstrap

    try:
        start = datetime.strptime(since, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        typer.echo(f"--since {since!r}: expected YYYY-MM-DD.", err=True)
        raise typer.Exit(2) from None
    settings = get_settings()
    _configure_logging(settings, quiet=True)
    envoi = bootstrap(settings)
    if envoi.ctx.processor is None:
        typer.echo("No card processor configured (ENVOI_CARD_PROCESSOR).", err=True)
        raise typer.Exit(2)
    name = envoi.ctx.processor.name
    try:
        differences = envoi.reconciliation.differences(start)
    finally:
        envoi.engine.dispose()
    for d in differences:
        typer.echo(f"DIFFERENCE {d.code} {d.ref}: {d.detail}")
    if differences:
        typer.echo(f"{len(differences)} difference(s) with {name} since {since}.", err=True)
        raise typer.Exit(1)
    typer.echo(f"No difference with {name} since {since}.")


@psp_app.command("refund")
def psp_refund(
    topup_id: str | None = typer.Argument(
        None, help="The top-up to refund to its card (top_…); none with --resume."
    ),
    amount_minor: int | None = typer.Option(
        None, "--amount-minor", help="Minor units; default: all that is left of it."
    ),
    resume: bool = typer.Option(
        False,
        "--resume",
        help="Finish refunds the processor did not answer: ask it whether each was made,"
        " then post or release its hold (the worker does this by itself).",
    ),
    older_than_s: int = typer.Option(
        300,
        "--older-than-s",
        help="With --resume: only refunds asked at least this long ago (a younger one's"
        " request may still be under way).",
    ),
) -> None:
    """Refund a card top-up: at most what the member still holds (the rest is reported)."""
    from envoi.bootstrap import bootstrap, prepare
    from envoi.domain.errors import EnvoiError
    from envoi.domain.messages import render_error

    if resume == (topup_id is not None):
        typer.echo("Give a top-up id, or --resume (not both).", err=True)
        raise typer.Exit(2)
    settings = get_settings()
    _configure_logging(settings, quiet=True)
    envoi = bootstrap(settings)
    prepare(envoi)
    try:
        if resume:
            finished = envoi.reversals.resume(older_than_s=older_than_s)
            for done in finished:
                made = "refunded" if done.status == "succeeded" else "not made, hold released"
                ref = f", {done.processor_refund_ref}" if done.processor_refund_ref else ""
                typer.echo(f"{done.id}: {made} ({done.amount.format('en')}{ref}).")
            typer.echo(f"{len(finished)} pending refund(s) finished.")
            return
        assert topup_id is not None
        outcome = envoi.reversals.refund(topup_id, amount_minor)
    except EnvoiError as error:
        typer.echo(f"Not refunded: {error.code.value}: {render_error(error, 'en')}", err=True)
        raise typer.Exit(1) from None
    finally:
        envoi.engine.dispose()
    refund = outcome.refund
    typer.echo(
        f"Refunded {refund.amount.format('en')} ({refund.id}, {refund.processor_refund_ref})."
    )
    if outcome.not_refunded.minor:
        rest = outcome.not_refunded.format("en")
        typer.echo(
            f"REFUND_EXCEEDS_BALANCE: {rest} not refunded: the member no longer holds it.",
            err=True,
        )
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
