"""Which results of the previous evaluation an edit cannot have changed.

The daemon judges the same policy again after every edit, and most edits
change one or two Postfix parameters.  A rule's outcome on a Postfix target
depends on:

- the parameter names it asked for (recorded by the models while the rule
  is judged, at every entry point and before any memo, so a memo hit is
  recorded too), and every name their values may expand, through main.cf,
  any ``-o`` override, the built-in default or a host-computed default;
- the master.cf services its scopes expand to;
- for Dovecot, section and file-metadata checks, and the named predicates,
  the Dovecot model and the file facts as a whole.

So an outcome is carried over when the rule's names are disjoint from the
names whose main.cf assignments changed (value or place: a moved line
changes the reported line), master.cf is the same, and neither Dovecot nor
the file facts changed where the rule may read them.  Anything else, an
error in either model included, judges the rule again.  ``evaluate`` with
and without ``previous`` must give equal reports; tests/engine prove it.

>>> sorted(names_in("${a?{$b}:{$c}} $$d ${{$e} == {x} ? {$f}} $(g) ${ h }"))
['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import NamedTuple

from maildrift.engine.mailconfig import MailConfig
from maildrift.policy import checks as c

__all__ = ["EVERYTHING", "Change", "RuleTrace", "Trace", "change_between", "expanding", "names_in"]

#: Everything: the rule read all of main.cf (e.g. postconf's unused-name scan).
EVERYTHING = "*"

#: Defaults computed from other parameters (PostfixConfig._host_default).
_HOST_DEPENDS = {
    "myhostname": ("mydomain",),
    "mydomain": ("myhostname",),
    "mynetworks": ("mynetworks_style",),
}

# $name, ${name}, $(name), and ${ name } (blanks around a name are allowed).
_NAME = re.compile(r"\$[{(]?[ \t\n\r\f\v]*([A-Za-z0-9_]+)")


@functools.lru_cache(maxsize=4096)
def names_in(raw: str) -> frozenset[str]:
    """Every name ``raw`` may expand, in any branch; ``$$x`` too (over-approximation)."""
    return frozenset(_NAME.findall(raw))


class RuleTrace(NamedTuple):
    """One rule's outcomes on a model, and what they depend on (one per rule per evaluation)."""

    #: (Target, Outcome) per place, in result order.
    outcomes: tuple
    #: The Results built from them (valid again while no waiver is in play).
    results: tuple
    #: Postfix names the rule asked for; None: all of them.
    reads: frozenset[str] | None


@dataclass(frozen=True)
class Trace:
    """What an evaluation leaves for the next one: its inputs and each rule's trace."""

    policy: object
    mail: MailConfig
    waivers: tuple
    rules: dict


@dataclass(frozen=True)
class Change:
    """How a new model differs from the previous one, as far as rules can tell."""

    #: Postfix names whose main.cf assignments differ, and every name whose
    #: value may expand one of them (in the previous model).
    postfix: frozenset[str]
    dovecot: bool
    files: bool

    def unaffected(self, rule, trace: RuleTrace) -> bool:
        """Whether ``trace`` (the rule's previous outcomes) still holds."""
        dovecot_side, file_side = reads_of(rule)
        if (self.dovecot and dovecot_side) or (self.files and file_side):
            return False
        if not self.postfix:
            return True
        return trace.reads is not None and trace.reads.isdisjoint(self.postfix)


def _assignments(main) -> dict[str, tuple]:
    cached = main.__dict__.get("_incremental_index")
    if cached is None:
        cached = {}
        for a in main.assignments:
            cached[a.name] = (*cached.get(a.name, ()), (a.value_raw, a.file, a.line, a.end_line))
        # Frozen and parsed once per text: index it beside the fields, once.
        object.__setattr__(main, "_incremental_index", cached)
    return cached


def _changed_names(old_main, new_main) -> set[str]:
    old, new = _assignments(old_main), _assignments(new_main)
    return {name for name in old.keys() | new.keys() if old.get(name) != new.get(name)}


def change_between(previous: Trace, policy, mail: MailConfig, waivers) -> Change | None:
    """The change from ``previous`` to ``mail``; None when nothing can be carried over."""
    old = previous.mail
    if previous.policy is not policy or old.errors or mail.errors:
        return None
    if len(old.postfix) != len(mail.postfix):
        return None
    changed: set[str] = set()
    affected: set[str] = set()
    for before, after in zip(old.postfix, mail.postfix):
        if before is after:
            continue
        if (
            before.config_directory != after.config_directory
            or before.instance != after.instance
            or before.defaults is not after.defaults
            or before.facts is not after.facts
            or before.params is not after.params
            or (before.master is not after.master and before.master != after.master)
        ):
            return None
        if before.main is not after.main:
            changed = _changed_names(before.main, after.main)
            affected |= expanding(before, changed)
    dovecot = old.dovecot is not mail.dovecot or dict(old.dovecot_defaults) != dict(
        mail.dovecot_defaults
    )
    return Change(frozenset(affected), dovecot, old.files != mail.files)


def _add_edges(edges: dict[str, set[str]], name: str, raw: str) -> None:
    for used in names_in(raw):
        edges.setdefault(used, set()).add(name)


def _default_users(defaults) -> dict[str, set[str]]:
    # Built-in defaults never change while the process runs: index them once.
    cached = defaults.__dict__.get("_incremental_users")
    if cached is None:
        cached = {}
        for name, raw in defaults.raw.items():
            _add_edges(cached, name, raw)
        for name, depends in _HOST_DEPENDS.items():
            for used in depends:
                cached.setdefault(used, set()).add(name)
        object.__setattr__(defaults, "_incremental_users", cached)
    return cached


def _config_users(config) -> dict[str, set[str]]:
    cached = config._cache.get("incremental-users")
    if cached is None:
        cached = {}
        for assignment in config.main.assignments:
            _add_edges(cached, assignment.name, assignment.value_raw)
        for service in config.master.services:
            for override in service.overrides:
                _add_edges(cached, override.name, override.value_raw)
        config._cache["incremental-users"] = cached
    return cached


def expanding(config, names) -> set[str]:
    """``names`` and every name whose value (main.cf, ``-o``, default) may expand one of them."""
    users = (_config_users(config), _default_users(config.defaults))
    found = set(names)
    stack = list(names)
    while stack:
        name = stack.pop()
        for edges in users:
            for user in edges.get(name, ()):
                if user not in found:
                    found.add(user)
                    stack.append(user)
    return found


def _walk(check):
    yield check
    for attribute in ("check", "checks"):
        inner = getattr(check, attribute, None)
        if inner is None:
            continue
        for item in inner if isinstance(inner, (tuple, list)) else (inner,):
            yield from _walk(item)


def reads_of(rule) -> tuple[bool, bool]:
    """(may read Dovecot, may read file facts): judged from the rule's text once."""
    cached = rule.__dict__.get("_incremental_reads")
    if cached is None:
        nodes = list(_walk(rule.check))
        kinds = {type(n) for n in nodes}
        components = {s.component for s in rule.scopes}
        params = [p for n in nodes for p in (getattr(n, "param", None), getattr(n, "other", None))]
        dovecot = bool(
            components & {"dovecot", "cross"}
            or kinds & {c.Predicate, c.Section}
            or any(getattr(p, "component", None) == "dovecot" for p in params)
        )
        files = bool(kinds & {c.Predicate, c.FileMeta})
        cached = (dovecot, files)
        object.__setattr__(rule, "_incremental_reads", cached)
    return cached
