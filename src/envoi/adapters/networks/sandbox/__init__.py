"""The built-in sandbox social network: accounts, posts and DMs in envoi's own database,
so the demo and the tests run with no outside credentials."""

from envoi.adapters.networks.sandbox.gateway import SandboxGateway
from envoi.adapters.networks.sandbox.store import (
    NewAccount,
    PendingDelivery,
    SandboxAccount,
    SandboxNetwork,
    SandboxPost,
)

__all__ = [
    "NewAccount",
    "PendingDelivery",
    "SandboxAccount",
    "SandboxGateway",
    "SandboxNetwork",
    "SandboxPost",
]
