"""The one place that wires adapters to services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from fastapi import APIRouter
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from envoi.adapters.db.engine import make_engine
from envoi.adapters.db.gauges import DatabaseGauges
from envoi.adapters.db.repo_networks import SqlCursors
from envoi.adapters.db.repo_oauth import SqlOAuthStates
from envoi.adapters.db.uow import uow_factory
from envoi.adapters.networks.sandbox.api import create_sandbox_router
from envoi.adapters.networks.sandbox.gateway import SandboxGateway
from envoi.adapters.networks.sandbox.pages import create_sandbox_pages
from envoi.adapters.networks.sandbox.store import SandboxNetwork
from envoi.adapters.networks.x import XNetwork
from envoi.adapters.psp.sandbox import SandboxCardProcessor
from envoi.adapters.psp.sandbox_pages import create_psp_sandbox_router
from envoi.adapters.psp.stripe import StripeCardProcessor
from envoi.adapters.psp.stripe_webhooks import create_stripe_webhook_router
from envoi.config import Settings
from envoi.domain import accounts
from envoi.ledger.model import Account, AccountFlags
from envoi.services.card_events import CardEvents
from envoi.services.context import Context, SystemClock
from envoi.services.delivery import Delivery
from envoi.services.funding import Funding
from envoi.services.ingest import Ingest
from envoi.services.intake import Intake
from envoi.services.lifecycle import Lifecycle
from envoi.services.linking import Linking
from envoi.services.members import Members
from envoi.services.oauth_linking import OAuthLinks
from envoi.services.organisations import Organisations
from envoi.services.payouts import Payouts
from envoi.services.ports import CardProcessor, Clock, NetworkGateway, NetworkReader
from envoi.services.pots import Pots
from envoi.services.psp_reconcile import Reconciliation
from envoi.services.receipts import Donations
from envoi.services.reversals import Reversals
from envoi.services.wallet import Wallet
from envoi.workers.runner import Job

if TYPE_CHECKING:
    from envoi.adapters.networks.mastodon.api import MastodonApi


class ConfigurationError(Exception):
    """The settings name parts this deployment must not (or cannot) run."""


@dataclass
class Envoi:
    """The assembled service: use cases, background jobs and the outside systems' own routes."""

    settings: Settings
    engine: Engine
    ctx: Context
    members: Members
    funding: Funding
    intake: Intake
    lifecycle: Lifecycle
    linking: Linking
    wallet: Wallet
    delivery: Delivery
    sandbox_network: SandboxNetwork | None  # None unless ENVOI_NETWORKS includes it
    reversals: Reversals
    card_events: CardEvents
    reconciliation: Reconciliation
    oauth_links: OAuthLinks
    organisations: Organisations
    donations: Donations
    pots: Pots
    payouts: Payouts
    jobs: dict[str, Job] = field(default_factory=dict)
    # Read from the database at each /metrics scrape.
    gauges: Collector | None = None
    # Each network's reader loop, by network (the sandbox delivers as it is written).
    ingests: dict[str, Ingest] = field(default_factory=dict)
    routers: list[tuple[str, APIRouter]] = field(default_factory=list)
    # What ``envoi networks status`` shows for a network beyond its cursor (X: its spend).
    network_status: dict[str, Callable[[], dict[str, object]]] = field(default_factory=dict)

    @property
    def sandbox(self) -> SandboxNetwork:
        """The sandbox network, for the demo, the CLI and tests; refused when it is off."""
        if self.sandbox_network is None:
            raise ConfigurationError("the sandbox network is off (see ENVOI_NETWORKS)")
        return self.sandbox_network


def system_accounts(currency: str) -> list[Account]:
    """Fees, clearing and escrow touch almost every payment: sharded, never one hot row."""
    return [
        Account(accounts.escrow(currency), currency, "escrow", AccountFlags.SHARDED),
        Account(accounts.card_clearing(currency), currency, "card_clearing", AccountFlags.SHARDED),
        Account(
            accounts.payout_clearing(currency), currency, "payout_clearing", AccountFlags.SHARDED
        ),
        Account(accounts.fees(currency), currency, "fees", AccountFlags.SHARDED),
    ]


