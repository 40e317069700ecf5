"""The project's own exceptions and its documented exit codes."""

from __future__ import annotations

__all__ = [
    "EXIT_FINDINGS",
    "EXIT_OK",
    "EXIT_USAGE",
    "ConfigError",
    "MaildriftError",
]

#: Nothing at or above the failure threshold failed.
EXIT_OK = 0
#: ``check`` found failing or erroring results.
EXIT_FINDINGS = 1
#: Usage error, broken policy or daemon config, or configuration that cannot be read.
EXIT_USAGE = 2


class MaildriftError(Exception):
    """Base of every error maildrift reports to a user instead of a traceback."""

    exit_code = EXIT_USAGE


class ConfigError(MaildriftError):
    """A configuration or policy file that cannot be read or parsed.

    >>> str(ConfigError("binary file refused", "/etc/postfix/main.cf", 3))
    '/etc/postfix/main.cf:3: binary file refused'
    >>> str(ConfigError("no such file", "/etc/dovecot/dovecot.conf"))
    '/etc/dovecot/dovecot.conf: no such file'
    """

    def __init__(self, message: str, file: str | None = None, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line

    def __str__(self) -> str:
        where = self.file or "<input>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        return f"{where}: {self.message}"
