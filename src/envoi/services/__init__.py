"""Use cases. They talk to the outside only through the Protocols in ``ports``."""
