"""Rules, references and remediations, built from a merged rule mapping."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Union

from maildrift.policy import operands as ops
from maildrift.policy.checkparse import (
    CheckContext,
    config_param,
    parse_check,
    parse_section_path,
)
from maildrift.policy.checks import Check, Param, SectionStep
from maildrift.policy.nodes import (
    check_keys,
    expect_list,
    expect_mapping,
    expect_str,
    fail,
    get_bool,
    get_choice,
    get_str,
    suggest,
)
from maildrift.policy.scope import Scope, parse_scope
from maildrift.policy.yamlmarks import Mark, MarkedDict, MarkedList

__all__ = [
    "REFERENCE_KEYS",
    "REFERENCE_TYPES",
    "REMEDIATION_KEYS",
    "REQUIRED_RULE_KEYS",
    "RULE_ID",
    "RULE_KEYS",
    "SEVERITIES",
    "Reference",
    "Remediation",
    "Rule",
    "SetFile",
    "SetSection",
    "SetValue",
    "parse_references",
    "parse_rule",
]

#: Lowest to highest, so thresholds can compare positions.
SEVERITIES = ("info", "low", "medium", "high", "critical")
#: Every key a rule mapping may hold.
RULE_KEYS = (
    "id",
    "title",
    "description",
    "severity",
    "references",
    "scope",
    "inputs",
    "check",
    "remediation",
    "enforce",
    "disabled",
)
#: Keys a rule needs once all layers are merged.
REQUIRED_RULE_KEYS = ("title", "severity", "scope", "check")
#: Rule ids: what results, waivers and overrides refer to.
RULE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
REFERENCE_TYPES = ("rhel-guide", "cis", "stig", "nist", "rfc", "doc")
REFERENCE_KEYS = ("type", "id", "title", "url")
REMEDIATION_KEYS = ("param", "value", "section", "settings", "path", "mode", "owner", "group")
_INPUT_COMPONENTS = ("postfix", "dovecot", "file")


@dataclass(frozen=True)
class Reference:
    """Where a rule comes from: ``{type: stig, id: RHEL-08-040000}``."""

    type: str
    id: str
    title: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class SetValue:
    """Assign ``value`` to the parameter (a YAML list is joined as the component lists)."""

    param: Param
    value: str


@dataclass(frozen=True)
class SetSection:
    """Assign ``settings`` (sorted by name) inside the Dovecot section at ``path``."""

    path: tuple[SectionStep, ...]
    settings: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class SetFile:
    """Give the file at ``path`` (or named by ``param``) this mode, owner and group."""

    param: Param | None
    path: str | None
    mode: int | None
    owner: str | None
    group: str | None


Remediation = Union[SetValue, SetSection, SetFile]


@dataclass(frozen=True)
class Rule:
    """One merged rule; ``file``/``line`` is where it was first defined."""

    id: str
    title: str
    description: str
    severity: str
    references: tuple[Reference, ...]
    scopes: tuple[Scope, ...]
    #: What the rule reads: declared, or derived from the check when not declared.
    inputs: tuple[Param, ...]
    check: Check
    remediation: Remediation | None
    enforce: bool
    disabled: bool
    # Provenance never makes two rules differ.
    file: str = field(compare=False)
    line: int = field(compare=False)
    #: The rule mapping in each file that defined or overrode it, in layering order.
    sources: tuple[Mark, ...] = field(default=(), compare=False)
    #: Each key of the rule mapping and where its winning value was written.
    key_sources: tuple[tuple[str, Mark], ...] = field(default=(), compare=False)

    def source_of(self, key: str) -> Mark | None:
        return dict(self.key_sources).get(key)


def parse_references(value: Any, mark: Mark, what: str) -> tuple[Reference, ...]:
    if value is None:
        return ()
    items = expect_list(value, mark, f"{what} 'references'")
    refs = []
    for i, item in enumerate(items):
        node = expect_mapping(item, items.item_mark(i), "a reference")
        check_keys(node, REFERENCE_KEYS, "reference")
        kind = get_choice(node, "type", REFERENCE_TYPES, "reference")
        ref_id = node.get("id")
        if isinstance(ref_id, float):
            # 2.10 would silently become section 2.1.
            fail(
                'quote dotted reference ids such as "2.10"; '
                f"unquoted, YAML reads the number {ref_id}",
                node.value_mark("id"),
            )
        if isinstance(ref_id, int) and not isinstance(ref_id, bool):
            ref_id = str(ref_id)
        ref_id = expect_str(
            ref_id, node.value_mark("id") if "id" in node else node.mark, "reference 'id'"
        )
        url = get_str(node, "url", "reference")
        if kind == "doc" and url is None:
            fail("a reference of type doc needs 'url'", node.mark)
        refs.append(Reference(kind, ref_id, get_str(node, "title", "reference"), url))
    return tuple(refs)


def parse_rule(
    node: MarkedDict,
    params: MarkedDict,
    known_params: Mapping[str, Collection[str]],
    known_predicates: Collection[str],
    *,
    sources: tuple[Mark, ...] = (),
    overriding_nothing: bool = False,
) -> Rule:
    """Validate a merged rule mapping and build its :class:`Rule`.

    ``overriding_nothing`` marks a rule first seen in an override file, so a
    missing key can be explained as a probable typo in the id.
    """
    check_keys(node, RULE_KEYS, "rule")
    rule_id = node["id"]
    what = f"rule {rule_id!r}"
    for key in REQUIRED_RULE_KEYS:
        if node.get(key) is None:
            hint = ""
            if overriding_nothing:
                hint = f" (no earlier policy file defines {rule_id!r}, so this is a new rule)"
            fail(f"{what} has no {key!r}{hint}", node.mark)
    disabled = get_bool(node, "disabled", what)
    scopes = _scopes(node)
    # Unqualified names take the scopes' one component; cross or mixed scopes must qualify.
    components = {s.component for s in scopes}
    component = components.pop() if len(components) == 1 else None
    ctx = CheckContext(
        component if component in ("postfix", "dovecot") else None,
        params,
        known_params,
        known_predicates,
        check_names=not disabled,
    )
    check = parse_check(node["check"], node.value_mark("check"), ctx)
    remediation = None
    if node.get("remediation") is not None:
        fresh = dataclasses.replace(ctx, reads=[])
        remediation = _remediation(node["remediation"], node.value_mark("remediation"), fresh)
    return Rule(
        id=rule_id,
        title=expect_str(node["title"], node.value_mark("title"), f"{what} 'title'"),
        description=get_str(node, "description", what, "", nonempty=False) or "",
        severity=get_choice(node, "severity", SEVERITIES, what),
        references=parse_references(node.get("references"), node.value_mark("references"), what),
        scopes=scopes,
        inputs=_inputs(node, ctx),
        check=check,
        remediation=remediation,
        enforce=get_bool(node, "enforce", what),
        disabled=disabled,
        file=node.mark.file,
        line=node.mark.line,
        sources=sources or (node.mark,),
        key_sources=tuple((key, node.value_mark(key)) for key in node),
    )


def _scopes(node: MarkedDict) -> tuple[Scope, ...]:
    value, mark = node["scope"], node.value_mark("scope")
    items = value if isinstance(value, MarkedList) else [value]
    if not items:
        fail("'scope' must name at least one scope", mark)
    scopes: list[Scope] = []
    for i, item in enumerate(items):
        item_mark = value.item_mark(i) if isinstance(value, MarkedList) else mark
        scope = parse_scope(expect_str(item, item_mark, "a scope"), item_mark.file, item_mark.line)
        if scope in scopes:
            fail(f"scope {str(scope)!r} is listed twice", item_mark)
        scopes.append(scope)
    return tuple(scopes)


def _inputs(node: MarkedDict, ctx: CheckContext) -> tuple[Param, ...]:
    derived = tuple(dict.fromkeys(ctx.reads))
    if node.get("inputs") is None:
        return derived
    items = expect_list(node["inputs"], node.value_mark("inputs"), "'inputs'")
    declared: list[Param] = []
    for i, item in enumerate(items):
        param = _input(item, items.item_mark(i), ctx)
        if param not in declared:
            declared.append(param)
    missing = [str(p) for p in derived if p not in declared]
    if missing:
        fail(
            f"'inputs' lacks {', '.join(missing)}, which the check reads", node.value_mark("inputs")
        )
    return tuple(declared)


def _input(value: Any, mark: Mark, ctx: CheckContext) -> Param:
    text = expect_str(value, mark, "an input")
    component, colon, name = text.partition(":")
    if not colon or component not in _INPUT_COMPONENTS:
        fail(
            f"input {text!r} must be postfix:NAME, dovecot:NAME or file:PATH"
            + suggest(component, _INPUT_COMPONENTS),
            mark,
        )
    if component == "file":
        if not name.startswith("/"):
            fail(f"input {text!r}: the file path must be absolute", mark)
        return Param("file", name)
    *sections, leaf = name.split("/")
    if component == "postfix" and sections:
        fail(f"input {text!r}: Postfix parameter names have no '/'", mark)
    inner = dataclasses.replace(ctx, reads=[], component=component, section=tuple(sections))
    config_param(leaf, mark, inner, "input")
    return inner.reads[0]


def _remediation(value: Any, mark: Mark, ctx: CheckContext) -> Remediation:
    node = expect_mapping(value, mark, "'remediation'")
    check_keys(node, REMEDIATION_KEYS, "remediation")
    if node.get("value") is not None:
        check_keys(node, ("param", "value"), "value remediation")
        param = _remediation_param(node, ctx)
        joiner = ", " if param.component == "postfix" else " "
        operand = ops.resolve(node["value"], node.value_mark("value"), ctx.params)
        if isinstance(operand.value, MarkedList):
            return SetValue(param, joiner.join(ops.texts(operand, "remediation 'value'")))
        return SetValue(param, ops.text(operand, "remediation 'value'"))
    if node.get("section") is not None or node.get("settings") is not None:
        check_keys(node, ("section", "settings"), "section remediation")
        if ctx.component != "dovecot":
            fail("a section remediation needs the rule's scopes to be dovecot: ones", node.mark)
        if node.get("section") is None or node.get("settings") is None:
            fail("a section remediation needs both 'section' and 'settings'", node.mark)
        path = parse_section_path(node["section"], node.value_mark("section"))
        spec = expect_mapping(node["settings"], node.value_mark("settings"), "'settings'")
        inner = dataclasses.replace(ctx, section=tuple(s.type for s in path))
        settings = []
        for key in spec:
            config_param(key, spec.key_mark(key), inner, "setting")
            operand = ops.resolve(spec[key], spec.value_mark(key), ctx.params)
            settings.append((key, ops.text(operand, f"setting {key!r}")))
        return SetSection(path, tuple(sorted(settings)))
    if all(node.get(key) is None for key in ("mode", "owner", "group")):
        fail("remediation needs 'value', 'section' with 'settings', or mode/owner/group", node.mark)
    check_keys(node, ("param", "path", "mode", "owner", "group"), "file remediation")
    if (node.get("param") is None) == (node.get("path") is None):
        fail("a file remediation needs exactly one of 'param' or 'path'", node.mark)
    path = None
    if node.get("path") is not None:
        path = expect_str(node["path"], node.value_mark("path"), "'path'")
        if not path.startswith("/"):
            fail(f"'path' {path!r} must be absolute", node.value_mark("path"))
    mode = None
    if node.get("mode") is not None:
        mode = ops.mode(node["mode"], node.value_mark("mode"), "remediation 'mode'")
    return SetFile(
        _remediation_param(node, ctx) if path is None else None,
        path,
        mode,
        get_str(node, "owner", "remediation"),
        get_str(node, "group", "remediation"),
    )


def _remediation_param(node: MarkedDict, ctx: CheckContext) -> Param:
    if node.get("param") is None:
        fail("this remediation needs 'param'", node.mark)
    return config_param(node["param"], node.value_mark("param"), ctx, "remediation 'param'")
