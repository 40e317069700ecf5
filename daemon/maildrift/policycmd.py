"""``maildrift policy validate FILE...`` and ``maildrift policy show [RULE]``."""

from __future__ import annotations

import sys

from maildrift.errors import EXIT_OK, ConfigError
from maildrift.policyload import load_site_policy, vendor_policy_path

__all__ = ["add_policy_arguments", "run_policy"]


def add_policy_arguments(parser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    validate = actions.add_parser("validate", help="check policy files, layered in order")
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.add_argument(
        "--no-vendor",
        action="store_true",
        help="validate FILE... alone, not as overrides of the vendor policy",
    )
    show = actions.add_parser("show", help="explain the policy or one rule")
    show.add_argument("rule", nargs="?")
    show.add_argument("--policy", action="append", default=[], metavar="PATH")
    show.add_argument("--policy-dir", metavar="DIR")


def _validate(args) -> int:
    files = list(args.files)
    if args.no_vendor:
        vendor, extra = files[0], tuple(files[1:])
    else:
        vendor, extra = vendor_policy_path(), tuple(f for f in files if f != vendor_policy_path())
    policy = load_site_policy(vendor, None, extra)
    print(f"ok: {policy.name}, {len(policy.active_rules)} active rules, sha256 {policy.sha256}")
    return EXIT_OK


def _show(args) -> int:
    policy = load_site_policy(policy_dir=args.policy_dir, extra=tuple(args.policy))
    out = sys.stdout
    if args.rule is None:
        out.write(f"{policy.name} (sha256 {policy.sha256})\n{policy.description}\n\nparams:\n")
        for name, value in policy.params.items():
            out.write(f"  {name} = {value}\n")
        out.write("\nrules:\n")
        for rule in policy.rules:
            state = " (disabled)" if rule.disabled else ""
            out.write(f"  {rule.id:<40} {rule.severity:<8} {rule.title}{state}\n")
        return EXIT_OK
    rule = policy.rule(args.rule)
    if rule is None:
        from maildrift.policy.nodes import suggest

        raise ConfigError(
            f"no rule {args.rule!r}{suggest(args.rule, [r.id for r in policy.rules])}"
        )
    out.write(f"{rule.id}: {rule.title}\nseverity: {rule.severity}\n")
    out.write(f"scope: {', '.join(str(s) for s in rule.scopes)}\n")
    out.write(f"reads: {', '.join(str(p) for p in rule.inputs)}\n")
    out.write(f"enforce: {'yes' if rule.enforce else 'no'}\n\n{rule.description}\n")
    for reference in rule.references:
        title = f" {reference.title}" if reference.title else ""
        out.write(f"reference: {reference.type} {reference.id}{title}\n")
    out.write(f"defined at {rule.file}:{rule.line}\n")
    return EXIT_OK


def run_policy(args) -> int:
    return _validate(args) if args.action == "validate" else _show(args)
