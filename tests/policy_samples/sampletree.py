"""Sample trees: the demo tree plus a few edits, with the verdicts they must get.

A sample file looks like this (``tests/policy_samples/samples/*.sample``)::

    # Removing noplaintext leaves plaintext AUTH open on submission.
    # expect: postfix-sasl-security-options postfix:submission/inet fail
    # expect: postfix-sasl-auth-enable postfix:main pass
    === append /etc/postfix/main.cf
    smtpd_sasl_security_options = noanonymous
    === chmod 0666 /etc/postfix/main.cf

Sections: ``=== append PATH``, ``=== replace PATH`` (whole new content, the
file is created if missing), ``=== delete PATH``, ``=== chmod MODE PATH``,
``=== sed PATH`` (lines ``OLD => NEW``, each replacing one exact substring).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field

__all__ = ["Expectation", "Sample", "build_tree", "load_sample"]

DEMO = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "demo")
_SECRETS = ("etc/pki/tls/private/postfix.key", "etc/pki/dovecot/private/dovecot.pem")


@dataclass(frozen=True)
class Expectation:
    rule: str
    scope: str
    status: str


@dataclass
class Sample:
    name: str
    expectations: list[Expectation] = field(default_factory=list)
    edits: list[tuple[str, list[str], list[str]]] = field(default_factory=list)


def load_sample(path: str) -> Sample:
    sample = Sample(os.path.basename(path))
    current = None
    with open(path, encoding="utf-8") as handle:
        for raw in handle.read().splitlines():
            if current is None and raw.startswith("# expect:"):
                rule, scope, status = raw.split(":", 1)[1].split()
                sample.expectations.append(Expectation(rule, scope, status))
            elif raw.startswith("=== "):
                words = raw[4:].split()
                current = (words[0], words[1:], [])
                sample.edits.append(current)
            elif current is not None:
                current[2].append(raw)
    if not sample.expectations:
        raise ValueError(f"{path}: a sample needs at least one '# expect:' line")
    return sample


def build_tree(sample: Sample, target: str) -> str:
    """Copy the demo tree to ``target`` and apply the sample's edits."""
    shutil.copytree(DEMO, target)
    for secret in _SECRETS:
        os.chmod(os.path.join(target, secret), 0o600)
    for action, args, body in sample.edits:
        path = os.path.join(target, args[-1].lstrip("/"))
        if action in ("append", "replace"):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            mode = "a" if action == "append" else "w"
            with open(path, mode, encoding="utf-8") as handle:
                handle.write("\n".join(body).rstrip("\n") + "\n")
        elif action == "delete":
            os.unlink(path)
        elif action == "chmod":
            os.chmod(path, int(args[0], 8))
        elif action == "sed":
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
            for line in body:
                if not line.strip():
                    continue
                old, new = line.split(" => ", 1)
                if old not in text:
                    raise ValueError(f"{sample.name}: {old!r} not found in {args[-1]}")
                text = text.replace(old, new, 1)
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
        else:
            raise ValueError(f"{sample.name}: unknown edit {action!r}")
    return target
