"""Bluesky (AT Protocol): mentions from notifications, replies, direct messages."""

NETWORK = "bluesky"
