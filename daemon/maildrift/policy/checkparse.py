"""Building check dataclasses from marked YAML, with one clear error per mistake.

>>> from maildrift.policy.yamlmarks import MarkedDict, load_yaml
>>> ctx = CheckContext("postfix", MarkedDict(), {"postfix": {"smtpd_tls_auth_only"}}, set())
>>> parse_check(load_yaml("{param: smtpd_tls_auth_only, equals: yes}", "r.yaml"), None, ctx)
Equals(param=Param(component='postfix', name='smtpd_tls_auth_only'), value='yes')
>>> parse_check(load_yaml("{param: smtpd_tls_auth_only, equal: yes}", "r.yaml"), None, ctx)
Traceback (most recent call last):
...
maildrift.errors.ConfigError: r.yaml:1: unknown check operator 'equal' (did you mean 'equals'?)
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Callable

from maildrift.policy import operands as ops
from maildrift.policy.checks import (
    CHECK_KEYS,
    COMPARE_OPS,
    OPERATORS,
    QUANTITY_KINDS,
    AllOf,
    AnyOf,
    Bound,
    Check,
    Compare,
    ContainsAll,
    ContainsNone,
    Equals,
    FileMeta,
    IsEmpty,
    IsNonEmpty,
    IsSet,
    IsUnset,
    Not,
    OneOf,
    Param,
    Predicate,
    Range,
    Section,
    SectionStep,
)
from maildrift.policy.nodes import (
    check_keys,
    expect_list,
    expect_mapping,
    expect_str,
    fail,
    suggest,
    type_name,
)
from maildrift.policy.yamlmarks import Mark, MarkedDict, MarkedList

__all__ = [
    "COMPONENT_NAMES",
    "PARSERS",
    "CheckContext",
    "config_param",
    "parse_check",
    "parse_section_path",
]

#: How each configuration component is named in messages.
COMPONENT_NAMES = {"postfix": "Postfix", "dovecot": "Dovecot"}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\Z")
_STEP = re.compile(r"([a-z_]+)(?:\s+(\S.*))?\Z")
_WORD_OPS = {"lt": "<", "le": "<=", "eq": "==", "ne": "!=", "ge": ">=", "gt": ">"}
_OPPOSITE = {"set": "unset", "unset": "set", "empty": "nonempty", "nonempty": "empty"}
_TARGETS: dict[str, tuple[str, ...]] = {
    "file": ("param", "path"),
    "section": ("check", "missing", "match"),
    "predicate": ("args",),
    "all": (),
    "any": (),
    "not": (),
}


@dataclass
class CheckContext:
    """What parsing one rule's check needs to know; ``reads`` collects what it reads."""

    #: Component of unqualified parameter names; None when the rule's scopes span several.
    component: str | None
    #: The merged policy ``params``.
    params: MarkedDict
    #: Known setting names per component; a component missing here is not checked.
    known_params: Mapping[str, Collection[str]]
    known_predicates: Collection[str]
    #: False for disabled rules, which may name settings this host lacks.
    check_names: bool = True
    #: Dovecot section types the check is nested in.
    section: tuple[str, ...] = ()
    reads: list[Param] = field(default_factory=list)


def config_param(value: Any, mark: Mark, ctx: CheckContext, what: str) -> Param:
    """A Postfix or Dovecot setting name, qualified or taking the rule's component."""
    name = expect_str(value, mark, what)
    component, colon, bare = name.rpartition(":")
    if colon:
        if component not in COMPONENT_NAMES:
            fail(f"{what} {name!r}: component must be postfix or dovecot", mark)
        if ctx.section and component != "dovecot":
            fail(f"{what} {name!r}: a Dovecot section holds only dovecot settings", mark)
    else:
        component = "dovecot" if ctx.section else ctx.component
        if component is None:
            fail(
                f"{what} {name!r} needs a component, postfix:{name} or dovecot:{name}, "
                "as the rule's scopes are not all one component",
                mark,
            )
    if not _NAME.match(bare):
        fail(f"{what} {name!r} is not a setting name", mark)
    known = ctx.known_params.get(component)
    if ctx.check_names and known is not None and bare not in known:
        fail(f"unknown {COMPONENT_NAMES[component]} parameter {bare!r}{suggest(bare, known)}", mark)
    ctx.reads.append(Param(component, "/".join((*ctx.section, bare))))
    return Param(component, bare)


