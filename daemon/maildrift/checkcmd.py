"""``maildrift check``: judge a configuration once, exit 0, 1 or 2."""

from __future__ import annotations

import gc
import os
import sys
from datetime import datetime, timezone

from maildrift.engine.evaluate import evaluate
from maildrift.errors import EXIT_FINDINGS, EXIT_OK, ConfigError
from maildrift.loading import load_mail_config
from maildrift.policy import load_waivers
from maildrift.policyload import load_site_policy
from maildrift.reportfmt import failing, report_json, report_junit, report_text
from maildrift.wiring import build_sources

__all__ = ["add_check_arguments", "run_check"]


def add_check_arguments(parser) -> None:
    parser.add_argument(
        "--policy",
        action="append",
        default=[],
        metavar="PATH",
        help="extra policy file, layered after the vendor policy",
    )
    parser.add_argument(
        "--policy-dir",
        metavar="DIR",
        default=None,
        help="policies.d directory (default /etc/maildrift/policies.d)",
    )
    parser.add_argument("--waivers", metavar="FILE")
    parser.add_argument(
        "--candidate",
        action="append",
        default=[],
        metavar="LIVE=CANDIDATE",
        help="judge CANDIDATE in place of the live file LIVE",
    )
    parser.add_argument("--format", choices=("text", "json", "junit"), default="text")
    parser.add_argument(
        "--fail-on", choices=("info", "low", "medium", "high", "critical"), default="low"
    )


def _candidates(items: list[str]) -> dict[str, str]:
    found = {}
    for item in items:
        live, sep, candidate = item.partition("=")
        if not sep or not live or not candidate:
            raise ConfigError(f"--candidate wants LIVE_PATH=CANDIDATE_PATH, not {item!r}")
        if not os.path.isfile(candidate):
            raise ConfigError("candidate file does not exist", candidate)
        found[os.path.normpath(live)] = os.path.abspath(candidate)
    return found


def run_check(args, now: datetime | None = None) -> int:
    policy_dir = args.policy_dir
    if policy_dir is None and os.path.isdir("/etc/maildrift/policies.d"):
        policy_dir = "/etc/maildrift/policies.d"
    policy = load_site_policy(policy_dir=policy_dir, extra=tuple(args.policy))
    waivers = load_waivers(args.waivers, {r.id for r in policy.rules}) if args.waivers else []
    sources = build_sources(
        root=args.root,
        postfix_dir=args.postfix_dir,
        dovecot_config=args.dovecot_config,
        host_facts=args.host_facts,
        postfix_version=args.postfix_version,
        candidates=_candidates(args.candidate),
    )
    # One load and one evaluation, then the process ends: a collection in
    # between would only walk the objects the evaluation still needs.
    enabled = gc.isenabled()
    gc.disable()
    try:
        mail = load_mail_config(sources)
        if mail.errors and not mail.postfix and mail.dovecot is None:
            raise next(iter(mail.errors.values()))
        report = evaluate(policy, mail, waivers, now or datetime.now(timezone.utc), traced=False)
    finally:
        if enabled:
            gc.enable()
    if args.format == "json":
        sys.stdout.write(report_json(report) + "\n")
    elif args.format == "junit":
        sys.stdout.write(report_junit(report))
    else:
        sys.stdout.write(report_text(report, colour=sys.stdout.isatty()))
    return EXIT_FINDINGS if failing(report, args.fail_on) else EXIT_OK
