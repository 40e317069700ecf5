"""maildrift: keeps Postfix and Dovecot configuration hardened, all the time."""

__all__ = ["__version__"]

__version__ = "0.1.0"