def parse_check(value: Any, mark: Mark | None, ctx: CheckContext) -> Check:
    """One check mapping (and everything nested in it)."""
    node = expect_mapping(value, mark or getattr(value, "mark", Mark("<input>", 1)), "a check")
    for key in node:
        if not isinstance(key, str) or key not in CHECK_KEYS:
            fail(
                f"unknown check operator {key!r}{suggest(str(key), OPERATORS)}", node.key_mark(key)
            )
    found = [key for key in node if key in OPERATORS]
    if not found:
        fail(f"check has no operator; use one of {', '.join(OPERATORS)}", node.mark)
    if len(found) > 1:
        first, second = found[:2]
        if node.key_mark(first).file != node.key_mark(second).file:
            hint = "an override replaces an operator by setting the old one to null"
        else:
            hint = "a check takes one operator; combine checks with all, any or not"
        fail(
            f"check has two operators, {first!r} ({node.key_mark(first)}) and {second!r}; {hint}",
            node.key_mark(second),
        )
    op = found[0]
    allowed = (op, *_TARGETS.get(op, ("param",)))
    for key in node:
        if key not in allowed:
            fail(
                f"{key!r} does not go with {op!r} (that check takes {', '.join(allowed)})",
                node.key_mark(key),
            )
    return PARSERS[op](node, op, ctx)


def _target(node: MarkedDict, op: str, ctx: CheckContext) -> Param:
    if node.get("param") is None:
        fail(f"a {op!r} check needs 'param'", node.mark)
    return config_param(node["param"], node.value_mark("param"), ctx, "'param'")


def _operand(node: MarkedDict, op: str, ctx: CheckContext, dollar: bool = False) -> ops.Operand:
    return ops.resolve(node[op], node.value_mark(op), ctx.params, dollar=dollar)


def _equals(node: MarkedDict, op: str, ctx: CheckContext) -> Check:
    param = _target(node, op, ctx)
    return Equals(param, ops.text(_operand(node, op, ctx), "'equals'"), node.key_mark(op))


def _one_of(node: MarkedDict, op: str, ctx: CheckContext) -> Check:
    param = _target(node, op, ctx)
    return OneOf(param, ops.texts(_operand(node, op, ctx), "'one_of'"), node.key_mark(op))


def _contains(node: MarkedDict, op: str, ctx: CheckContext) -> Check:
    param = _target(node, op, ctx)
    items = ops.tokens(_operand(node, op, ctx), repr(op))
    cls = ContainsAll if op == "contains_all" else ContainsNone
    return cls(param, items, node.key_mark(op))


def _kind(node: MarkedDict, what: str) -> str:
    kind = node.get("kind", "int")
    if kind not in QUANTITY_KINDS:
        fail(
            f"{what} 'kind' must be one of {', '.join(QUANTITY_KINDS)}, not {kind!r}"
            + suggest(str(kind), QUANTITY_KINDS),
            node.value_mark("kind"),
        )
    return kind


def _range(node: MarkedDict, op: str, ctx: CheckContext) -> Check:
    param = _target(node, op, ctx)
    spec = expect_mapping(node[op], node.value_mark(op), "'range'")
    check_keys(spec, ("min", "max", "kind"), "range")
    kind = _kind(spec, "range")
    bounds: dict[str, Bound | None] = {"min": None, "max": None}
    for key in bounds:
        if spec.get(key) is not None:
            operand = ops.resolve(spec[key], spec.value_mark(key), ctx.params, dollar=True)
            bounds[key] = ops.quantity(operand, kind, f"range {key!r}")
    low, high = bounds["min"], bounds["max"]
    if low is None and high is None:
        fail("range needs 'min', 'max' or both", spec.mark)
    if low is not None and high is not None and low.value > high.value:
        fail(f"range 'min' ({low.value}) is above 'max' ({high.value})", spec.mark)
    return Range(param, kind, low, high, node.key_mark(op))


