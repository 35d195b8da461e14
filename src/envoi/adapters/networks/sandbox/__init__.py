"""The built-in sandbox social network: accounts, posts and DMs in envoi's own database,
so the demo and the tests run with no outside credentials."""

from envoi.adapters.networks.sandbox.gateway import SandboxGateway
from envoi.adapters.networks.sandbox.model import (
    NewAccount,
    PendingDelivery,
    SandboxAccount,
    SandboxPost,
)
from envoi.adapters.networks.sandbox.store import SandboxNetwork

__all__ = [
    "NewAccount",
    "PendingDelivery",
    "SandboxAccount",
    "SandboxGateway",
    "SandboxNetwork",
    "SandboxPost",
]
