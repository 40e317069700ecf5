"""Structured logs: JSON lines with a syslog priority prefix off a TTY, a console on one.

The ``<N>`` prefix lets journald assign priorities, so ``journalctl -p
warning`` shows drift (``<4>``) and errors (``<3>``).
"""

from __future__ import annotations

import json
import sys

import structlog

__all__ = ["PRIORITIES", "REDACTED", "configure_logging", "redact"]

PRIORITIES = {"debug": 7, "info": 6, "warning": 4, "error": 3, "critical": 2}
REDACTED = "<redacted>"
_SECRET_WORDS = ("password", "passwd", "secret", "_key", "key_file", "bind_pw")


def redact(parameter: str, value: str) -> str:
    """Values of secret-bearing parameters never reach a log line."""
    lowered = parameter.lower()
    return REDACTED if any(word in lowered for word in _SECRET_WORDS) else value


def _prefixed_json(_logger, _name, event: dict) -> str:
    priority = PRIORITIES.get(event.get("level", "info"), 6)
    return f"<{priority}>" + json.dumps(event, default=str, sort_keys=True)


def configure_logging(log_format: str = "auto", stream=None):
    """Configure structlog for the daemon and return a logger (not cached globally)."""
    stream = stream or sys.stdout
    console = log_format == "console" or (log_format == "auto" and stream.isatty())
    processors = [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer = structlog.dev.ConsoleRenderer() if console else _prefixed_json
    return structlog.wrap_logger(
        structlog.PrintLogger(stream),
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(0),
        cache_logger_on_first_use=False,
    ).bind()
