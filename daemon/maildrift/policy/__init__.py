"""The policy language: loading, validating and layering rule files, and waivers.

Evaluation lives in the engine; this package only turns YAML into frozen
dataclasses and refuses anything it cannot read with one message naming the
file and line. The language is described in docs/policy-language.md.
"""

from __future__ import annotations

from maildrift.policy.canonical import canonical_json, policy_to_canonical
from maildrift.policy.checks import (
    CHECK_KEYS,
    OPERATORS,
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
from maildrift.policy.layering import LANGUAGE_VERSION, POLICY_KEYS, PolicySources
from maildrift.policy.loader import Policy, load_policy, load_policy_texts
from maildrift.policy.rules import (
    RULE_KEYS,
    SEVERITIES,
    Reference,
    Remediation,
    Rule,
    SetFile,
    SetSection,
    SetValue,
)
from maildrift.policy.scope import Scope, glob_match, parse_scope
from maildrift.policy.waivers import Waiver, WaiverMatch, load_waivers, match_waiver
from maildrift.policy.yamlmarks import Mark

__all__ = [
    "CHECK_KEYS",
    "LANGUAGE_VERSION",
    "OPERATORS",
    "POLICY_KEYS",
    "RULE_KEYS",
    "SEVERITIES",
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
    "Mark",
    "Not",
    "OneOf",
    "Param",
    "Policy",
    "PolicySources",
    "Predicate",
    "Range",
    "Reference",
    "Remediation",
    "Rule",
    "Scope",
    "Section",
    "SectionStep",
    "SetFile",
    "SetSection",
    "SetValue",
    "Waiver",
    "WaiverMatch",
    "canonical_json",
    "glob_match",
    "load_policy",
    "load_policy_texts",
    "load_waivers",
    "match_waiver",
    "parse_scope",
    "policy_to_canonical",
]
