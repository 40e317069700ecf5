"""The check vocabulary: frozen dataclasses the engine evaluates, one per operator.

Nothing here evaluates anything; :mod:`maildrift.policy.checkparse` builds
these from YAML and the engine decides what they mean for a configuration.
Operands are recorded as written (normalised only where YAML spelling would
otherwise differ: see docs/policy-language.md); ``{param: NAME}`` operands are
already resolved to the policy parameter's value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

from maildrift.policy.yamlmarks import Mark

__all__ = [
    "CHECK_KEYS",
    "CHECK_MODIFIERS",
    "COMPARE_OPS",
    "OPERATORS",
    "QUANTITY_KINDS",
    "AllOf",
    "AnyOf",
    "Bound",
    "Check",
    "Compare",
    "ContainsAll",
    "ContainsNone",
    "Equals",
    "FileMeta",
    "IsEmpty",
    "IsNonEmpty",
    "IsSet",
    "IsUnset",
    "Not",
    "OneOf",
    "Param",
    "Predicate",
    "Range",
    "Section",
    "SectionStep",
]

#: Every operator key a check may use; exactly one per check mapping.
OPERATORS = (
    "equals",
    "one_of",
    "contains_all",
    "contains_none",
    "range",
    "compare",
    "set",
    "unset",
    "empty",
    "nonempty",
    "file",
    "section",
    "predicate",
    "all",
    "any",
    "not",
)
#: Keys that name what an operator applies to or modify it.
CHECK_MODIFIERS = ("param", "path", "check", "missing", "match", "args")
#: Every key a check mapping may hold.
CHECK_KEYS = OPERATORS + CHECK_MODIFIERS
#: ``range`` and ``compare`` kinds: int, size (bytes) and time (seconds).
QUANTITY_KINDS = ("int", "size", "time")
#: ``compare`` relations; the word forms (``ge`` ...) are accepted too, as ``>=`` needs quoting.
COMPARE_OPS = ("<", "<=", "==", "!=", ">=", ">")

# ``at`` (where the operator was written) rides along but never makes two checks differ.
_NOWHERE = Mark("<policy>", 0)


@dataclass(frozen=True)
class Param:
    """A setting or file a rule reads: ``postfix:NAME``, ``dovecot:NAME`` or ``file:PATH``.

    Dovecot settings read inside sections are named by the section types on
    the way, as in ``dovecot:service/unix_listener/mode``.
    """

    component: str
    name: str

    def __str__(self) -> str:
        return f"{self.component}:{self.name}"


@dataclass(frozen=True)
class Bound:
    """A number for ``range``/``compare``: int, bytes or seconds; ``param`` if it came from one."""

    value: int | float
    param: str | None = None


@dataclass(frozen=True)
class Equals:
    param: Param
    value: str
    at: Mark = field(default=_NOWHERE, compare=False, repr=False)


@dataclass(frozen=True)
class OneOf:
    param: Param
    values: tuple[str, ...]
    at: Mark = field(default=_NOWHERE, compare=False, repr=False)


@dataclass(frozen=True)
class ContainsAll:
    """Every item appears in the parameter's list (commas and/or whitespace separate)."""

    param: Param
    items: tuple[str, ...]
    at: Mark = field(default=_NOWHERE, compare=False, repr=False)


@dataclass(frozen=True)
class ContainsNone:
    param: Param
    items: tuple[str, ...]
    at: Mark = field(default=_NOWHERE, compare=False, repr=False)


@dataclass(frozen=True)
class Range:
    """``min <= value <= max``, either bound optional; ``kind`` says how to read the value."""

    param: Param
    kind: str
    min: Bound | None
    max: Bound | None
    at: Mark = field(default=_NOWHERE, compare=False, repr=False)


@dataclass(frozen=True)
class Compare:
    """``param OP factor * other``, e.g. queue_minfree >= 1.5 * message_size_limit."""

    param: Param
    op: str
    other: Param
    factor: Bound
    kind: str
    at: Mark = field(default=_NOWHERE, compare=False, repr=False)


@dataclass(frozen=True)
class IsSet:
    """The parameter is explicitly assigned (main.cf, master.cf -o, dovecot.conf)."""

    param: Param
    at: Mark = field(default=_NOWHERE, compare=False, repr=False)


@dataclass(frozen=True)
class IsUnset:
    """The parameter is not explicitly assigned: its default applies."""

    param: Param
    at: Mark = field(default=_NOWHERE, compare=False, repr=False)


@dataclass(frozen=True)
class IsEmpty:
    """The effective value, defaults included, is empty."""

    param: Param
    at: Mark = field(default=_NOWHERE, compare=False, repr=False)


@dataclass(frozen=True)
class IsNonEmpty:
    param: Param
    at: Mark = field(default=_NOWHERE, compare=False, repr=False)


@dataclass(frozen=True)
class FileMeta:
    """Ownership and mode of the file at ``path``, or of each file the parameter names."""

    param: Param | None
    path: str | None
    owner: tuple[str, ...]
    group: tuple[str, ...]
    #: No permission bit outside this mask may be set.
    mode_max: int | None
    #: None of these bits may be set.
    mode_forbidden: int | None
    #: What a missing file means: "fail" or "pass".
    missing: str
    at: Mark = field(default=_NOWHERE, compare=False, repr=False)


@dataclass(frozen=True)
class SectionStep:
    """``TYPE`` or ``TYPE NAME`` of a Dovecot section; ``name`` may be a glob."""

    type: str
    name: str | None = None

    def __str__(self) -> str:
        return self.type if self.name is None else f"{self.type} {self.name}"


@dataclass(frozen=True)
class Section:
    """``check`` inside the Dovecot sections at ``path`` (relative to the rule's scope)."""

    path: tuple[SectionStep, ...]
    check: Check
    #: What it means when no section matches: "fail" or "pass".
    missing: str
    #: Whether "all" matching sections or "any" one must pass.
    match: str
    at: Mark = field(default=_NOWHERE, compare=False, repr=False)


@dataclass(frozen=True)
class Predicate:
    """A named cross-component test from the engine's fixed registry; ``args`` sorted by name."""

    name: str
    args: tuple[tuple[str, Any], ...]
    at: Mark = field(default=_NOWHERE, compare=False, repr=False)

    @property
    def kwargs(self) -> dict[str, Any]:
        return dict(self.args)


@dataclass(frozen=True)
class AllOf:
    checks: tuple[Check, ...]
    at: Mark = field(default=_NOWHERE, compare=False, repr=False)


@dataclass(frozen=True)
class AnyOf:
    checks: tuple[Check, ...]
    at: Mark = field(default=_NOWHERE, compare=False, repr=False)


@dataclass(frozen=True)
class Not:
    check: Check
    at: Mark = field(default=_NOWHERE, compare=False, repr=False)


Check = Union[
    Equals,
    OneOf,
    ContainsAll,
    ContainsNone,
    Range,
    Compare,
    IsSet,
    IsUnset,
    IsEmpty,
    IsNonEmpty,
    FileMeta,
    Section,
    Predicate,
    AllOf,
    AnyOf,
    Not,
]
