#!/usr/bin/env python3
"""Regenerate daemon/maildrift/data/postfix-params.json from Postfix source trees.

The parameter table says, for every main.cf parameter that Postfix 3.5, 3.7
and 3.8 know: its value type, which Postfix programs read it, the default
time unit of time parameters, and the first (or last) of those versions that
has it.  It is derived the way postconf(1) derives its own parameter list
(src/postconf/extract.awk): each program declares ``CONFIG_*_TABLE`` arrays
of ``VAR_X, DEF_X, &var_x, ...`` entries, and the ``VAR_X`` macros name the
parameters (src/global/mail_params.h and friends).

* A table in ``src/<program>/`` is read by that program.  ``src/smtp/``
  serves both the smtp and lmtp clients: ``smtp_params.c`` holds the
  ``smtp_*`` names and ``lmtp_params.c`` the ``lmtp_*`` ones.
* The tables in ``src/global/mail_params.c`` (and the install parameters that
  postconf adds itself) are read by every program: readers ``["*"]``.
* The tables in ``src/tls/`` are read by the programs that initialise TLS.
* ``get_mail_conf_*2(name, SUFFIX, ...)`` calls read per-transport or
  per-service parameters; they are listed under ``_per_service``.
* Legacy names that postconf still knows (``pcf_legacy_str_table``) are read
  through the ``$name`` references in the defaults of their successors.

The generator only reads files: it does not build or run Postfix.  Its input
is one unpacked source tree per version (the directory holding ``src/``) and
the golden ``postconf -d`` dumps next to the JSON; every dump name must be in
the output, and the script fails if one is not.

Usage (not run by the tests)::

    python3 packaging/tools/gen_postfix_params.py \\
        --tree 3.5=/path/to/postfix-3.5.25/postfix --commit 3.5=v3.5.25:<sha> \\
        --tree 3.7=/path/to/postfix-3.7.11/postfix --commit 3.7=v3.7.11:<sha> \\
        --tree 3.8=/path/to/postfix-3.8.5/postfix  --commit 3.8=v3.8.5:<sha> \\
        --repository vdukhovni/postfix

The trees used for the committed JSON are named in its ``_source`` key and in
daemon/maildrift/data/README.md.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parents[2] / "daemon" / "maildrift" / "data"

TABLE_TYPES = {
    "STR": "str",
    "STR_FN": "str",
    "RAW": "raw",
    "INT": "int",
    "LONG": "long",
    "BOOL": "bool",
    "TIME": "time",
    "NINT": "nint",
    "NBOOL": "nbool",
}
TABLE_RE = re.compile(
    r"^[ \t]*(?:static[ \t]+)?(?:const[ \t]+)?CONFIG_(STR_FN|STR|RAW|INT|LONG|BOOL|TIME|NINT|NBOOL)"
    r"_TABLE[ \t]+\w+\[\][ \t]*=[ \t]*\{(.*?)^[ \t]*\};",
    re.S | re.M,
)
ENTRY_RE = re.compile(r"^[ \t]*\{?[ \t]*(VAR_\w+)[ \t]*,[ \t]*([^,]+?)[ \t]*,", re.M)
DIRECT_RE = re.compile(r"\bget_mail_conf_(str|raw|int|long|bool|time|nint|nbool)\s*\(\s*(VAR_\w+)")
PER_SERVICE_RE = re.compile(
    r"\bget_mail_conf_(str|raw|int|long|bool|time|nint|nbool)2\s*\(\s*(\w+)\s*,\s*(_\w+)"
)
DEFINE_RE = re.compile(r"^[ \t]*#[ \t]*define[ \t]+(\w+)[ \t]+(.+?)[ \t]*(?:/\*.*)?$", re.M)
STRING_RE = re.compile(r'"((?:[^"\\]|\\.)*)"')
TOKEN_RE = re.compile(r'("(?:[^"\\]|\\.)*")|([A-Za-z_]\w*)')
LEGACY_RE = re.compile(r"pcf_legacy_str_table\[\]\s*=\s*\{(.*?)\n\};", re.S)
TLS_INIT_RE = re.compile(r"\b(TLS_CLIENT_INIT|TLS_SERVER_INIT|tls_param_init)\s*\(")

# Files whose tables are not read by a Postfix program at run time.
SKIP_FILES = {"bounce/bounce_notify_util_tester.c", "global/test_main.c"}
# Programs that the source tree builds but that are test or benchmark tools.
SKIP_DIRS = {"fsstone", "smtpstone", "postconf", "util", "dns", "milter", "xsasl"}
# Parameters that every process computes for itself rather than reads.
COMPUTED = {"process_id", "process_name", "service_name"}


def parse_defines(src: Path) -> dict[str, str]:
    """Every ``#define NAME value`` in the tree, the value as written (comments cut)."""
    defines: dict[str, str] = {}
    for path in sorted(src.rglob("*.[ch]")):
        text = path.read_text(encoding="latin-1")
        for name, value in DEFINE_RE.findall(text):
            defines.setdefault(name, value.strip())
    return defines


