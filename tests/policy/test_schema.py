"""The shipped JSON Schema agrees with the loader's vocabulary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from maildrift.policy import CHECK_KEYS, OPERATORS, POLICY_KEYS, RULE_KEYS, SEVERITIES
from maildrift.policy.rules import REFERENCE_TYPES, REMEDIATION_KEYS
from maildrift.policy.yamlmarks import load_yaml_file
from tests.policy.helpers import SAMPLES

SCHEMA_PATH = Path(__file__).parents[2] / "policies" / "schema" / "policy.schema.json"


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


def test_schema_is_json_with_a_draft(schema):
    """The schema parses as JSON and names its draft."""
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_top_level_and_rule_keys_match(schema):
    """The schema lists exactly the loader's policy and rule keys."""
    assert set(schema["properties"]) == set(POLICY_KEYS)
    assert set(schema["$defs"]["rule"]["properties"]) == set(RULE_KEYS)


def test_operator_names_match(schema):
    """The schema's one-operator alternatives are exactly the loader's operators."""
    check = schema["$defs"]["check"]
    alternatives = [alt["required"][0] for alt in check["oneOf"]]
    assert sorted(alternatives) == sorted(OPERATORS)
    assert len(alternatives) == len(set(alternatives))
    assert set(check["properties"]) == set(CHECK_KEYS)


def test_enumerations_match(schema):
    """Severities, reference types and remediation keys agree."""
    rule = schema["$defs"]["rule"]["properties"]
    assert [s for s in rule["severity"]["enum"] if s is not None] == list(SEVERITIES)
    ref_types = schema["$defs"]["references"]["items"]["properties"]["type"]["enum"]
    assert ref_types == list(REFERENCE_TYPES)
    assert set(schema["$defs"]["remediation"]["properties"]) == set(REMEDIATION_KEYS)


def test_samples_validate_when_jsonschema_is_installed(schema):
    """Good samples pass the schema and shape errors fail it (jsonschema is optional)."""
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(schema)
    good = [SAMPLES / "vendor.yaml", SAMPLES / "site.yaml", *SAMPLES.glob("policies.d/*.yaml")]
    for path in good:
        if path.name.startswith("."):
            continue
        errors = list(validator.iter_errors(load_yaml_file(str(path))))
        assert not errors, (path, errors[0].message)
    for name in ["unknown_top_key", "unknown_rule_key", "unknown_operator", "two_operators"]:
        doc = load_yaml_file(str(SAMPLES / "bad" / f"{name}.yaml"))
        assert not validator.is_valid(doc), name