def _compare(node: MarkedDict, op: str, ctx: CheckContext) -> Check:
    param = _target(node, op, ctx)
    spec = expect_mapping(node[op], node.value_mark(op), "'compare'")
    check_keys(spec, ("op", "other", "factor", "kind"), "compare")
    relation = spec.get("op")
    relation = _WORD_OPS.get(relation, relation) if isinstance(relation, str) else relation
    if relation not in COMPARE_OPS:
        choices = ", ".join((*COMPARE_OPS, *_WORD_OPS))
        fail(
            f"compare 'op' must be one of {choices}, not {spec.get('op')!r}", spec.value_mark("op")
        )
    if spec.get("other") is None:
        fail("compare needs 'other', the parameter to compare with", spec.mark)
    other = config_param(spec["other"], spec.value_mark("other"), ctx, "compare 'other'")
    factor = Bound(1)
    if spec.get("factor") is not None:
        operand = ops.resolve(spec["factor"], spec.value_mark("factor"), ctx.params, dollar=True)
        factor = ops.factor(operand, "compare 'factor'")
    return Compare(param, relation, other, factor, _kind(spec, "compare"), node.key_mark(op))


def _presence(node: MarkedDict, op: str, ctx: CheckContext) -> Check:
    param = _target(node, op, ctx)
    if node[op] is not True:
        fail(
            f"{op!r} takes only true; for the opposite use {_OPPOSITE[op]!r}",
            node.value_mark(op),
        )
    cls = {"set": IsSet, "unset": IsUnset, "empty": IsEmpty, "nonempty": IsNonEmpty}[op]
    return cls(param, node.key_mark(op))


def _names(spec: MarkedDict, key: str) -> tuple[str, ...]:
    value = spec.get(key)
    if value is None:
        return ()
    items = value if isinstance(value, MarkedList) else [value]
    for i, item in enumerate(items):
        mark = value.item_mark(i) if isinstance(value, MarkedList) else spec.value_mark(key)
        if isinstance(item, bool) or not isinstance(item, (str, int)) or item == "":
            fail(f"file {key!r} must be a user or group name or a list of them", mark)
    return tuple(str(item) for item in items)


def _file(node: MarkedDict, op: str, ctx: CheckContext) -> Check:
    if (node.get("param") is None) == (node.get("path") is None):
        fail("a 'file' check needs exactly one of 'param' or 'path'", node.mark)
    param = path = None
    if node.get("path") is not None:
        path = expect_str(node["path"], node.value_mark("path"), "'path'")
        if not path.startswith("/"):
            fail(f"'path' {path!r} must be absolute", node.value_mark("path"))
        ctx.reads.append(Param("file", path))
    else:
        param = _target(node, op, ctx)
    spec = expect_mapping(node[op], node.value_mark(op), "'file'")
    keys = ("owner", "group", "mode_max", "mode_forbidden")
    check_keys(spec, (*keys, "missing"), "file")
    if all(spec.get(key) is None for key in keys):
        fail(f"a 'file' check needs at least one of {', '.join(keys)}", spec.mark)
    modes = {
        key: ops.mode(spec[key], spec.value_mark(key), f"file {key!r}")
        for key in ("mode_max", "mode_forbidden")
        if spec.get(key) is not None
    }
    return FileMeta(
        param,
        path,
        _names(spec, "owner"),
        _names(spec, "group"),
        modes.get("mode_max"),
        modes.get("mode_forbidden"),
        _choice(spec, "missing", ("fail", "pass"), "file"),
        node.key_mark(op),
    )


