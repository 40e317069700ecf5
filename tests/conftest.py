"""Shared fixtures for the whole suite."""

from __future__ import annotations

import pytest

from tests.realtools import require_tool


@pytest.fixture
def postconf_bin() -> str:
    """The real postconf."""
    return require_tool("postconf")


@pytest.fixture
def doveconf_bin() -> str:
    """The real doveconf."""
    return require_tool("doveconf")
