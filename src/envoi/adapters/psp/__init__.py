"""Card processors (payment service providers) implementing ``CardProcessor``."""
