"""What every use case is given: settings, a clock, storage and the outside world."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from envoi.config import Settings
from envoi.domain.errors import EnvoiError, ErrorCode
from envoi.services.ports import CardProcessor, Clock, NetworkGateway
from envoi.services.unit_of_work import UnitOfWorkFactory


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass(frozen=True)
class Context:
    settings: Settings
    clock: Clock
    uow: UnitOfWorkFactory
    gateways: Mapping[str, NetworkGateway]
    processor: CardProcessor | None  # None: this deployment takes no card top-ups

    def card_processor(self) -> CardProcessor:
        if self.processor is None:
            raise EnvoiError(ErrorCode.TOPUP_UNAVAILABLE)
        return self.processor

    def gateway(self, network: str) -> NetworkGateway:
        gateway = self.gateways.get(network)
        if gateway is None:
            raise EnvoiError(ErrorCode.UNKNOWN_NETWORK, network=network)
        return gateway

    def url(self, path: str) -> str:
        return self.settings.base_url.rstrip("/") + path

    @property
    def pin_key(self) -> bytes:
        return self.settings.pin_key.get_secret_value().encode()