def bootstrap(settings: Settings, *, clock: Clock | None = None) -> Envoi:
    problems = settings.configuration_errors()
    if problems:
        raise ConfigurationError("; ".join(problems))
    clock = clock or SystemClock()
    engine = make_engine(settings.database_url)
    gateways, network, x_network = _networks(settings, engine, clock)
    processor: CardProcessor | None = None
    sandbox_processor: SandboxCardProcessor | None = None
    match settings.enabled_card_processor:
        case "sandbox":
            processor = sandbox_processor = SandboxCardProcessor(
                engine, settings.base_url, clock=clock
            )
        case "stripe":
            processor = StripeCardProcessor(
                settings.stripe.secret_key.get_secret_value(),
                base_url=settings.base_url,
                api_base=settings.stripe.api_base,
                redirect_3ds=settings.stripe.redirect_3ds,
                publishable_key=settings.stripe.publishable_key,
            )
        case "none":
            pass  # top-ups answer TOPUP_UNAVAILABLE
        case other:
            raise ConfigurationError(f"card processor {other!r} is not available in this version")
    ctx = Context(
        settings=settings,
        clock=clock,
        uow=uow_factory(engine, clock.now),
        gateways=gateways,
        processor=processor,
    )
    funding = Funding(ctx)
    reversals = Reversals(ctx)
    members = Members(ctx)
    app = Envoi(
        settings=settings,
        engine=engine,
        ctx=ctx,
        members=members,
        funding=funding,
        intake=Intake(ctx),
        lifecycle=Lifecycle(ctx),
        linking=Linking(ctx),
        wallet=Wallet(ctx),
        delivery=Delivery(ctx),
        sandbox_network=network,
        reversals=reversals,
        card_events=CardEvents(ctx, funding, reversals),
        reconciliation=Reconciliation(ctx),
        oauth_links=OAuthLinks(ctx, members, SqlOAuthStates(engine)),
        organisations=Organisations(ctx, members),
        donations=Donations(ctx),
        pots=Pots(ctx, reversals),
        payouts=Payouts(ctx),
        gauges=DatabaseGauges(engine, clock.now),
    )
    app.jobs = {
        "expire_intents": app.lifecycle.expire_due,
        "refund_unclaimed": app.lifecycle.refund_due,
        "claim_linked": app.lifecycle.claim_linked,
        "deliver_outbox": app.delivery.deliver_due,
        "reconcile_topups": app.funding.reconcile,
        "resume_refunds": lambda: len(reversals.resume()),
        "expire_ledger_holds": lambda: _expire_ledger(ctx),
        "settle_campaigns": app.pots.settle_campaigns,
    }
    if network is not None:
        sandbox = network
        app.jobs["sandbox_catch_up"] = lambda: sandbox.deliver_pending(app.intake)
        app.routers += [
            ("/sandbox/api", create_sandbox_router(network, app.intake, settings.bot_handle)),
            ("/sandbox", create_sandbox_pages(network, app.intake, settings.bot_handle)),
        ]
    # Each network that reads by itself, in a loop of its own from its stored cursor.
    app.ingests.update(
        (reader.name, Ingest(reader, app.intake, SqlCursors(engine), wait_s=wait))
        for reader, wait in _readers(settings, gateways)
    )
    if x_network is not None:
        x_parts = x_network
        app.ingests["x"] = Ingest(x_parts.reader, app.intake, SqlCursors(engine))
        app.routers.append(("/webhooks", x_parts.webhook_router(app.intake)))
        app.network_status["x"] = lambda: x_parts.status(clock.now())
    if sandbox_processor is not None:
        app.routers.append(
            (
                "/sandbox/psp",
                create_psp_sandbox_router(
                    sandbox_processor,
                    _charge_updated(app),
                    return_url=f"{settings.base_url.rstrip('/')}/wallet/topup",
                ),
            )
        )
    if isinstance(processor, StripeCardProcessor):
        webhooks = create_stripe_webhook_router(
            app.card_events.handle,
            secret=settings.stripe.webhook_secret.get_secret_value(),
            tolerance_s=settings.stripe.webhook_tolerance_s,
        )
        app.routers.append(("/webhooks", webhooks))
    return app


def _networks(
    settings: Settings, engine: Engine, clock: Clock
) -> tuple[dict[str, NetworkGateway], SandboxNetwork | None, XNetwork | None]:
    """Each enabled network's gateway, and the networks that bring more than one."""
    gateways: dict[str, NetworkGateway] = {}
    network: SandboxNetwork | None = None
    x_network: XNetwork | None = None
    for name in settings.enabled_networks:
        if name == "sandbox":
            network = SandboxNetwork(engine, settings.bot_handle, clock=clock)
            gateways[name] = SandboxGateway(network, settings.bot_handle)
        elif name == "x":
            x_network = XNetwork.build(settings, engine, clock)
            gateways[name] = x_network.gateway
        elif name == "matrix":
            gateways[name] = _matrix(settings)
        elif name == "mastodon":
            # Imported only where Mastodon is on: Mastodon.py costs every process ~0.7 s.
            from envoi.adapters.networks.mastodon.gateway import MastodonGateway

            gateways[name] = MastodonGateway(_mastodon_api(settings))
        elif name == "bluesky":
            gateways[name] = _bluesky(settings, engine)
        else:
            raise ConfigurationError(f"network {name!r} is not available in this version")
    return gateways, network, x_network


