"""Real-tool discovery and the MAILDRIFT_REQUIRE_REAL switch."""

from __future__ import annotations

import os
import shutil

import pytest

REQUIRE_REAL = os.environ.get("MAILDRIFT_REQUIRE_REAL") == "1"


def require_tool(name: str) -> str:
    """Path of a real tool; skip without it, or fail when CI demands real tools."""
    path = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None
    )
    if path is None:
        message = f"real tool {name!r} is not installed"
        if REQUIRE_REAL:
            pytest.fail(message + " (MAILDRIFT_REQUIRE_REAL=1)")
        pytest.skip(message)
    return path
