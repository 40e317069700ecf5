"""``maildrift quarantine list|show ID|restore ID``: the versions enforce mode set aside.

Exit codes: 0 done; 1 a restore found the file changed while it worked and
kept the newer version; 2 unknown entry, no room, or a file that cannot be
restored.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from maildrift.errors import EXIT_FINDINGS, EXIT_OK

if TYPE_CHECKING:
    from maildrift.enforce.quarantine import QuarantineEntry, QuarantineStore

__all__ = ["DEFAULT_STATE_DIR", "add_quarantine_arguments", "run_quarantine"]

DEFAULT_STATE_DIR = "/var/lib/maildrift"


def add_quarantine_arguments(parser) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--state-dir", metavar="DIR", default=DEFAULT_STATE_DIR, help="default %(default)s"
    )
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", parents=[common], help="list the quarantined versions")
    listing.add_argument("--format", choices=("text", "json"), default="text")
    show = actions.add_parser("show", parents=[common], help="show one entry and its diff")
    show.add_argument("id", metavar="ID")
    show.add_argument("--format", choices=("text", "json"), default="text")
    restore = actions.add_parser(
        "restore", parents=[common], help="put an entry back, quarantining the current version"
    )
    restore.add_argument("id", metavar="ID")


def _rules(entry: QuarantineEntry) -> str:
    names = [
        str(r.get("rule") or r.get("id") or r) if isinstance(r, dict) else str(r)
        for r in entry.rules
    ]
    return ", ".join(names) or "-"


def _what(entry: QuarantineEntry) -> str:
    if entry.secret:
        return "secret: metadata only"
    if not entry.exists:
        return "file missing"
    return f"{entry.size} bytes"


def _list(store: QuarantineStore, fmt: str) -> int:
    entries = store.list()
    if fmt == "json":
        print(json.dumps([e.to_json() for e in entries], indent=2))
        return EXIT_OK
    if not entries:
        print(f"no quarantined versions in {store.directory}")
    for entry in entries:
        print(f"{entry.id}  {entry.path}  {_what(entry)}  {entry.reason}  rules: {_rules(entry)}")
    return EXIT_OK


def _show(store: QuarantineStore, entry_id: str, fmt: str) -> int:
    entry = store.get(entry_id)
    if fmt == "json":
        print(json.dumps(entry.to_json(), indent=2))
        return EXIT_OK
    out = sys.stdout
    out.write(f"{entry.id}\npath: {entry.path}\ntime: {entry.time}\nreason: {entry.reason}\n")
    out.write(f"content: {_what(entry)}\nsha256: {entry.sha256 or '-'}\n")
    if entry.meta is not None:
        meta = entry.meta
        out.write(f"mode: {meta.mode:04o}  uid: {meta.uid}  gid: {meta.gid}\n")
    out.write(f"rules: {_rules(entry)}\n")
    if entry.writer:
        out.write("writer: " + " ".join(f"{k}={v}" for k, v in entry.writer.items()) + "\n")
    if entry.diff:
        out.write(f"\n{entry.diff}")
    return EXIT_OK


def _restore(store: QuarantineStore, entry_id: str) -> int:
    restored = store.restore(entry_id)
    path = restored.entry.path
    if restored.unchanged:
        print(f"{path} already is the version of {entry_id}; nothing to do")
        return EXIT_OK
    swap, displaced = restored.swap, restored.displaced
    kept = f"; the version it replaced is quarantined as {displaced.id}" if displaced else ""
    if swap.outcome == "swapped":
        print(f"restored {path} from {entry_id}{kept}")
        return EXIT_OK
    if swap.outcome == "conflict":
        print(
            f"maildrift: {path} changed while it was being restored; the newer version"
            f" (sha256 {swap.displaced_sha256}) was kept and nothing was restored",
            file=sys.stderr,
        )
        return EXIT_FINDINGS
    from maildrift.enforce.quarantine import QuarantineError

    raise QuarantineError(f"{path}: not restored: {swap.error or swap.outcome}")


def run_quarantine(args) -> int:
    # Imported here so that building the parser for other commands stays cheap.
    from maildrift.enforce.quarantine import QuarantineStore, quarantine_dir

    store = QuarantineStore(quarantine_dir(args.state_dir))
    if args.action == "list":
        return _list(store, args.format)
    if args.action == "show":
        return _show(store, args.id, args.format)
    return _restore(store, args.id)
