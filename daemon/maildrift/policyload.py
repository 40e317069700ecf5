"""Loading the site's policy with what the engine knows: parameter names and predicates."""

from __future__ import annotations

import os
from importlib import resources

from maildrift.engine.predicates import PREDICATES
from maildrift.policy import PolicySources, load_policy
from maildrift.postfix.defaults import SHIPPED_VERSIONS, shipped_defaults

__all__ = ["VENDOR_POLICY", "known_params", "load_site_policy", "vendor_policy_path"]

VENDOR_POLICY = "rhel-mail-hardening.yaml"


def vendor_policy_path() -> str:
    """The shipped policy: /usr/share/maildrift/policies when installed, else the source tree."""
    for candidate in (
        os.environ.get("MAILDRIFT_VENDOR_POLICY"),
        os.path.join("/usr/share/maildrift/policies", VENDOR_POLICY),
        os.path.join(os.path.dirname(__file__), "..", "..", "policies", VENDOR_POLICY),
    ):
        if candidate and os.path.exists(candidate):
            return os.path.normpath(candidate)
    return os.path.join("/usr/share/maildrift/policies", VENDOR_POLICY)


def _lines(name: str) -> set[str]:
    text = resources.files("maildrift").joinpath("data", name).read_text(encoding="utf-8")
    return {
        line.split("=")[0].strip()
        for line in text.splitlines()
        if line.strip() and not line.startswith("#")
    }


def known_params() -> dict[str, set[str]]:
    """Every Postfix and Dovecot parameter name a policy may use."""
    postfix: set[str] = {"myhostname", "mydomain", "mynetworks"}
    for version in SHIPPED_VERSIONS:
        postfix |= set(shipped_defaults(version).raw)
    dovecot = _lines("dovecot-settings-2.3.txt") | _lines("dovecot-defaults-2.4.txt")
    return {"postfix": postfix, "dovecot": dovecot}


def load_site_policy(
    vendor: str | None = None, policy_dir: str | None = None, extra: tuple[str, ...] = ()
):
    """Vendor policy, then policies.d/*.yaml in C-locale order, then each --policy."""
    sources = PolicySources(vendor or vendor_policy_path(), policy_dir, tuple(extra))
    return load_policy(sources, known_params(), set(PREDICATES))
