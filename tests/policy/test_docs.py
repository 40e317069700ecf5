"""docs/policy-language.md: every operator is documented and every example loads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from maildrift.policy import OPERATORS, Bound, OneOf, load_policy_texts
from tests.policy.helpers import KNOWN_PARAMS, PREDICATES, SAMPLES

DOC = Path(__file__).parents[2] / "docs" / "policy-language.md"
BLOCKS = re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.DOTALL)
PARAMS = (
    "params:\n  min_connection_rate: 1\n  max_message_size: 52428800\n"
    "  minimum_tls: [TLSv1.2, TLSv1.3]\n"
)


def _load(*texts: str):
    named = [(f"doc{i}.yaml", text) for i, text in enumerate(texts)]
    return load_policy_texts(named, KNOWN_PARAMS, PREDICATES)


def _snippets():
    """Each check or remediation example, with the scope and inputs written above it."""
    for block in BLOCKS:
        if block.startswith(("version:", "# policies.d", "- rule:")):
            continue
        context = {"scope": "postfix:main"}
        chunks: list[list[str]] = []
        for line in block.splitlines():
            key = line.split(":", 1)[0]
            if key in ("scope", "inputs"):
                context[key] = line.split(":", 1)[1].strip()
            elif key in ("check", "remediation"):
                chunks.append([dict(context), line])
            elif chunks and (line.startswith(" ") or not line.strip()):
                chunks[-1].append(line)
        yield from chunks


SNIPPETS = list(_snippets())


def test_every_operator_has_a_section():
    """Each operator name heads (or shares) a ### section of the document."""
    headings = " ".join(re.findall(r"^### (.*)$", DOC.read_text(), re.MULTILINE))
    missing = [op for op in OPERATORS if f"`{op}`" not in headings]
    assert not missing


def test_there_are_examples():
    """The extractor finds the operator and remediation examples."""
    assert len(SNIPPETS) >= 19


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[s[1][:40] for s in SNIPPETS])
def test_example_loads(snippet):
    """Each example check or remediation loads inside a rule with its scope."""
    context, *lines = snippet
    body = "\n".join("    " + line for line in lines)
    if lines[0].startswith("remediation"):
        check = "{predicate: sasl_socket_matches}"
        body = f"    check: {check}\n{body}"
        context = {**context, "scope": "dovecot:global" if "section" in body else "postfix:main"}
    head = "".join(f"    {key}: {value}\n" for key, value in context.items())
    text = (
        f"version: 1\nname: doc\n{PARAMS}rules:\n  - id: r\n    title: T\n    severity: low\n"
        f"{head}{body}\n"
    )
    _load(text)


def test_full_examples_load():
    """The complete policy example loads, and the layering example does what it says."""
    full = next(b for b in BLOCKS if b.startswith("version:"))
    assert _load(full).rules[0].id == "postfix-sasl-noanonymous"
    layer = next(b for b in BLOCKS if b.startswith("# policies.d"))
    policy = _load((SAMPLES / "vendor.yaml").read_text(), layer)
    assert policy.rule("postfix-banner-set").disabled
    assert policy.rule("postfix-message-size").check.max == Bound(209715200)
    assert policy.rule("postfix-message-size").check.min == Bound(1)
    assert isinstance(policy.rule("postfix-tls-auth-only").check, OneOf)
    assert policy.params["max_message_size"] == 104857600
