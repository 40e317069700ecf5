"""The daemon's own configuration (/etc/maildrift/maildrift.yaml).

Sample input::

    postfix:
      - config_directory: /etc/postfix      # postmulti instances are found from it
    dovecot:
      - config_file: /etc/dovecot/dovecot.conf
    policy_dir: /etc/maildrift/policies.d
    policies: []
    waivers: /etc/maildrift/waivers.yaml
    metrics:
      listen: 127.0.0.1:29025
      tls: {cert: ..., key: ..., client_ca: ...}   # optional
      textfile: /var/lib/node_exporter/textfile_collector/maildrift.prom  # optional
    state_dir: /var/lib/maildrift
    mode: observe          # observe | dry-run | enforce
    log_format: auto       # auto | json | console
    timings: {settle_ms: 5, max_delay_ms: 50, rescan_interval_s: 300, scan_interval_s: 5}
    enforce:               # every key optional; these are the defaults
      confirm_ms: 200
      enforce_on_start: false
      remediation: false
      reload: {postfix: true, dovecot: true}
      reload_commands:
        postfix: [systemctl, reload, postfix.service]
        dovecot: [systemctl, reload, dovecot.service]
      reload_timeout_s: 30
      validate: true
      validate_timeout_s: 10
      flap: {max_reverts: 3, window_s: 600, max_repeats: 3, repeat_window_s: 86400}
      quarantine: {max_entries: 1000, max_bytes: 67108864, retention_days: 90}
      pause_cap_s: 14400

>>> c = parse_daemon_config("mode: enforce\\ntimings: {settle_ms: 10}\\n", "m.yaml")
>>> c.mode, c.settle_ms, c.max_delay_ms, c.listen
('enforce', 10, 50, ('127.0.0.1', 29025))
>>> e = parse_daemon_config("enforce:\\n  flap: {max_reverts: 5}\\n", "m.yaml").enforce
>>> e.flap.max_reverts, e.flap.window_s, e.reload.postfix, e.reload_commands.dovecot
(5, 600, True, ('systemctl', 'reload', 'dovecot.service'))
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

import yaml

from maildrift.enforce.reload import DEFAULT_RELOAD_COMMANDS
from maildrift.errors import ConfigError
from maildrift.policy.nodes import suggest, type_name

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_LISTEN",
    "DaemonConfig",
    "EnforceConfig",
    "FlapSettings",
    "QuarantineSettings",
    "ReloadCommands",
    "ReloadFlags",
    "load_daemon_config",
    "parse_daemon_config",
    "parse_listen",
]

DEFAULT_CONFIG = "/etc/maildrift/maildrift.yaml"
#: Outside the fully allocated exporter range 9100-9999, and no mail software's port.
DEFAULT_LISTEN = ("127.0.0.1", 29025)
_MODES = ("observe", "dry-run", "enforce")
_TOP = {
    "postfix",
    "dovecot",
    "policy_dir",
    "policies",
    "waivers",
    "metrics",
    "state_dir",
    "mode",
    "log_format",
    "timings",
    "host_facts",
    "postfix_version",
    "enforce",
}
_TIMINGS = {"settle_ms": 5, "max_delay_ms": 50, "rescan_interval_s": 300, "scan_interval_s": 5}


@dataclass(frozen=True)
class ReloadFlags:
    """``enforce.reload``: whether each component is reloaded after a revert."""

    postfix: bool = True
    dovecot: bool = True


@dataclass(frozen=True)
class ReloadCommands:
    """``enforce.reload_commands``: argument lists, run without a shell."""

    postfix: tuple[str, ...] = DEFAULT_RELOAD_COMMANDS["postfix"]
    dovecot: tuple[str, ...] = DEFAULT_RELOAD_COMMANDS["dovecot"]


@dataclass(frozen=True)
class FlapSettings:
    """``enforce.flap``: the flap guard's limits (see enforce/flapguard.py)."""

    max_reverts: int = 3
    window_s: float = 600
    max_repeats: int = 3
    repeat_window_s: float = 86400


@dataclass(frozen=True)
class QuarantineSettings:
    """``enforce.quarantine``: the quarantine's limits (see enforce/quarantine.py)."""

    max_entries: int = 1000
    max_bytes: int = 64 * 1024 * 1024
    retention_days: int = 90


@dataclass(frozen=True)
class EnforceConfig:
    """The ``enforce:`` section; every key optional."""

    confirm_ms: int = 200
    enforce_on_start: bool = False
    remediation: bool = False
    reload: ReloadFlags = field(default_factory=ReloadFlags)
    reload_commands: ReloadCommands = field(default_factory=ReloadCommands)
    reload_timeout_s: float = 30
    validate: bool = True
    validate_timeout_s: float = 10
    flap: FlapSettings = field(default_factory=FlapSettings)
    quarantine: QuarantineSettings = field(default_factory=QuarantineSettings)
    pause_cap_s: float = 14400