def macro_string(defines: dict[str, str], name: str, depth: int = 0) -> str | None:
    """The string literal a macro expands to: literals and macros, concatenated."""
    value = defines.get(name)
    if value is None or depth > 10:
        return None
    parts: list[str] = []
    for literal, ident in TOKEN_RE.findall(value):
        if ident:
            resolved = macro_string(defines, ident, depth + 1)
            if resolved is None:
                return None
            parts.append(resolved)
        else:
            parts.append(literal[1:-1])
    rest = TOKEN_RE.sub("", value).strip()
    if rest or not parts:
        return None
    return "".join(parts)


def programs_for(rel: str, tls_programs: list[str]) -> list[str] | None:
    """Reader programs of a table in source file ``rel`` (relative to src/)."""
    if rel in SKIP_FILES:
        return None
    directory, _, filename = rel.partition("/")
    if rel == "global/mail_params.c":
        return ["*"]
    if directory == "tls":
        return tls_programs
    if directory == "smtp":
        if filename == "smtp_params.c":
            return ["smtp"]
        if filename == "lmtp_params.c":
            return ["lmtp"]
        return ["smtp", "lmtp"]
    if directory in SKIP_DIRS or directory == "global":
        return None
    return [directory]


def scan_tree(root: Path) -> dict:
    """Parameters, types, readers and per-service suffixes of one source tree."""
    src = root / "src"
    defines = parse_defines(src)
    tls_programs: set[str] = set()
    for path in src.rglob("*.c"):
        rel = path.relative_to(src).as_posix()
        directory = rel.split("/")[0]
        if directory in {"tls", "global", "util", "postconf"} | SKIP_DIRS:
            continue
        if TLS_INIT_RE.search(path.read_text(encoding="latin-1")):
            tls_programs.update(["smtp", "lmtp"] if directory == "smtp" else [directory])
    tls_list = sorted(tls_programs)

    params: dict[str, dict] = {}
    per_service: dict[str, dict] = {}
    problems: list[str] = []

    def add(name: str, kind: str, readers: list[str], default_macro: str | None) -> None:
        entry = params.setdefault(name, {"types": set(), "readers": set(), "def": None})
        entry["types"].add(kind)
        entry["readers"].update(readers)
        if default_macro and entry["def"] is None:
            entry["def"] = default_macro

    for path in sorted(src.rglob("*.c")):
        rel = path.relative_to(src).as_posix()
        text = path.read_text(encoding="latin-1")
        readers = programs_for(rel, tls_list)
        if readers is None:
            continue
        for table_kind, body in TABLE_RE.findall(text):
            for var, default in ENTRY_RE.findall(body):
                name = macro_string(defines, var)
                if name is None:
                    problems.append(f"{rel}: cannot resolve {var}")
                    continue
                add(name, TABLE_TYPES[table_kind], readers, default.strip())
        for kind, var in DIRECT_RE.findall(text):
            name = macro_string(defines, var)
            if name is None:
                problems.append(f"{rel}: cannot resolve {var}")
                continue
            add(name, kind, readers, None)
        for kind, _prefix, suffix in PER_SERVICE_RE.findall(text):
            suffix_text = macro_string(defines, suffix)
            if suffix_text is None:
                problems.append(f"{rel}: cannot resolve {suffix}")
                continue
            slot = per_service.setdefault(suffix_text, {"type": kind, "readers": set()})
            slot["readers"].update(readers)

    # Install parameters that postconf adds to its own table (install_table.h).
    for var in ("VAR_CONFIG_DIR", "VAR_DEBUG_COMMAND"):
        name = macro_string(defines, var)
        if name:
            add(name, "str", ["*"], None)
    for var in ("VAR_PROCNAME", "VAR_SERVNAME"):
        name = macro_string(defines, var)
        if name:
            add(name, "str", ["*"], None)
    name = macro_string(defines, "VAR_PID")
    if name:
        add(name, "int", ["*"], None)

    legacy: list[str] = []
    builtin = (src / "postconf" / "postconf_builtin.c").read_text(encoding="latin-1")
    match = LEGACY_RE.search(builtin)
    if match:
        legacy = STRING_RE.findall(match.group(1))
        legacy = [item for item in legacy if item]

    # Default time units: the unit letter of the DEF_ value, else seconds.
    for entry in params.values():
        if "time" in entry["types"]:
            default = entry["def"]
            literal = macro_string(defines, default) if default else None
            if literal is None and default and default.startswith('"'):
                literal = "".join(STRING_RE.findall(default))
            unit = "s"
            if literal:
                tail = literal.lstrip("0123456789")
                if tail[:1] in {"s", "m", "h", "d", "w"}:
                    unit = tail[:1]
            entry["time_unit"] = unit
    return {
        "params": params,
        "per_service": per_service,
        "legacy": legacy,
        "tls_programs": tls_list,
        "problems": problems,
    }


