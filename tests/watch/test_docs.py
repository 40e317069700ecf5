"""docs/watching.md shows the code's matrix and every event kind."""

from __future__ import annotations

import os

from maildrift.watch.events import KINDS
from maildrift.watch.matrix import COLUMNS, MATRIX, render_markdown

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "watching.md")


def _doc() -> str:
    with open(DOC, encoding="utf-8") as handle:
        return handle.read()


def test_matrix_in_docs_is_the_code_matrix():
    """The table between the matrix markers is render_markdown() verbatim."""
    text = _doc()
    begin, end = "<!-- matrix:begin -->\n", "<!-- matrix:end -->"
    assert text[text.index(begin) + len(begin) : text.index(end)] == render_markdown()


def test_every_kind_is_documented():
    """Each event kind has a row in the kinds table."""
    text = _doc()
    assert all(f"| `{kind}` |" in text for kind in KINDS)


def test_matrix_is_complete():
    """Every situation has a cell for every column, with only known kinds."""
    for row in MATRIX.values():
        assert set(row) == set(COLUMNS)
        assert all(kinds <= KINDS for kinds in row.values())
