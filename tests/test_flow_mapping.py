"""The lock scanner's fast path for `{key: value, …}` gives what the YAML parser gives.

A lock of a million `hash: {md5: 0}` entries parsed each map with the full YAML loader
(88 µs a map); plain scalars are now resolved and constructed by PyYAML's own safe
resolver and constructor. Hypothesis checks the two agree on every map the fast path
accepts, from scalars chosen to be ambiguous (octal, booleans, nulls, dates, floats).
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from audit.core.safeload import load_yaml
from audit.lockfile.scan import _plain_flow

TRICKY = [
    "0", "0123", "0x1f", "0o17", "1_000", "1.0", "1e5", ".inf", "-.inf", ".nan", "-1",
    "+1", "1:30", "on", "off", "yes", "No", "TRUE", "null", "~", "Null", "2020-01-01",
    "2001-12-14t21:59:43.10-05:00", "abc", "d41d8cd98f00b204e9800998ecf8427e", "py_0",
    "1.2.3", "=1", "a b", "a.b-c", "3.11.*", ">=3.8", "md5", "sha256", "x=", "0b101",
]
SCALAR = st.one_of(st.sampled_from(TRICKY), st.from_regex(r"[a-z0-9._=+-]{1,12}", fullmatch=True))


def slow(text: str) -> dict[str, str]:
    data = load_yaml(text)
    return {str(k): str(v) for k, v in data.items()}


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(SCALAR, SCALAR), min_size=1, max_size=4, unique_by=lambda kv: kv[0]))
def test_the_fast_path_agrees_with_the_parser(pairs: list[tuple[str, str]]) -> None:
    text = "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"
    fast = _plain_flow(text)
    if fast is not None:
        assert fast == slow(text), text


def test_what_it_reads_and_what_it_leaves_to_the_parser() -> None:
    assert _plain_flow("{md5: 0, sha256: abc}") == {"md5": "0", "sha256": "abc"}
    assert _plain_flow("{sha256: 0123}") == {"sha256": "83"}  # YAML 1.1 octal, as parsed
    for text in ('{a: "x"}', "{a:b}", "{a: b: c}", "{a: [1]}", "{a: &x 1}", "{a: b,}"):
        assert _plain_flow(text) is None, text
