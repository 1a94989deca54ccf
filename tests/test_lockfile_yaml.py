"""The lockfile emitter: whatever a lock holds reads back as the same document."""

from __future__ import annotations

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.lockfile.condalock import dump_lockfile

TRICKY = [
    "1.0",
    "2024a",
    "1e5",
    "12e45",
    "0x1F",
    "0o17",
    "yes",
    "No",
    "on",
    "null",
    "~",
    "y",
    ".inf",
    ".nan",
    "-1",
    "+2",
    "1_000",
    "1:20",
    "2001-12-14",
    "a: b",
    "a #b",
    "#x",
    "- x",
    "[x]",
    "{x}",
    "*x",
    "&x",
    "!x",
    "|x",
    ">x",
    "'q'",
    '"q"',
    "%x",
    "@x",
    "`x",
    "",
    " lead",
    "trail ",
    "https://u:p@h/x#sha256:ab",
    ">=3.11,<3.12.0a0",
    "3.11.* *_cp311",
    "d41d8cd98f00b204e9800998ecf8427e",
    "1234567890abcdef",
    "é-ünïcode",
    "tab\there",
    "new\nline",
    "py311h64a7726_0",
    "True",
    "FALSE",
    "A\n",
    "abc\n",
    "\U00018d09",
]


def _document(values: list[str]) -> dict:
    return {
        "version": 1,
        "metadata": {"content_hash": {"linux-64": values[0] if values else "x"}, "platforms": []},
        "package": [
            {
                "name": v,
                "version": v,
                "dependencies": {v: v} if v else {},
                "hash": {"md5": v},
                "optional": False,
                "category": "main",
            }
            for v in values
        ],
    }


def test_tricky_scalars_round_trip() -> None:
    doc = _document(TRICKY)
    text = dump_lockfile(doc, "conda-lock.yml")
    assert yaml.safe_load(text) == doc
    assert yaml.load(text, Loader=yaml.CSafeLoader) == doc


def test_numbers_are_quoted_for_yaml_1_2_readers() -> None:
    text = dump_lockfile(_document(["1e5", "12e45", "1.0"]), "conda-lock.yml")
    assert "name: '1e5'" in text and "name: '12e45'" in text and "version: '1.0'" in text


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=20), min_size=1, max_size=8))
def test_any_strings_round_trip(values: list[str]) -> None:
    doc = _document(values)
    assert yaml.safe_load(dump_lockfile(doc, "conda-lock.yml")) == doc
