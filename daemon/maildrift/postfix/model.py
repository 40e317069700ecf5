"""The effective Postfix configuration: main.cf over defaults, master.cf ``-o`` over both.

Sample input::

    main.cf:    smtpd_sasl_security_options = noanonymous
    master.cf:  submission inet n - y - - smtpd
                  -o smtpd_sasl_security_options=noanonymous,noplaintext

>>> from maildrift.postfix.defaults import Defaults
>>> from maildrift.hostfacts import HostFacts
>>> cfg = PostfixConfig.build(
...     "/etc/postfix",
...     parse_main_cf("smtpd_sasl_security_options = noanonymous\\n", "/etc/postfix/main.cf"),
...     parse_master_cf("submission inet n - y - - smtpd "
...                     "-o smtpd_sasl_security_options=noanonymous,noplaintext\\n",
...                     "/etc/postfix/master.cf"),
...     Defaults("3.7", "test", {
...         "smtpd_sasl_security_options": "noanonymous",
...         "smtpd_sasl_tls_security_options": "$smtpd_sasl_security_options"}),
...     HostFacts("test"))
>>> cfg.setting("smtpd_sasl_security_options").source
'main'
>>> s = cfg.setting("smtpd_sasl_tls_security_options", "submission/inet")
>>> s.source, s.value_raw, cfg.expand_setting(s).text
('default', '$smtpd_sasl_security_options', 'noanonymous,noplaintext')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from maildrift.errors import ConfigError
from maildrift.hostfacts import HostFacts
from maildrift.postfix.defaults import Defaults
from maildrift.postfix.expand import ExpansionError, expand
from maildrift.postfix.maincf import MainCf, display_value, parse_main_cf
from maildrift.postfix.mastercf import MasterCf, Service, parse_master_cf
from maildrift.postfix.networks import mynetworks_for_style
from maildrift.postfix.params import ParamTable

_NONE: frozenset[str] = frozenset()

#: Parameters each daemon sets for itself at run time.
_RUNTIME = frozenset({"process_id", "process_name", "service_name"})
#: Defaults Postfix computes from the host (and other parameters).
_COMPUTED = frozenset({"myhostname", "mydomain", "mynetworks"})
#: Computed defaults a loop reads as empty (as postconf does), not as an error.
_LOOP_EMPTY = frozenset({"myhostname", "mydomain"})
#: Of the runtime ones, those master.cf decides per service.
_PER_SERVICE = frozenset({"process_name", "service_name"})

__all__ = ["Expanded", "PostfixConfig", "Setting", "parse_main_cf", "parse_master_cf"]


class Setting(NamedTuple):
    """Where one parameter's value comes from, for one service or for main.cf.

    ``source`` is one of override, main, default, host (computed for the host
    being judged), runtime (set by the daemon itself, such as service_name),
    unknown (a host fact nobody supplied, or a process id) or undefined.
    A NamedTuple: one is made per name read, and a tuple is the cheapest
    immutable record to build and to keep.
    """

    name: str
    value_raw: str
    source: str
    file: str | None = None
    line: int | None = None
    service: str | None = None

    @property
    def value(self) -> str:
        return display_value(self.value_raw)

    @property
    def explicit(self) -> bool:
        return self.source in ("override", "main")


class Expanded(NamedTuple):
    """An expanded value; ``unknown`` names host facts it depended on but nobody gave."""

    text: str
    unknown: frozenset[str] = frozenset()


@dataclass
class PostfixConfig:
    """One Postfix instance's configuration, with lazy, cached expansion."""

    config_directory: str
    main: MainCf
    master: MasterCf
    defaults: Defaults
    facts: HostFacts
    params: ParamTable = field(default_factory=ParamTable)
    instance: str = ""
    #: Configured path -> FileData of every file read (for metadata rules and the watcher).
    files: dict = field(default_factory=dict, repr=False)
    _cache: dict = field(default_factory=dict, repr=False)
    #: While a rule is judged: every parameter name asked for ("*": all of main.cf).
    reads: set | None = field(default=None, repr=False, compare=False)
    #: (context, name) of every value being expanded, across nested expansions:
    #: a host default (mynetworks, myhostname) starts one of its own.
    _expanding: set = field(default_factory=set, repr=False, compare=False)
    #: How many loops through myhostname/mydomain were broken with an empty
    #: value so far: what was computed inside one is not memoised.
    _broken: int = field(default=0, repr=False, compare=False)

    @classmethod
    def build(cls, config_directory, main, master, defaults, facts, params=None, instance=""):
        return cls(
            config_directory, main, master, defaults, facts, params or ParamTable(), instance
        )

    # -- raw lookups -------------------------------------------------------------------

    def service(self, key: str) -> Service | None:
        return self.master.find(key)

    def _host_default(self, name: str, context: str | None) -> tuple[str | None, str]:
        facts = self.facts
        if name in facts.values:
            return facts.values[name], "host"
        if name in _COMPUTED:
            # Each read of mynetworks would expand mynetworks_style again.
            key = ("host-default", name, context)
            found = self._cache.get(key)
            if found is None:
                found = self._remember(key, self._marked_default, name, context)
            return found
        raw = self.defaults.raw.get(name)
        return raw, ("default" if raw is not None else "undefined")

    def _remember(self, key, compute, *args):
        """``compute(*args)``, memoised under ``key`` unless a loop was broken inside it."""
        broken = self._broken
        found = compute(*args)
        if broken == self._broken:
            self._cache[key] = found
        return found

    def _marked_default(self, name: str, context: str | None) -> tuple[str | None, str]:
        mark = ("host", name)
        if mark in self._expanding:
            return self._loop(name), "host"
        self._expanding.add(mark)
        try:
            return self._computed_default(name, context)
        finally:
            self._expanding.discard(mark)

    def _loop(self, name: str) -> str:
        """A loop back into ``name``: empty for myhostname and mydomain, else an error.

        postconf 3.7 prints ``myhostname = mail.$mydomain`` (mydomain unset) as
        ``mail.`` with an empty mydomain, and ``mydomain = $myhostname`` on a
        host named ``vm`` as ``vm.``: the name being computed reads as empty.
        A loop through mynetworks makes postconf die of SIGSEGV: an error here.
        """
        if name not in _LOOP_EMPTY:
            raise ExpansionError(f"unreasonable macro call nesting: ${name} refers to itself")
        self._broken += 1
        return ""

    def _computed_default(self, name: str, context: str | None) -> tuple[str | None, str]:
        facts = self.facts
        if name == "myhostname":
            if facts.hostname is None:
                return None, "unknown"
            if "." in facts.hostname:
                return facts.hostname, "host"
            domain = self.main.get("mydomain")
            suffix = self._expand_raw(domain.value_raw, context).text if domain else "localdomain"
            return f"{facts.hostname}.{suffix}", "host"
        if name == "mydomain":
            hostname = self._expand_raw("$myhostname", context)
            if hostname.unknown:
                return None, "unknown"
            _, dot, rest = hostname.text.partition(".")
            return (rest if dot else "localdomain"), "host"
        if name == "mynetworks":
            if facts.addresses is None:
                return None, "unknown"
            style = self._expand_raw("$mynetworks_style", context).text.strip()
            networks = mynetworks_for_style(style, facts.addresses)
            return (None, "unknown") if networks is None else (networks, "host")
        raise AssertionError(name)

    def setting(self, name: str, service: str | None = None) -> Setting:
        """The value Postfix uses for ``name``, in main.cf or for one service.

        An ``-o`` counts only on a service whose command reads ``name``: that is
        how master passes it on.  Use :meth:`setting_in_process` for the view
        from inside one daemon process, where every ``-o`` is visible.
        """
        if self.reads is not None:  # before the memo: a hit must be recorded too
            self.reads.add(name)
        # Rules and predicates ask for the same few names again and again.
        key = ("setting", name, service)
        found = self._cache.get(key)
        if found is None:
            entry = self.service(service) if service else None
            if entry is not None and self.params.is_read_by(name, entry.command):
                found = self.setting_in_process(name, service)
            else:
                found = self.setting_in_process(name, None)
            self._cache[key] = found
        return found

    def setting_in_process(self, name: str, service: str | None) -> Setting:
        entry = self.service(service) if service else None
        if entry is not None:
            override = entry.override(name)
            if override is not None:
                return Setting(
                    name, override.value_raw, "override", entry.file, override.line, entry.key
                )
        assignment = self.main.get(name)
        if assignment is not None:
            return Setting(
                name, assignment.value_raw, "main", assignment.file, assignment.line, service
            )
        if name == "config_directory":
            return Setting(name, self.config_directory, "default", service=service)
        if entry is not None and name in ("service_name", "process_name"):
            value = entry.service if name == "service_name" else entry.command
            return Setting(name, value, "runtime", service=service)
        if name in _RUNTIME:
            # Known only inside a running daemon; recorded like a missing host fact.
            return Setting(name, "", "unknown", service=service)
        raw, source = self._host_default(name, service)
        return Setting(name, raw or "", source, service=service)

    # -- expansion ---------------------------------------------------------------------

    def _context(self, service: str | None) -> str | None:
        """The expansion context ``service`` shares: None for a service with no ``-o``."""
        if service is None:
            return None
        entry = self.service(service)
        return service if entry is not None and entry.overrides else None

    def _expand_raw(self, raw: str, context: str | None) -> Expanded:
        if "$" not in raw:
            return Expanded(raw, _NONE)
        # A service without -o sees main.cf and the defaults as main.cf does, but
        # for its own service_name and process_name: expand once for all of them,
        # and again in the service's own context only where those were read (in
        # main.cf's context they are unknown, so the result says so).
        shared = self._context(context)
        key = ("raw", raw, shared)
        result = self._cache.get(key)
        if result is None:
            try:
                result = self._remember(key, self._expand_in, raw, shared)
            except ExpansionError:
                if shared == context:
                    raise
                # Could hinge on an unknown service_name, as a service of its own may not.
                return self._own_expansion(raw, context)
        if shared != context and not result.unknown.isdisjoint(_PER_SERVICE):
            return self._own_expansion(raw, context)
        return result

    def _own_expansion(self, raw: str, context: str) -> Expanded:
        key = ("raw-own", raw, context)
        result = self._cache.get(key)
        if result is None:
            result = self._remember(key, self._expand_in, raw, context)
        return result

    def _expand_in(self, raw: str, context: str | None) -> Expanded:
        lookup = _Lookup(self, context)
        text = expand(raw, lookup)
        return Expanded(text, frozenset(lookup.unknown))

    def expand_setting(self, setting: Setting) -> Expanded:
        """Expand a setting as the daemon reading it would, naming file and line on error."""
        if setting.source == "unknown":
            return Expanded("", frozenset({setting.name}))
        try:
            return self._expand_raw(setting.value_raw, setting.service)
        except ExpansionError as exc:
            if setting.file is None:
                raise ConfigError(exc.message, exc.file, exc.line) from None
            raise ConfigError(exc.message, setting.file, setting.line) from None

    def expanded(self, name: str, service: str | None = None) -> Expanded:
        if self.reads is not None:  # before the memo: a hit must be recorded too
            self.reads.add(name)
        key = ("expanded-name", name, service)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self.expand_setting(self.setting(name, service))
        return found

    # -- services ----------------------------------------------------------------------

    def process_limit(self, service: Service) -> int | None:
        """The process limit master applies: ``-`` means default_process_limit."""
        field_value = service.process_limit
        if field_value == "-":
            field_value = self.expanded("default_process_limit").text.strip()
        return int(field_value) if field_value.isdigit() else None


