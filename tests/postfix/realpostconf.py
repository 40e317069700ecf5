"""Running the real postconf on a copied tree, and reading what it prints."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

_LINE = re.compile(r"^(\S+) =(?: (.*))?$")


def copy_tree(source: str, target: str) -> str:
    """Copy a corpus case and backdate it: Postfix pauses on freshly written main.cf."""
    shutil.copytree(source, target)
    for name in os.listdir(target):
        os.utime(os.path.join(target, name), (0, 0))
    return target


def run(postconf: str, directory: str, *flags: str) -> tuple[dict[str, str], str]:
    """``postconf -c DIR FLAGS``: (name -> value, stderr)."""
    proc = subprocess.run(
        [postconf, "-c", directory, *flags], capture_output=True, text=True, check=True
    )
    values = {}
    for line in proc.stdout.splitlines():
        match = _LINE.match(line)
        assert match, f"unexpected postconf output line: {line!r}"
        values[match.group(1)] = match.group(2) or ""
    return values, proc.stderr


def run_lines(postconf: str, directory: str, *flags: str) -> list[str]:
    proc = subprocess.run(
        [postconf, "-c", directory, *flags], capture_output=True, text=True, check=True
    )
    return proc.stdout.splitlines()