def _matrix(settings: Settings) -> NetworkGateway:
    """The Matrix bot: one session per process, shared by its gateway and its reader."""
    from envoi.adapters.networks.matrix.connection import MatrixConnection
    from envoi.adapters.networks.matrix.gateway import MatrixGateway

    config = settings.matrix
    connection = MatrixConnection(
        config.homeserver_url,
        config.user_id,
        config.access_token.get_secret_value(),
        device_id=config.device_id,
        store_path=config.store_path,
    )
    return MatrixGateway(connection)


def _bluesky(settings: Settings, engine: Engine) -> NetworkGateway:
    """The Bluesky bot: one session per process, shared by its gateway and its reader."""
    from envoi.adapters.networks.bluesky.gateway import BlueskyGateway
    from envoi.adapters.networks.bluesky.session import BlueskyConfig, BotSession
    from envoi.adapters.networks.bluesky.store import SqlBlueskyStore, sealing_key

    config = settings.bluesky
    assert config is not None
    # The bot's session survives restarts (sealed), and DMs are sent once per outbox row.
    store = SqlBlueskyStore(engine, sealing_key(settings.token_key.get_secret_value()))
    session = BotSession(
        BlueskyConfig(
            config.service_url,
            config.identifier,
            config.app_password.get_secret_value(),
            config.chat_did,
        ),
        store,
    )
    return BlueskyGateway(session, store)


def _readers(
    settings: Settings, gateways: dict[str, NetworkGateway]
) -> list[tuple[NetworkReader, float]]:
    """The readers of the networks that read by themselves, with the wait of each read."""
    readers: list[tuple[NetworkReader, float]] = []
    if "mastodon" in gateways:
        from envoi.adapters.networks.mastodon.reader import MastodonReader

        readers.append((MastodonReader(_mastodon_api(settings)), 30.0))  # its own client
    if "matrix" in gateways:
        from envoi.adapters.networks.matrix.gateway import MatrixGateway
        from envoi.adapters.networks.matrix.reader import MatrixReader

        matrix = gateways["matrix"]
        assert isinstance(matrix, MatrixGateway)
        readers.append((MatrixReader(matrix.connection), settings.matrix.sync_wait_s))
    if "bluesky" in gateways:
        from envoi.adapters.networks.bluesky.gateway import BlueskyGateway
        from envoi.adapters.networks.bluesky.reader import BlueskyReader

        bluesky = gateways["bluesky"]
        assert isinstance(bluesky, BlueskyGateway)
        assert settings.bluesky is not None
        reader = BlueskyReader(
            bluesky.session,
            bluesky,
            # A post is watched for deletion while a payment it opened may await confirmation.
            watch=timedelta(seconds=settings.confirmation_window_s + 300),
            poll_s=settings.bluesky.poll_s,
            deletion_check=timedelta(seconds=settings.bluesky.deletion_check_s),
        )
        readers.append((reader, 30.0))  # no long poll: the reader pauses poll_s when idle
    return readers


def _mastodon_api(settings: Settings) -> MastodonApi:
    from envoi.adapters.networks.mastodon.api import MastodonApi

    return MastodonApi(
        settings.mastodon.base_url,
        settings.mastodon.access_token.get_secret_value(),
        timeout_s=settings.mastodon.timeout_s,
    )


def describe(settings: Settings) -> dict[str, object]:
    """What this deployment runs: logged at start and shown by ``/healthz``."""
    return {
        "networks": list(settings.enabled_networks),
        "card_processor": settings.enabled_card_processor,
        "sandbox": "sandbox" in settings.enabled_networks
        or settings.enabled_card_processor == "sandbox",
    }


def prepare(app: Envoi) -> None:
    """Idempotent start-up: system accounts and the bot's sandbox account exist."""
    with app.ctx.uow() as uow:
        uow.ledger.create_accounts(system_accounts(app.settings.currency))
        uow.commit()
    if app.sandbox_network is not None:
        app.sandbox_network.ensure_bot_account()


def _charge_updated(app: Envoi) -> Callable[[str], None]:
    def on_update(processor_ref: str) -> None:
        app.funding.charge_updated(processor_ref)

    return on_update


def _expire_ledger(ctx: Context) -> int:
    """Safety net: holds whose intent was lost track of still end (TigerBeetle's timeout)."""
    with ctx.uow() as uow:
        expired = uow.ledger.expire_pending(ctx.clock.now())
        uow.commit()
    return len(expired)