class _Lookup:
    """mac_expand's lookup for one expansion: memoised per (context, name) on the model.

    An object rather than a closure: a closure that passes itself on forms a
    reference cycle, garbage only the collector frees.
    """

    __slots__ = ("config", "context", "unknown")

    def __init__(self, config: PostfixConfig, context: str | None) -> None:
        self.config = config
        self.context = context
        #: Host facts nobody gave that the expansion depended on.
        self.unknown: set[str] = set()

    def __call__(self, name: str) -> str | None:
        config, context, unknown = self.config, self.context, self.unknown
        key = (context, name)
        cached = config._cache.get(key)
        if cached is not None:
            unknown.update(cached.unknown)
            return cached.text
        expanding = config._expanding
        if key in expanding:
            if ("host", name) in expanding:
                # Back into a default being computed (mydomain from myhostname).
                return config._loop(name)
            raise ExpansionError(f"unreasonable macro call nesting: ${name} refers to itself")
        # Marked before the setting is looked up: a host default may expand
        # names of its own (mydomain from myhostname), and so close a loop.
        expanding.add(key)
        broken = config._broken
        try:
            setting = config.setting_in_process(name, context)
            if setting.source == "unknown":
                unknown.add(name)
                return ""
            if setting.source == "undefined":
                return None
            raw = setting.value_raw
            if "$" not in raw:
                # Most values name nothing: no expansion, nothing unknown.
                if broken == config._broken:
                    config._cache[key] = Expanded(raw, _NONE)
                return raw
            before = set(unknown)
            unknown.clear()
            try:
                text = expand(raw, self)
            except ExpansionError as exc:
                if exc.file is None and setting.file is not None:
                    # The innermost assignment on the way: where to look, when
                    # the value read is a default.
                    exc.file, exc.line = setting.file, setting.line
                raise
            result = Expanded(text, frozenset(unknown))
            unknown.update(before)
            if broken == config._broken:
                config._cache[key] = result
            return text
        finally:
            expanding.discard(key)
