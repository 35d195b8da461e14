"""envoi: pay by posting on a social network, confirmed in the wallet with a PIN."""

__version__ = "0.1.0"
