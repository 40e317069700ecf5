"""Which policy files load, in what order, and how later ones override earlier ones.

Order: the vendor policy, then ``*.yaml`` in the policies.d directory sorted
bytewise (the C locale: ``B.yaml`` before ``a.yaml``), then each ``--policy``
file as given. Later files merge into earlier ones as a JSON merge patch
(RFC 7386) does: mappings merge key by key, lists and scalars replace, and a
key set to null is removed. Rules merge by ``id``; an unknown id adds a rule.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from maildrift.errors import ConfigError
from maildrift.policy.nodes import check_keys, expect_list, expect_mapping, fail, type_name
from maildrift.policy.operands import param_name
from maildrift.policy.rules import RULE_ID, RULE_KEYS
from maildrift.policy.yamlmarks import Mark, MarkedDict, MarkedList

__all__ = [
    "LANGUAGE_VERSION",
    "POLICY_KEYS",
    "Layered",
    "PolicySources",
    "check_document",
    "merge_layers",
    "merge_patch",
    "policy_dir_files",
]

#: The policy language version this loader reads (the ``version`` key).
LANGUAGE_VERSION = 1
#: Every top-level key of a policy file.
POLICY_KEYS = ("version", "name", "description", "references", "params", "rules")


@dataclass(frozen=True)
class PolicySources:
    """Where policy comes from: the vendor file, an optional policies.d, ``--policy`` files."""

    vendor: str
    policy_dir: str | None = None
    extra: tuple[str, ...] = ()

    def files(self) -> tuple[str, ...]:
        """Every file in layering order."""
        found = policy_dir_files(self.policy_dir) if self.policy_dir else []
        return (self.vendor, *found, *self.extra)


def policy_dir_files(directory: str) -> list[str]:
    """``*.yaml`` in ``directory`` in bytewise order; a missing directory has none.

    Names starting with a dot (editor lock and backup files) are skipped.
    """
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ConfigError(exc.strerror or str(exc), directory) from None
    picked = [n for n in names if n.endswith(".yaml") and not n.startswith(".")]
    picked.sort(key=os.fsencode)
    return [os.path.join(directory, name) for name in picked]


def merge_patch(base: Any, patch: Any) -> Any:
    """``patch`` applied to ``base``; keeps each key's mark from the file that set it.

    >>> from maildrift.policy.yamlmarks import load_yaml
    >>> a = load_yaml("x: {p: 1, q: [1, 2]}\\ny: 1\\n", "a.yaml")
    >>> b = load_yaml("x: {q: [3], r: 2}\\ny: null\\n", "b.yaml")
    >>> merged = merge_patch(a, b)
    >>> merged, str(merged["x"].value_mark("q")), str(merged["x"].value_mark("p"))
    ({'x': {'p': 1, 'q': [3], 'r': 2}}, 'b.yaml:1', 'a.yaml:1')
    """
    if not isinstance(patch, MarkedDict):
        return patch
    result = MarkedDict(mark=base.mark if isinstance(base, MarkedDict) else patch.mark)
    if isinstance(base, MarkedDict):
        result.update(base)
        result.key_marks.update(base.key_marks)
        result.value_marks.update(base.value_marks)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
            result.key_marks.pop(key, None)
            result.value_marks.pop(key, None)
            continue
        result[key] = merge_patch(result.get(key), value)
        result.key_marks[key] = patch.key_mark(key)
        result.value_marks[key] = patch.value_mark(key)
    return result


def check_document(doc: Any, file: str) -> MarkedDict:
    """What one file must get right on its own: its shape, rule ids, and rule keys."""
    if doc is None:
        return MarkedDict(mark=Mark(file, 1))
    doc = expect_mapping(doc, getattr(doc, "mark", Mark(file, 1)), "a policy file")
    check_keys(doc, POLICY_KEYS, "policy")
    version = doc.get("version")
    if version is not None and (isinstance(version, bool) or version != LANGUAGE_VERSION):
        fail(
            f"policy language version {version!r} is not supported (this maildrift reads "
            f"version {LANGUAGE_VERSION})",
            doc.value_mark("version"),
        )
    for key in ("name", "description"):
        if key in doc and doc[key] is not None and not isinstance(doc[key], str):
            fail(f"policy {key!r} must be a string, not {type_name(doc[key])}", doc.value_mark(key))
    if doc.get("params") is not None:
        _check_params(expect_mapping(doc["params"], doc.value_mark("params"), "'params'"))
    if doc.get("rules") is not None:
        _check_rules(expect_list(doc["rules"], doc.value_mark("rules"), "'rules'"))
    return doc


def _check_params(params: MarkedDict) -> None:
    for name, value in params.items():
        param_name(name, params.key_mark(name), "policy param")
        if isinstance(value, MarkedDict):
            fail(
                f"policy param {name!r} must be a value or a list of values, not a mapping",
                params.value_mark(name),
            )
        for i, item in enumerate(value if isinstance(value, MarkedList) else ()):
            if item is None or isinstance(item, (MarkedDict, MarkedList)):
                fail(
                    f"policy param {name!r} items must be single values, not {type_name(item)}",
                    value.item_mark(i),
                )


def _check_rules(rules: MarkedList) -> None:
    seen: dict[str, Mark] = {}
    for i, rule in enumerate(rules):
        node = expect_mapping(rule, rules.item_mark(i), "a rule")
        rule_id = node.get("id")
        if rule_id is None:
            fail("rule has no 'id'", node.mark)
        if not isinstance(rule_id, str) or not RULE_ID.match(rule_id):
            fail(
                f"rule id {rule_id!r} must be letters, digits, '.', '_' and '-'",
                node.value_mark("id"),
            )
        if rule_id in seen:
            fail(f"duplicate rule id {rule_id!r} (first at line {seen[rule_id].line})", node.mark)
        seen[rule_id] = node.mark
        check_keys(node, RULE_KEYS, "rule")


@dataclass
class Layered:
    """The merged, still unvalidated policy and where each part came from."""

    files: tuple[str, ...]
    top: MarkedDict
    params: MarkedDict
    rules: dict[str, MarkedDict] = field(default_factory=dict)
    rule_sources: dict[str, list[Mark]] = field(default_factory=dict)


def merge_layers(documents: Sequence[tuple[str, Any]]) -> Layered:
    """Check each ``(file, parsed YAML)`` and merge them in order."""
    files = tuple(file for file, _ in documents)
    first = Mark(files[0] if files else "<policy>", 1)
    layered = Layered(files, MarkedDict(mark=first), MarkedDict(mark=first))
    for file, doc in documents:
        doc = check_document(doc, file)
        for key, value in doc.items():
            if key == "params":
                if value is not None:
                    layered.params = merge_patch(layered.params, value)
            elif key == "rules":
                for rule in value or ():
                    _merge_rule(layered, rule)
            else:
                patch = MarkedDict({key: value}, mark=doc.mark)
                patch.key_marks[key] = doc.key_mark(key)
                patch.value_marks[key] = doc.value_mark(key)
                layered.top = merge_patch(layered.top, patch)
    return layered


def _merge_rule(layered: Layered, rule: MarkedDict) -> None:
    rule_id = rule["id"]
    layered.rules[rule_id] = merge_patch(layered.rules.get(rule_id), rule)
    layered.rule_sources.setdefault(rule_id, []).append(rule.mark)