def pick_type(types: set[str]) -> str:
    """One type for a name declared in several tables of one version (most specific)."""
    order = ["time", "nbool", "bool", "nint", "long", "int", "raw", "str"]
    return sorted(types, key=order.index)[0]


def load_dump(path: Path) -> dict[str, str]:
    """A ``postconf -d`` dump as a name-to-value mapping."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, _, value = line.partition(" =")
        values[name] = value.strip()
    return values


def build(trees: dict[str, Path], commits: dict[str, str], repository: str) -> dict:
    """The JSON document for the given source trees."""
    versions = sorted(trees, key=lambda v: tuple(int(p) for p in v.split(".")))
    scans = {version: scan_tree(trees[version]) for version in versions}
    dumps = {}
    for version in versions:
        dump = DATA_DIR / f"postconf-d-{version}.txt"
        dumps[version] = load_dump(dump) if dump.exists() else {}

    for version, scan in scans.items():
        for problem in scan["problems"]:
            print(f"{version}: {problem}", file=sys.stderr)

    names: set[str] = set()
    for scan in scans.values():
        names.update(scan["params"])
        names.update(scan["legacy"])
    for dump in dumps.values():
        names.update(dump)

    table: dict[str, dict] = {}
    missing: list[str] = []
    for name in sorted(names):
        present = [v for v in versions if name in scans[v]["params"] or name in scans[v]["legacy"]]
        types: set[str] = set()
        type_by_version: dict[str, str] = {}
        readers: set[str] = set()
        time_unit = None
        legacy_in = [v for v in versions if name in scans[v]["legacy"]]
        for version in versions:
            entry = scans[version]["params"].get(name)
            if entry is None:
                continue
            if len(entry["types"]) > 1:
                print(f"{version} {name}: several types {sorted(entry['types'])}", file=sys.stderr)
            type_by_version[version] = pick_type(entry["types"])
            types.add(type_by_version[version])
            readers.update(entry["readers"])
            time_unit = entry.get("time_unit", time_unit)
        if legacy_in and not readers:
            # Read through "$legacy" in the defaults of the parameters that replaced it.
            for version in legacy_in:
                pattern = re.compile(r"\$\{?" + re.escape(name) + r"\b")
                for other, value in dumps[version].items():
                    if pattern.search(value):
                        successor = scans[version]["params"].get(other)
                        if successor:
                            readers.update(successor["readers"])
            types.add("str")
        if not present:
            missing.append(name)
            continue
        kind = (
            type_by_version[max(type_by_version, key=versions.index)] if type_by_version else "str"
        )
        record: dict = {"type": kind, "readers": ["*"] if "*" in readers else sorted(readers)}
        if len(set(type_by_version.values())) > 1:
            record["type_by_version"] = type_by_version
        if kind == "time":
            record["time_unit"] = time_unit or "s"
        if present[0] != versions[0]:
            record["since"] = present[0]
        if present[-1] != versions[-1]:
            record["until"] = present[-1]
        if len(present) != versions.index(present[-1]) - versions.index(present[0]) + 1:
            record["versions"] = present
        if legacy_in:
            record["legacy"] = True
        if name in COMPUTED:
            record["computed"] = True
        twin = None
        if name.startswith("smtp_"):
            twin = "lmtp_" + name[len("smtp_") :]
        elif name.startswith("lmtp_"):
            twin = "smtp_" + name[len("lmtp_") :]
        if (
            twin
            and twin in names
            and ({"smtp", "lmtp"} & set(record["readers"]) or record["readers"] == ["*"])
        ):
            record["twin"] = twin
        table[name] = record
    if missing:
        raise SystemExit(f"no reader or table found for: {', '.join(missing)}")
    for version, dump in dumps.items():
        absent = sorted(set(dump) - set(table))
        if absent:
            raise SystemExit(f"{version} dump names missing from the table: {absent}")

    per_service: dict[str, dict] = {}
    for version in versions:
        for suffix, slot in scans[version]["per_service"].items():
            merged = per_service.setdefault(suffix, {"type": slot["type"], "readers": set()})
            merged["readers"].update(slot["readers"])
    document: dict = {
        "_source": {
            "repository": repository,
            "versions": {v: commits.get(v, "") for v in versions},
            "generator": "packaging/tools/gen_postfix_params.py",
            "method": "CONFIG_*_TABLE entries and get_mail_conf_*() calls per program directory",
        },
        "_notes": {
            "readers": (
                "program names as in master.cf's command field; '*' means every Postfix "
                "program (src/global/mail_params.c tables, read by mail_params_init())"
            ),
            "tls_readers": scans[versions[-1]]["tls_programs"],
            "twin": "the smtp(8) client reads smtp_* when run as smtp and lmtp_* when run as lmtp",
            "legacy": "old name still known to postconf; read only through $name in a default",
            "since_until": "first/last of the covered versions that has the parameter",
            "master_cf": "any parameter can also be overridden per service with master.cf -o",
        },
        "_per_service": {
            "<service>" + suffix: {
                "type": slot["type"],
                "readers": sorted(slot["readers"]),
            }
            for suffix, slot in sorted(per_service.items())
        },
    }
    document.update(table)
    return document


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, scan the trees and write the JSON file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", required=True, help="VERSION=PATH")
    parser.add_argument("--commit", action="append", default=[], help="VERSION=TAG:SHA")
    parser.add_argument("--repository", default="vdukhovni/postfix")
    parser.add_argument("--output", type=Path, default=DATA_DIR / "postfix-params.json")
    args = parser.parse_args(argv)
    trees = {k: Path(v) for k, _, v in (item.partition("=") for item in args.tree)}
    commits = {k: v for k, _, v in (item.partition("=") for item in args.commit)}
    document = build(trees, commits, args.repository)
    args.output.write_text(json.dumps(document, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {args.output} ({len(document) - 3} parameters)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
