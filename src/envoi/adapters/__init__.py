"""Adapters: the database, the social networks, the card processors."""
