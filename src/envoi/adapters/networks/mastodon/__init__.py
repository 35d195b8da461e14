"""Mastodon (and servers speaking its client API), through Mastodon.py.

``content`` turns a status's HTML into the text the command parser reads, ``api`` wraps
the client (errors, rate limits), ``reader`` ingests mentions and direct statuses,
``gateway`` answers, looks people up and links accounts.
"""
