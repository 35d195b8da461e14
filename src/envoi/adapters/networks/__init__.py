"""Social-network adapters: each receives posts for the bot and implements ``NetworkGateway``."""
