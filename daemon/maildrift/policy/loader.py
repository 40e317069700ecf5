"""``load_policy``: files to one validated, merged, hashed :class:`Policy`.

Each file is parsed and checked on its own first (syntax, duplicate keys,
unknown keys, rule ids), so a mistake is reported in the file that made it.
The merge is then validated as a whole, with every message pointing at the
file and line whose value is wrong.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Union

from maildrift.policy.canonical import policy_sha256
from maildrift.policy.layering import Layered, PolicySources, merge_layers
from maildrift.policy.nodes import expect_str, fail, get_str
from maildrift.policy.rules import Reference, Rule, parse_references, parse_rule
from maildrift.policy.yamlmarks import Mark, MarkedList, load_yaml, load_yaml_file

__all__ = ["ParamValue", "Policy", "load_policy", "load_policy_texts"]

#: A policy param's value: one scalar, or a tuple of them.
_Scalar = Union[str, int, float, bool]
ParamValue = Union[_Scalar, tuple[_Scalar, ...]]


@dataclass(frozen=True)
class Policy:
    """The merged policy the engine evaluates."""

    name: str
    version: int
    description: str
    references: tuple[Reference, ...]
    params: Mapping[str, ParamValue]
    #: Vendor order, then rules new in later files in the order they appear.
    rules: tuple[Rule, ...]
    #: sha256 of :func:`~maildrift.policy.canonical.canonical_json`.
    sha256: str
    #: Every file loaded, in layering order.
    sources: tuple[str, ...]
    #: Where each param's winning value was written.
    param_sources: Mapping[str, Mark] = dataclasses.field(
        default_factory=lambda: MappingProxyType({}), compare=False
    )

    @property
    def active_rules(self) -> tuple[Rule, ...]:
        """The rules not disabled."""
        return tuple(rule for rule in self.rules if not rule.disabled)

    def rule(self, rule_id: str) -> Rule | None:
        return next((rule for rule in self.rules if rule.id == rule_id), None)


def load_policy(
    sources: PolicySources | Sequence[str],
    known_params: Mapping[str, Collection[str]],
    known_predicates: Collection[str],
) -> Policy:
    """Load, layer and validate policy files; raise ConfigError at the first mistake.

    ``known_params`` maps ``"postfix"`` and ``"dovecot"`` to the setting names
    this host knows (for Dovecot, including those valid inside sections such
    as ``mode``); a component left out is not checked. ``known_predicates``
    are the predicate names the engine implements.
    """
    files = sources.files() if isinstance(sources, PolicySources) else tuple(sources)
    return _build(
        merge_layers([(path, load_yaml_file(path)) for path in files]),
        known_params,
        known_predicates,
    )


def load_policy_texts(
    texts: Sequence[tuple[str, str]],
    known_params: Mapping[str, Collection[str]],
    known_predicates: Collection[str],
) -> Policy:
    """:func:`load_policy` for ``(name, YAML text)`` pairs already in memory."""
    documents = [(name, load_yaml(text, name)) for name, text in texts]
    return _build(merge_layers(documents), known_params, known_predicates)


def _build(
    layered: Layered,
    known_params: Mapping[str, Collection[str]],
    known_predicates: Collection[str],
) -> Policy:
    if not layered.files:
        raise ValueError("load_policy needs at least one policy file")
    top = layered.top
    for key in ("version", "name"):
        if top.get(key) is None:
            fail(f"policy has no {key!r} (the vendor policy file sets it)", top.mark)
    params = {name: _param_value(value) for name, value in layered.params.items()}
    rules = []
    for rule_id, node in layered.rules.items():
        sources = tuple(layered.rule_sources[rule_id])
        rules.append(
            parse_rule(
                node,
                layered.params,
                known_params,
                known_predicates,
                sources=sources,
                overriding_nothing=sources[0].file != layered.files[0],
            )
        )
    policy = Policy(
        name=expect_str(top["name"], top.value_mark("name"), "policy 'name'"),
        version=top["version"],
        description=get_str(top, "description", "policy", "", nonempty=False) or "",
        references=parse_references(top.get("references"), top.value_mark("references"), "policy"),
        params=MappingProxyType(params),
        rules=tuple(rules),
        sha256="",
        sources=layered.files,
        param_sources=MappingProxyType(
            {name: layered.params.value_mark(name) for name in layered.params}
        ),
    )
    return dataclasses.replace(policy, sha256=policy_sha256(policy))


def _param_value(value: Any) -> Any:
    return tuple(value) if isinstance(value, MarkedList) else value
