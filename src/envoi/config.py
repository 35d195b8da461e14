"""Typed settings, read from ``ENVOI_*`` environment variables (and a ``.env`` file)."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Published on purpose, so the demo runs with nothing to set; refused in production.
DEMO_PIN_KEY = "envoi-demo-pin-key-change-me"
DEMO_TOKEN_KEY = "envoi-demo-token-key-change-me"  # noqa: S105
MIN_SECRET_LENGTH = 32

# What a deployment can name; each adapter is wired in ``envoi.bootstrap``.
KNOWN_NETWORKS = ("sandbox", "matrix", "bluesky", "x", "mastodon")
KNOWN_CARD_PROCESSORS = ("sandbox", "stripe", "none")


class FeeRule(BaseSettings):
    """One line of the fee schedule: fixed + basis points, bounded, charged to one side."""

    fixed_minor: int = 0
    basis_points: int = 0
    min_minor: int = 0
    max_minor: int | None = None
    charged_to: Literal["payer", "payee"] = "payer"


class StripeSettings(BaseSettings):
    """The Stripe card processor (``ENVOI_STRIPE__*``); used when the processor is ``stripe``."""

    secret_key: SecretStr = SecretStr("")
    publishable_key: str = ""  # given to Stripe.js in the wallet page: public by design
    webhook_secret: SecretStr = SecretStr("")  # ``whsec_…`` of the /webhooks/stripe endpoint
    api_base: str = Field(
        default="https://api.stripe.com", description="Another base only for a test server"
    )
    webhook_tolerance_s: int = 300  # Stripe's own default: older signed events are refused
    # 3-D Secure by redirect to the issuer and back to /wallet/topup/return (Stripe's
    # ``return_url``); false: Stripe.js runs it in the page (servers without return_url).
    redirect_3ds: bool = True


class XSettings(BaseSettings):
    """The X network (``ENVOI_X__*``); used when ENVOI_NETWORKS names ``x``."""

    api_base_url: str = Field(
        default="https://api.x.com", description="X API v2 host; another only for a stand-in"
    )
    consumer_key: str = ""
    consumer_secret: SecretStr = SecretStr("")  # also the webhook CRC and signature key
    access_token: str = ""  # the bot account's OAuth 1.0a user token
    access_token_secret: SecretStr = SecretStr("")
    bot_user_id: str = ""  # the bot account's immutable numeric id
    # OAuth 2.0 Authorization Code + PKCE for linking members' accounts.
    client_id: str = ""
    client_secret: SecretStr = SecretStr("")  # confidential clients only
    authorize_url: str = "https://x.com/i/oauth2/authorize"
    # X bills every call: outgoing calls stop for the rest of the UTC day once this much
    # (US dollars) has been spent that day; 0 means no budget.
    daily_budget_usd: Decimal = Field(default=Decimal("20"), ge=0)
    # Webhooks carry mentions and DMs for free; this catch-up poll (billed per post read)
    # runs at start and then every so often.
    poll_interval_s: float = Field(default=3600.0, ge=0)
    # A 429 whose reset is this close is waited for in place; a later one is retried then.
    rate_limit_wait_s: float = Field(default=5.0, ge=0)


class BlueskySettings(BaseModel):
    """The bot's Bluesky account (``ENVOI_BLUESKY__*``); Bluesky is off while unset."""

    service_url: str = Field(description="The bot account's PDS, e.g. https://bsky.social")
    identifier: str = Field(description="The bot's handle, e.g. smoneyfr.bsky.social")
    app_password: SecretStr = Field(description="An app password allowed to use direct messages")
    # Bluesky's chat service; the tests point it at a stand-in (did:web:localhost%3APORT).
    chat_did: str = "did:web:api.bsky.chat"
    poll_s: float = Field(default=2.0, description="Pause between reads when nothing came")
    deletion_check_s: float = Field(
        default=15.0, description="How often posts that may await a payment are checked"
    )


class MatrixSettings(BaseModel):
    """The bot's Matrix account (``ENVOI_MATRIX__HOMESERVER_URL`` and so on)."""

    homeserver_url: str = Field(default="", description="https://matrix.example.org")
    user_id: str = Field(default="", description="The bot's Matrix id, @envoi:example.org")
    access_token: SecretStr = SecretStr("")
    # The device the access token belongs to (asked from the homeserver when empty).
    device_id: str | None = None
    # Where the bot's end-to-end encryption keys are kept (a private directory);
    # set, the bot reads and writes encrypted DMs, unset it reads unencrypted rooms only.
    store_path: str | None = None
    sync_wait_s: float = Field(default=30.0, description="Long-poll of each /sync")

    @property
    def configured(self) -> bool:
        return bool(self.homeserver_url and self.user_id and self.access_token.get_secret_value())


