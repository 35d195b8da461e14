"""Matrix (matrix-nio): a bot account that reads by ``/sync`` and answers in rooms and DMs."""
