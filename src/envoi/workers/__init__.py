"""Scheduled and queued jobs: expiry, refunds, outbox delivery, catch-up of network posts."""