class MastodonSettings(BaseModel):
    """The Mastodon network (``ENVOI_MASTODON__*``): the bot's account on its instance."""

    base_url: str = Field(default="", description="The instance, e.g. https://mastodon.social")
    access_token: SecretStr = SecretStr("")  # the bot account's user token (see README)
    timeout_s: float = Field(default=30.0, gt=0)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ENVOI_", env_file=".env", env_nested_delimiter="__", extra="ignore"
    )

    database_url: str = Field(
        default="sqlite:///envoi.db",
        description="SQLAlchemy URL: sqlite:///file.db or postgresql+psycopg://user@host/db",
    )
    bot_handle: str = Field(default="SmoneyFR", description="The bot account people mention")
    base_url: str = Field(default="http://127.0.0.1:8000", description="Public URL of the wallet")
    currency: str = "EUR"
    default_locale: Literal["fr", "en"] = "fr"
    timezone: str = Field(default="Europe/Paris", description="IANA zone for dates shown to people")
    default_privacy: Literal["public", "discreet", "private"] = Field(
        default="discreet",
        description="Privacy of new members: the bot's public reply shows neither amount nor "
        "payee unless they choose 'public'",
    )

    # The parts a deployment runs. The sandbox network and card processor create money
    # and accounts from nothing: on SQLite (a demo) they are the defaults; anywhere else
    # they exist only with ENVOI_SANDBOX=1 (tests, demos), see ``configuration_errors``.
    sandbox: bool = Field(
        default=False, description="Allow the sandbox network and card processor outside SQLite"
    )
    networks: Annotated[tuple[str, ...] | None, NoDecode] = Field(
        default=None,
        description="Comma list of networks (sandbox, matrix, bluesky, x, mastodon); "
        "default: sandbox where the sandbox is allowed, else none",
    )
    card_processor: str | None = Field(
        default=None,
        description="sandbox, stripe or none; default: sandbox where allowed, else none",
    )

    # Secrets. The PIN key must live outside the database (DESIGN.md §4); the
    # defaults exist only so the demo runs with nothing to configure: ``envoi run``
    # and ``envoi worker`` refuse them outside SQLite (see ``insecure_secrets``).
    pin_key: SecretStr = SecretStr(DEMO_PIN_KEY)
    token_key: SecretStr = SecretStr(DEMO_TOKEN_KEY)

    # Windows, in seconds.
    confirmation_window_s: int = 15 * 60
    claim_window_s: int = 14 * 24 * 3600
    token_ttl_s: int = 7 * 24 * 3600
    pin_max_attempts: int = 3
    pin_lockout_s: int = 15 * 60

    # Limits, in minor units.
    amount_ceiling_minor: int = 100_000_00
    limit_p2p_per_payment_minor: int = 250_00
    limit_org_per_payment_minor: int = 500_00
    limit_daily_minor: int = 1_000_00
    limit_monthly_minor: int = 2_500_00
    limit_unverified_per_payment_minor: int = 150_00
    limit_unverified_monthly_minor: int = 250_00
    commands_per_minute: int = 10
    # A payee's network account younger than this is pointed out to the payer.
    new_account_days: int = Field(default=30, ge=0)

    # Sign-in and sign-up throttles (``services/throttle.py``).
    signin_free_attempts_per_account: int = Field(default=5, ge=1)
    signin_free_attempts_per_ip: int = Field(default=20, ge=1)
    signin_first_delay_s: float = Field(default=1.0, gt=0)
    signin_max_delay_s: float = Field(default=15 * 60, gt=0)
    signin_window_s: int = Field(default=3600, ge=1)
    signups_per_ip_per_hour: int = Field(default=20, ge=1)

    # Fees per kind; person-to-person is free by default.
    fee_send: FeeRule = FeeRule()
    fee_request: FeeRule = FeeRule()
    fee_donate: FeeRule = FeeRule()
    fee_pot: FeeRule = FeeRule()

    # Payouts to IBANs leave from envoi's own account at its bank, in SEPA credit-transfer
    # files (pain.001.001.09) the bank's back office takes. Demo values by default.
    payout_debtor_name: str = Field(default="envoi SAS", max_length=70)
    payout_debtor_iban: str = "FR7630006000011234567890189"
    payout_debtor_bic: str = "AGRIFRPPXXX"

    # Card top-ups per member (minor units; pending and succeeded charges count).
    topup_daily_minor: int = 1_000_00
    topup_monthly_minor: int = 2_500_00

    stripe: StripeSettings = StripeSettings()
    x: XSettings = XSettings()
    matrix: MatrixSettings = MatrixSettings()
    mastodon: MastodonSettings = MastodonSettings()
    # The bot's Bluesky account (used when ENVOI_NETWORKS names bluesky).
    bluesky: BlueskySettings | None = None

    # Workers.
    worker_poll_s: float = Field(default=1.0, description="Seconds between job polls")
    outbox_max_attempts: int = 8
    # How long a worker owns the outbox rows it claimed: a worker that died mid-send
    # leaves them to the others after this. Longer than any one send takes.
    outbox_lease_s: float = Field(default=60.0, gt=0)

    log_level: str = "INFO"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        # Refused at start-up rather than on the first page that shows a date.
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("networks", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip().lower() for part in value.split(",") if part.strip())
        return value

    @field_validator("networks")
    @classmethod
    def _known_networks(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for name in value or ():
            if name not in KNOWN_NETWORKS:
                raise ValueError(f"unknown network {name!r} (known: {', '.join(KNOWN_NETWORKS)})")
        return tuple(dict.fromkeys(value)) if value is not None else None

    @field_validator("card_processor")
    @classmethod
    def _known_processor(cls, value: str | None) -> str | None:
        if value is not None and value.lower() not in KNOWN_CARD_PROCESSORS:
            known = ", ".join(KNOWN_CARD_PROCESSORS)
            raise ValueError(f"unknown card processor {value!r} (known: {known})")
        return value.lower() if value is not None else None

    @property
    def sandbox_allowed(self) -> bool:
        """Free money and accounts from nothing: a SQLite demo, or ENVOI_SANDBOX=1."""
        return self.uses_sqlite or self.sandbox

    @property
    def enabled_networks(self) -> tuple[str, ...]:
        if self.networks is not None:
            return self.networks
        return ("sandbox",) if self.sandbox_allowed else ()

    @property
    def enabled_card_processor(self) -> str:
        if self.card_processor is not None:
            return self.card_processor
        return "sandbox" if self.sandbox_allowed else "none"

    def configuration_errors(self) -> list[str]:
        """Why this configuration must not start (empty when it may)."""
        errors = []
        if not self.sandbox_allowed:
            if "sandbox" in self.enabled_networks:
                errors.append(
                    "ENVOI_NETWORKS names 'sandbox' outside SQLite without ENVOI_SANDBOX=1"
                )
            if self.enabled_card_processor == "sandbox":
                errors.append(
                    "ENVOI_CARD_PROCESSOR is 'sandbox' outside SQLite without ENVOI_SANDBOX=1"
                )
        errors += self._mastodon_errors()
        if self.enabled_card_processor == "stripe":
            for env, secret in (
                ("ENVOI_STRIPE__SECRET_KEY", self.stripe.secret_key),
                ("ENVOI_STRIPE__WEBHOOK_SECRET", self.stripe.webhook_secret),
            ):
                if not secret.get_secret_value():
                    errors.append(f"ENVOI_CARD_PROCESSOR is 'stripe' without {env}")
        if "x" in self.enabled_networks:
            for env, value in (
                ("ENVOI_X__CONSUMER_KEY", self.x.consumer_key),
                ("ENVOI_X__CONSUMER_SECRET", self.x.consumer_secret.get_secret_value()),
                ("ENVOI_X__ACCESS_TOKEN", self.x.access_token),
                ("ENVOI_X__ACCESS_TOKEN_SECRET", self.x.access_token_secret.get_secret_value()),
                ("ENVOI_X__BOT_USER_ID", self.x.bot_user_id),
            ):
                if not value:
                    errors.append(f"ENVOI_NETWORKS names 'x' without {env}")
        if "bluesky" in self.enabled_networks and self.bluesky is None:
            errors.append(
                "ENVOI_NETWORKS names 'bluesky' but ENVOI_BLUESKY__SERVICE_URL, "
                "ENVOI_BLUESKY__IDENTIFIER and ENVOI_BLUESKY__APP_PASSWORD are not set"
            )
        if "matrix" in self.enabled_networks and not self.matrix.configured:
            errors.append(
                "ENVOI_NETWORKS names 'matrix' without ENVOI_MATRIX__HOMESERVER_URL, "
                "ENVOI_MATRIX__USER_ID and ENVOI_MATRIX__ACCESS_TOKEN"
            )
        return errors

    def _mastodon_errors(self) -> list[str]:
        if "mastodon" not in self.enabled_networks:
            return []
        return [
            f"ENVOI_NETWORKS names 'mastodon' without {env}"
            for env, value in (
                ("ENVOI_MASTODON__BASE_URL", self.mastodon.base_url),
                ("ENVOI_MASTODON__ACCESS_TOKEN", self.mastodon.access_token.get_secret_value()),
            )
            if not value
        ]

    @property
    def uses_sqlite(self) -> bool:
        """SQLite means a demo or a developer's machine; anything else is a deployment."""
        return self.database_url.split(":", 1)[0].split("+", 1)[0].lower() == "sqlite"

    def insecure_secrets(self) -> list[str]:
        """The ``ENVOI_*`` variables whose key is the published demo default or too short."""
        found = []
        for env, secret, default in (
            ("ENVOI_PIN_KEY", self.pin_key, DEMO_PIN_KEY),
            ("ENVOI_TOKEN_KEY", self.token_key, DEMO_TOKEN_KEY),
        ):
            value = secret.get_secret_value()
            if value == default or len(value) < MIN_SECRET_LENGTH:
                found.append(env)
        return found


@cache
def get_settings() -> Settings:
    return Settings()