def _choice(node: MarkedDict, key: str, choices: tuple[str, ...], what: str) -> str:
    value = node.get(key, choices[0])
    if value not in choices:
        fail(
            f"{what} {key!r} must be one of {', '.join(choices)}, not {value!r}",
            node.value_mark(key),
        )
    return value


def parse_section_path(value: Any, mark: Mark) -> tuple[SectionStep, ...]:
    """``"service auth"`` or a list of such steps, outermost first."""
    items = value if isinstance(value, MarkedList) else [value]
    if not items:
        fail("'section' must name at least one section", mark)
    steps = []
    for i, item in enumerate(items):
        item_mark = value.item_mark(i) if isinstance(value, MarkedList) else mark
        found = _STEP.match(expect_str(item, item_mark, "a section step").strip())
        if found is None:
            fail(f"section step {item!r} must be 'TYPE' or 'TYPE NAME'", item_mark)
        steps.append(SectionStep(found.group(1), found.group(2)))
    return tuple(steps)


def _section(node: MarkedDict, op: str, ctx: CheckContext) -> Check:
    if ctx.component != "dovecot" and not ctx.section:
        fail("a 'section' check needs the rule's scopes to be dovecot: ones", node.key_mark(op))
    path = parse_section_path(node[op], node.value_mark(op))
    if node.get("check") is None:
        fail("a 'section' check needs 'check', what must hold inside it", node.mark)
    inner = dataclasses.replace(ctx, section=ctx.section + tuple(s.type for s in path))
    check = parse_check(node["check"], node.value_mark("check"), inner)
    missing = _choice(node, "missing", ("fail", "pass"), "section")
    match = _choice(node, "match", ("all", "any"), "section")
    return Section(path, check, missing, match, node.key_mark(op))


def _predicate(node: MarkedDict, op: str, ctx: CheckContext) -> Check:
    name = expect_str(node[op], node.value_mark(op), "'predicate'")
    if name not in ctx.known_predicates:
        fail(
            f"unknown predicate {name!r}{suggest(name, ctx.known_predicates)}", node.value_mark(op)
        )
    args: list[tuple[str, Any]] = []
    if node.get("args") is not None:
        spec = expect_mapping(node["args"], node.value_mark("args"), "'args'")
        for key in spec:
            if not isinstance(key, str):
                fail(f"argument names must be strings, not {type_name(key)}", spec.key_mark(key))
            operand = ops.resolve(spec[key], spec.value_mark(key), ctx.params)
            if isinstance(operand.value, MarkedList):
                value: Any = tuple(
                    ops.scalar(v, operand.value.item_mark(i), f"argument {key!r} item")
                    for i, v in enumerate(operand.value)
                )
            else:
                value = ops.scalar(operand.value, operand.mark, f"argument {key!r}")
            args.append((key, value))
    # Arguments are a mapping: sorted, so the same arguments always compare equal.
    return Predicate(name, tuple(sorted(args)), node.key_mark(op))


def _combine(node: MarkedDict, op: str, ctx: CheckContext) -> Check:
    if op == "not":
        return Not(parse_check(node[op], node.value_mark(op), ctx), node.key_mark(op))
    items = expect_list(node[op], node.value_mark(op), repr(op))
    if not items:
        fail(f"{op!r} needs at least one check", node.value_mark(op))
    checks = tuple(parse_check(item, items.item_mark(i), ctx) for i, item in enumerate(items))
    return (AllOf if op == "all" else AnyOf)(checks, node.key_mark(op))


PARSERS: dict[str, Callable[[MarkedDict, str, CheckContext], Check]] = {
    "equals": _equals,
    "one_of": _one_of,
    "contains_all": _contains,
    "contains_none": _contains,
    "range": _range,
    "compare": _compare,
    "set": _presence,
    "unset": _presence,
    "empty": _presence,
    "nonempty": _presence,
    "file": _file,
    "section": _section,
    "predicate": _predicate,
    "all": _combine,
    "any": _combine,
    "not": _combine,
}
