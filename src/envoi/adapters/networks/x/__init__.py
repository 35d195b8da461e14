"""The X network: Account Activity webhook in, API v2 out, with a daily spend budget.

``XNetwork`` holds the parts ``envoi.bootstrap`` wires: the gateway (replies, DMs,
lookups, linking), the catch-up reader, the webhook router and the spend meter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from fastapi import APIRouter
from sqlalchemy import Engine

from envoi.adapters.networks.x.api import XApi, XOAuth
from envoi.adapters.networks.x.gateway import XGateway
from envoi.adapters.networks.x.reader import XReader
from envoi.adapters.networks.x.spend import SpendMeter
from envoi.adapters.networks.x.webhook import create_x_webhook_router
from envoi.config import Settings
from envoi.services.ports import Clock, InboundPort

__all__ = ["SpendMeter", "XApi", "XGateway", "XNetwork", "XReader"]


@dataclass
class XNetwork:
    api: XApi
    meter: SpendMeter
    gateway: XGateway
    reader: XReader
    consumer_secret: str
    bot_user_id: str

    @classmethod
    def build(cls, settings: Settings, engine: Engine, clock: Clock) -> XNetwork:
        x = settings.x
        meter = SpendMeter(engine, clock, x.daily_budget_usd)
        api = XApi(
            x.api_base_url,
            consumer_key=x.consumer_key,
            consumer_secret=x.consumer_secret.get_secret_value(),
            access_token=x.access_token,
            access_token_secret=x.access_token_secret.get_secret_value(),
            meter=meter,
            rate_limit_wait_s=x.rate_limit_wait_s,
        )
        oauth = XOAuth(
            api,
            client_id=x.client_id,
            client_secret=x.client_secret.get_secret_value(),
            authorize_url=x.authorize_url,
        )
        gateway = XGateway(
            api,
            engine,
            clock,
            bot_handle=settings.bot_handle,
            bot_user_id=x.bot_user_id,
            oauth=oauth,
        )
        reader = XReader(api, meter, x.bot_user_id, poll_interval_s=x.poll_interval_s)
        return cls(api, meter, gateway, reader, x.consumer_secret.get_secret_value(), x.bot_user_id)

    def webhook_router(self, inbound: InboundPort) -> APIRouter:
        return create_x_webhook_router(
            inbound, consumer_secret=self.consumer_secret, bot_user_id=self.bot_user_id
        )

    def status(self, now: datetime) -> dict[str, object]:
        """The month's estimated spend, today's and the budget: ``envoi networks status``."""
        lines = self.meter.month(now.year, now.month)
        return {
            "month": f"{now.year:04d}-{now.month:02d}",
            "month_spend_usd": _usd(next((x.micro_usd for x in lines if x.kind == "total"), 0)),
            "by_kind": {
                line.kind: {"calls": line.calls, "usd": _usd(line.micro_usd)}
                for line in lines
                if line.kind != "total"
            },
            "today_spend_usd": _usd(self.meter.spent_today()),
            "daily_budget_usd": _usd(self.meter.budget) if self.meter.budget else "none",
        }


def _usd(micro: int) -> str:
    return f"{micro / 1_000_000:.3f}"