@dataclass(frozen=True)
class DaemonConfig:
    postfix_dirs: tuple[str, ...] = ("/etc/postfix",)
    dovecot_configs: tuple[str, ...] = ("/etc/dovecot/dovecot.conf",)
    policy_dir: str | None = "/etc/maildrift/policies.d"
    policies: tuple[str, ...] = ()
    waivers: str | None = None
    listen: tuple[str, int] | None = DEFAULT_LISTEN
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_client_ca: str | None = None
    textfile: str | None = None
    state_dir: str = "/var/lib/maildrift"
    mode: str = "observe"
    log_format: str = "auto"
    settle_ms: int = 5
    max_delay_ms: int = 50
    rescan_interval_s: float = 300
    scan_interval_s: float = 5
    host_facts: str | None = None
    postfix_version: str | None = None
    enforce: EnforceConfig = field(default_factory=EnforceConfig)
    source: str = field(default="(built-in defaults)", compare=False)

    def with_overrides(self, **changes) -> DaemonConfig:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def without_reload(self) -> DaemonConfig:
        """``maildrift run --no-reload``: reverts are written, no component is reloaded."""
        return replace(self, enforce=replace(self.enforce, reload=ReloadFlags(False, False)))


def parse_listen(text: str, file: str | None = None) -> tuple[str, int]:
    """``ADDR:PORT`` (``[v6]:PORT`` too).

    >>> parse_listen("[::1]:9000"), parse_listen("127.0.0.1:29025")
    (('::1', 9000), ('127.0.0.1', 29025))
    """
    host, sep, port = str(text).rpartition(":")
    if not sep or not port.isdigit() or not host or not 0 < int(port) < 65536:
        raise ConfigError(f"listen address must be ADDR:PORT, not {text!r}", file)
    return host.strip("[]"), int(port)


def _strings(value, key: str, file: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{key} must be a list of paths", file)
    return tuple(value)


def _instances(value, key: str, inner: str, file: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ConfigError(f"{key} must be a list", file)
    found = []
    for item in value:
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict) and isinstance(item.get(inner), str):
            found.append(item[inner])
        else:
            raise ConfigError(f"each {key} entry needs {inner}", file)
    return tuple(found)


def parse_daemon_config(text: str, file: str) -> DaemonConfig:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ConfigError(
            f"YAML error: {getattr(exc, 'problem', exc)}", file, mark.line + 1 if mark else None
        ) from None
    if not isinstance(data, dict):
        raise ConfigError("the daemon config must be a mapping", file)
    for key in data:
        if key not in _TOP:
            raise ConfigError(f"unknown key {key!r}{suggest(str(key), _TOP)}", file)
    config = DaemonConfig(source=file)
    changes: dict = {}
    if "postfix" in data:
        changes["postfix_dirs"] = _instances(data["postfix"], "postfix", "config_directory", file)
    if "dovecot" in data:
        changes["dovecot_configs"] = _instances(data["dovecot"], "dovecot", "config_file", file)
    for key in ("policy_dir", "waivers", "state_dir", "host_facts", "postfix_version"):
        if key in data:
            if data[key] is not None and not isinstance(data[key], str):
                raise ConfigError(f"{key} must be a string", file)
            changes[key] = data[key]
    if "policies" in data:
        changes["policies"] = _strings(data["policies"], "policies", file)
    mode = data.get("mode", "observe")
    if mode not in _MODES:
        raise ConfigError(f"mode must be one of {', '.join(_MODES)}, not {mode!r}", file)
    changes["mode"] = mode
    log_format = data.get("log_format", "auto")
    if log_format not in ("auto", "json", "console"):
        raise ConfigError("log_format must be auto, json or console", file)
    changes["log_format"] = log_format
    metrics = data.get("metrics") or {}
    if not isinstance(metrics, dict):
        raise ConfigError("metrics must be a mapping", file)
    for key in metrics:
        if key not in ("listen", "tls", "textfile"):
            raise ConfigError(f"unknown metrics key {key!r}", file)
    if "listen" in metrics:
        changes["listen"] = (
            None if metrics["listen"] in (None, "none") else parse_listen(metrics["listen"], file)
        )
    tls = metrics.get("tls") or {}
    if tls:
        if not isinstance(tls, dict) or not {"cert", "key"} <= set(tls):
            raise ConfigError("metrics.tls needs cert and key (client_ca optional)", file)
        changes.update(tls_cert=tls["cert"], tls_key=tls["key"], tls_client_ca=tls.get("client_ca"))
    if metrics.get("textfile"):
        changes["textfile"] = metrics["textfile"]
    timings = data.get("timings") or {}
    if not isinstance(timings, dict):
        raise ConfigError("timings must be a mapping", file)
    for key, value in timings.items():
        if key not in _TIMINGS:
            raise ConfigError(f"unknown timing {key!r}{suggest(str(key), _TIMINGS)}", file)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"timings.{key} must be a non-negative number", file)
        changes[key] = value
    if "enforce" in data:
        changes["enforce"] = _enforce(data["enforce"], _Lines(text, file))
    return replace(config, **changes)


