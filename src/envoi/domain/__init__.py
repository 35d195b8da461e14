"""Entities, states and errors of envoi. Depends only on ``envoi.money``."""
