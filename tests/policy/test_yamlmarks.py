"""The marked YAML loader: marks, strict scalars, duplicates, and refusals."""

from __future__ import annotations

import pytest

from maildrift.errors import ConfigError
from maildrift.policy.yamlmarks import MAX_YAML_NODES, load_yaml, load_yaml_file


def test_every_key_value_and_item_has_its_line():
    """Keys, values and list items each carry the line they were written on."""
    doc = load_yaml("a: 1\nb:\n  c: x\nd:\n  - p\n  - q\n", "f.yaml")
    assert doc.key_mark("b").line == 2
    assert doc["b"].value_mark("c").line == 3
    assert [m.line for m in doc["d"].item_marks] == [5, 6]
    assert doc["b"].mark.file == "f.yaml"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("yes", "yes"),
        ("No", "No"),
        ("on", "on"),
        ("0644", "0644"),
        ("1:30", "1:30"),
        ("2025-01-31", "2025-01-31"),
        ("0x10", "0x10"),
        ("1_000", "1_000"),
        ("true", True),
        ("FALSE", False),
        ("~", None),
        ("", None),
        ("42", 42),
        ("-7", -7),
        ("1.5", 1.5),
        ("'true'", "true"),
    ],
)
def test_strict_scalars(text, value):
    """Only true/false, null, plain decimals are typed; Postfix-looking values stay strings."""
    loaded = load_yaml(f"v: {text}\n", "f.yaml")["v"]
    assert loaded == value
    assert type(loaded) is type(value)


def test_duplicate_key_names_both_lines():
    """A repeated key is refused at its second line, naming the first."""
    with pytest.raises(ConfigError) as err:
        load_yaml("x:\n  a: 1\n  b: 2\n  a: 3\n", "f.yaml")
    assert (err.value.file, err.value.line) == ("f.yaml", 4)
    assert "duplicate key 'a' (first at line 2)" in err.value.message


def test_merge_key_may_be_overridden():
    """A key overriding one merged with << is not a duplicate."""
    doc = load_yaml("base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n", "f.yaml")
    assert doc["m"] == {"x": 1, "y": 3}


def test_syntax_error_has_line():
    """A YAML syntax error is a ConfigError with the line of the problem."""
    with pytest.raises(ConfigError) as err:
        load_yaml("a: 1\nb: [1, 2\nc: 3\n", "f.yaml")
    assert err.value.line == 3
    assert err.value.message.startswith("invalid YAML")


def test_python_tags_are_refused():
    """Only the safe YAML types load; Python object tags are an error, not code."""
    with pytest.raises(ConfigError, match="could not determine a constructor"):
        load_yaml("a: !!python/object/apply:os.system ['true']\n", "f.yaml")


def test_alias_bomb_is_refused():
    """Aliases expanding past the node limit are refused before anything walks them."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 8):
        refs = ", ".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    assert MAX_YAML_NODES < 10**7
    with pytest.raises(ConfigError, match="expands to more than"):
        load_yaml("\n".join(lines) + "\n", "f.yaml")


def test_recursive_alias_is_refused():
    """A node that contains itself is refused."""
    with pytest.raises(ConfigError, match="recursive alias"):
        load_yaml("a: &x [1, *x]\n", "f.yaml")


def test_unhashable_key_is_refused():
    """A mapping used as a key is refused at its line."""
    with pytest.raises(ConfigError, match="plain value") as err:
        load_yaml("a: 1\n? {b: 1}\n: 2\n", "f.yaml")
    assert err.value.line == 2


def test_non_utf8_file_names_the_line(tmp_path):
    """A file that is not UTF-8 is refused at the line of the bad byte."""
    path = tmp_path / "p.yaml"
    path.write_bytes(b"a: 1\nb: caf\xe9\n")
    with pytest.raises(ConfigError, match="not UTF-8") as err:
        load_yaml_file(str(path))
    assert (err.value.file, err.value.line) == (str(path), 2)


def test_missing_file_is_a_config_error(tmp_path):
    """An unreadable policy file is a ConfigError naming it, not a traceback."""
    path = str(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError) as err:
        load_yaml_file(path)
    assert err.value.file == path
    assert "No such file" in err.value.message


def test_empty_document_is_none():
    """An empty file loads as None (an override file with nothing in it)."""
    assert load_yaml("# nothing\n", "f.yaml") is None