class _Lines:
    """Errors at the line of a key; the YAML is composed again only when one is raised."""

    def __init__(self, text: str, file: str) -> None:
        self.text = text
        self.file = file

    def error(self, message: str, path: tuple[str, ...]) -> ConfigError:
        return ConfigError(message, self.file, self._line(path))

    def _line(self, path: tuple[str, ...]) -> int | None:
        try:
            node = yaml.compose(self.text)
        except yaml.YAMLError:
            return None
        line = None
        for key in path:
            if not isinstance(node, yaml.MappingNode):
                break
            match = next((kv for kv in node.value if kv[0].value == str(key)), None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        return line


def _boolean(value):
    if not isinstance(value, bool):
        raise TypeError("true or false")
    return value


def _whole(minimum: int):
    def check(value):
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError("a whole number")
        if value < minimum:
            raise ValueError(f"must be at least {minimum}, not {value}")
        return value

    return check


def _positive(value):
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError("a number of seconds")
    if not value > 0:
        raise ValueError(f"must be more than 0, not {value}")
    return value


def _argv(value):
    # Strings only, no shell: "systemctl reload x" as one string is refused, not split.
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise TypeError("a list of strings such as [systemctl, reload, postfix.service]")
    if not value[0]:
        raise ValueError("must start with a program name")
    return tuple(value)


_CHECKS = {
    "confirm_ms": _whole(0),
    "enforce_on_start": _boolean,
    "remediation": _boolean,
    "reload_timeout_s": _positive,
    "validate": _boolean,
    "validate_timeout_s": _positive,
    "pause_cap_s": _positive,
}
_SECTIONS = {
    "reload": (ReloadFlags, {"postfix": _boolean, "dovecot": _boolean}),
    "reload_commands": (ReloadCommands, {"postfix": _argv, "dovecot": _argv}),
    "flap": (
        FlapSettings,
        {
            "max_reverts": _whole(1),
            "window_s": _positive,
            "max_repeats": _whole(1),
            "repeat_window_s": _positive,
        },
    ),
    "quarantine": (
        QuarantineSettings,
        {"max_entries": _whole(1), "max_bytes": _whole(1), "retention_days": _whole(1)},
    ),
}


def _checked(value, checks: dict, path: tuple[str, ...], lines: _Lines) -> dict:
    """A mapping's values, each passed through its check; unknown keys are refused."""
    name = ".".join(path)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise lines.error(f"{name} must be a mapping, not {type_name(value)}", path)
    found = {}
    for key, item in value.items():
        where = (*path, str(key))
        if key not in checks:
            raise lines.error(f"unknown key {'.'.join(where)!r}{suggest(str(key), checks)}", where)
        try:
            found[key] = checks[key](item)
        except TypeError as exc:
            message = f"{'.'.join(where)} must be {exc}, not {type_name(item)}"
            raise lines.error(message, where) from None
        except ValueError as exc:
            raise lines.error(f"{'.'.join(where)} {exc}", where) from None
    return found


def _enforce(value, lines: _Lines) -> EnforceConfig:
    # Sections pass through here as they are and are checked below, key by key.
    checks = {**_CHECKS, **dict.fromkeys(_SECTIONS, lambda section: section)}
    found = _checked(value, checks, ("enforce",), lines)
    for key, (kind, inner) in _SECTIONS.items():
        if key in found:
            found[key] = kind(**_checked(found[key], inner, ("enforce", key), lines))
    return EnforceConfig(**found)


def load_daemon_config(path: str | None) -> DaemonConfig:
    """Read the daemon config; the default path may be absent, a named one may not."""
    target = path or DEFAULT_CONFIG
    if path is None and not os.path.exists(target):
        return DaemonConfig()
    try:
        with open(target, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise ConfigError(exc.strerror or str(exc), target) from None
    return parse_daemon_config(text, target)
