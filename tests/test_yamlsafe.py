"""Safe YAML: plain values, a line for every key and item, and loud refusals with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from gameday.errors import ScenarioError
from gameday.scenario.yamlsafe import MAX_BYTES, MAX_NODES, load_file, load_text


def refused(text: str | bytes) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_text(text, "f.yaml")
    assert info.value.path == "f.yaml"
    return info.value


def test_values_are_plain_python_and_every_key_and_item_has_its_line():
    doc = load_text("a: 1\nb:\n  - x\n  - {c: 2.5, d: true}\ne: ~\n", "f.yaml")
    assert doc.data == {"a": 1, "b": ["x", {"c": 2.5, "d": True}], "e": None}
    assert doc.line(("a",)) == 1
    assert doc.line(("b", 0)) == 3
    assert doc.line(("b", 1, "d")) == 4
    assert doc.line(("e",)) == 5


def test_line_of_a_missing_path_is_its_nearest_ancestor():
    doc = load_text("a: 1\nb:\n  c: 2\n", "f.yaml")
    assert doc.line(("b", "nope", 3)) == 2
    assert doc.line(()) == 1


def test_python_tag_is_refused():
    error = refused("a: 1\nb: !!python/object/apply:os.system [ls]\n")
    assert error.line == 2
    assert "tags are not allowed" in error.message


@pytest.mark.parametrize(
    "text",
    [
        "a: !foo x\n",
        "a: !!binary aGk=\n",
        "a: !!set {x}\n",
        "a: !!omap [{x: 1}]\n",
        "!!str {a: 1}\n",
    ],
)
def test_non_standard_tags_are_refused(text):
    assert "tags are not allowed" in refused(text).message


def test_standard_explicit_tags_are_fine():
    assert load_text("a: !!str 12\nb: !!int '7'\n").data == {"a": "12", "b": 7}


def test_duplicate_key_is_refused_at_the_second_occurrence():
    error = refused("x: 1\ny:\n  a: 1\n  a: 2\n")
    assert (error.line, error.message) == (4, "duplicate key 'a' (first at line 3)")


def test_file_over_one_mebibyte_is_refused(tmp_path: Path):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# " + b"x" * MAX_BYTES + b"\n")
    with pytest.raises(ScenarioError, match="limit is 1048576"):
        load_file(big)


def test_nesting_deeper_than_32_is_refused_without_recursion_error():
    assert "nesting deeper than 32" in refused("[" * 50_000).message
    assert load_text("[" * 31 + "]" * 31).data is not None


def test_recursive_alias_is_refused():
    assert "nesting deeper" in refused("a: &a [*a]\n").message


def test_alias_bomb_is_refused_by_the_expanded_node_cap():
    rows = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    for name, prev in zip("bcdef", "abcde", strict=True):
        rows.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 10) + "]")
    error = refused("\n".join(rows) + "\n")
    assert f"more than {MAX_NODES} values" in error.message


def test_aliases_and_merge_keys_expand_with_explicit_keys_winning():
    text = "base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\n"
    doc = load_text(text)
    assert doc.data["other"] == {"x": 1, "y": 3}
    assert doc.line(("other", "y")) == 4
    assert doc.line(("other", "x")) == 1  # where the merged value was written


@pytest.mark.parametrize(
    ("text", "shown"), [("on: 1\n", "'on'"), ("1: x\n", "'1'"), ("~: x\n", "'~'")]
)
def test_non_string_keys_are_refused_with_a_hint_to_quote(text, shown):
    error = refused(text)
    assert error.message.startswith(f"key {shown} must be a string")


def test_complex_keys_are_refused():
    assert "keys must be strings" in refused("? [a, b]\n: 1\n").message


def test_non_utf8_is_refused_with_its_line():
    error = refused(b"a: 1\nb: \xff\xfe\n")
    assert (error.line, error.message) == (2, "file is not UTF-8 text")


def test_control_character_is_refused_with_its_line():
    error = refused("a: 1\nb: \x07\n")
    assert error.line == 2
    assert "U+0007" in error.message


def test_syntax_error_reports_the_problem_line():
    error = refused("a: 1\nb:\n  - x\n   y: 2\n")
    assert error.line == 4
    assert error.message.startswith("invalid YAML")


def test_several_documents_are_refused():
    assert refused("a: 1\n---\nb: 2\n").line == 2  # the second "---"


def test_bad_explicit_scalar_and_huge_int_are_refused():
    assert "is not a valid int" in refused("a: !!int abc\n").message
    assert "is not a valid int" in refused("a: 1" + "0" * 5000 + "\n").message


def test_timestamps_stay_text():
    assert load_text("d: 2024-01-01\n").data == {"d": "2024-01-01"}


def test_empty_file_is_none():
    assert load_text("").data is None


def test_missing_file_and_folder_are_refused(tmp_path: Path):
    with pytest.raises(ScenarioError, match="no such file"):
        load_file(tmp_path / "nope.yaml")
    with pytest.raises(ScenarioError, match="is a folder"):
        load_file(tmp_path)
