"""The ``maildrift`` command line.  Exit codes: 0 ok, 1 findings, 2 usage or config error."""

from __future__ import annotations

import argparse
import json
import sys

from maildrift import __version__
from maildrift.errors import EXIT_OK, EXIT_USAGE, MaildriftError

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse exits 2 too; keep its wording
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"maildrift: error: {message}\n")


def _add_sources(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", metavar="DIR", help="judge DIR/etc/postfix and DIR/etc/dovecot")
    parser.add_argument("--postfix-dir", metavar="DIR", help="Postfix config directory")
    parser.add_argument("--dovecot-config", metavar="FILE", help="Dovecot main config file")
    parser.add_argument("--host-facts", metavar="FILE", help="YAML/JSON facts about the host")
    parser.add_argument(
        "--postfix-version",
        choices=("3.5", "3.7", "3.8"),
        help="use the shipped defaults of this version instead of the local postconf -d",
    )


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="maildrift", description=__doc__)
    parser.add_argument("--version", action="version", version=f"maildrift {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    effective = commands.add_parser("effective", help="print the effective configuration")
    effective.add_argument("component", choices=("postfix", "dovecot"))
    _add_sources(effective)
    effective.add_argument("--expand", action="store_true", help="expand $name references")
    effective.add_argument("--format", choices=("text", "json"), default="text")
    check = commands.add_parser("check", help="judge the configuration against the policy")
    _add_sources(check)
    from maildrift.checkcmd import add_check_arguments

    add_check_arguments(check)
    from maildrift.policycmd import add_policy_arguments

    add_policy_arguments(commands.add_parser("policy", help="validate or explain policies"))
    from maildrift.quarantinecmd import add_quarantine_arguments

    add_quarantine_arguments(
        commands.add_parser("quarantine", help="list or restore set-aside versions")
    )
    from maildrift.pausecmd import add_pause_arguments, add_resume_arguments

    add_pause_arguments(commands.add_parser("pause", help="only observe for a while"))
    add_resume_arguments(commands.add_parser("resume", help="end a pause"))
    run = commands.add_parser("run", help="watch, judge and export, in the foreground")
    run.add_argument(
        "--config", metavar="FILE", help="daemon config (default /etc/maildrift/maildrift.yaml)"
    )
    run.add_argument("--root", metavar="DIR", help="watch DIR/etc/postfix and DIR/etc/dovecot")
    run.add_argument("--host-facts", metavar="FILE")
    run.add_argument(
        "--listen", metavar="ADDR:PORT", help="metrics endpoint (default 127.0.0.1:29025)"
    )
    run.add_argument("--state-dir", metavar="DIR")
    run.add_argument("--mode", choices=("observe", "dry-run", "enforce"))
    run.add_argument(
        "--no-reload", action="store_true", help="enforce mode: revert but never reload"
    )
    return parser


def _sources(args):
    from maildrift.wiring import build_sources

    return build_sources(
        root=args.root,
        postfix_dir=args.postfix_dir,
        dovecot_config=args.dovecot_config,
        host_facts=args.host_facts,
        postfix_version=args.postfix_version,
    )


def _effective(args) -> int:
    sources = _sources(args)
    if args.component == "postfix":
        from maildrift.postfix.loader import load_postfix_instances
        from maildrift.postfix.render import postfix_json, postfix_text

        configs = load_postfix_instances(
            sources.postfix_dir, sources.reader, sources.defaults, sources.facts, sources.params
        )
        if args.format == "json":
            print(json.dumps(postfix_json(configs, args.expand), indent=2))
        else:
            sys.stdout.write(postfix_text(configs, args.expand))
        return EXIT_OK
    from maildrift.dovecot.loader import load_dovecot
    from maildrift.dovecot.render import render_text, to_json
    from maildrift.loading import dovecot_defaults

    config = load_dovecot(sources.dovecot_config, sources.reader, defaults=dovecot_defaults("2.3"))
    config.check_conflicts()
    if args.format == "json":
        print(json.dumps(to_json(config), indent=2))
    else:
        sys.stdout.write(render_text(config))
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "effective":
            return _effective(args)
        if args.command == "check":
            from maildrift.checkcmd import run_check

            return run_check(args)
        if args.command == "run":
            from maildrift.service.app import run_daemon

            return run_daemon(args)
        if args.command == "policy":
            from maildrift.policycmd import run_policy

            return run_policy(args)
        if args.command == "quarantine":
            from maildrift.quarantinecmd import run_quarantine

            return run_quarantine(args)
        if args.command in ("pause", "resume"):
            from maildrift.pausecmd import run_pause

            return run_pause(args)
    except MaildriftError as exc:
        print(f"maildrift: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        return EXIT_OK
    return EXIT_USAGE
