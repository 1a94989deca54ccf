"""`audit.core.jsonout.dumps` writes byte for byte what json.dumps(indent, sort_keys,
ensure_ascii=False) writes, whatever the document (its own writer is only faster)."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from audit.core.jsonout import dumps

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
)
DOCUMENTS = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=30,
)


def reference(data: Any, indent: int | None = 2) -> str:
    return json.dumps(data, indent=indent, sort_keys=True, ensure_ascii=False) + "\n"


@settings(max_examples=400, deadline=None, database=None, derandomize=True)
@given(DOCUMENTS, st.sampled_from([0, 1, 2, 4, None]))
def test_the_same_text_as_json_dumps(data: Any, indent: int | None) -> None:
    assert dumps(data, indent=indent) == reference(data, indent)


def test_what_it_does_not_know_goes_to_json_dumps() -> None:
    for data in ({1: "a", 2: "b"}, {"x": math.pi, "big": 10**30}, [True, 1, 1.0, "é\u2028"]):
        assert dumps(data) == reference(data)

    class Number(int):
        pass

    assert dumps({"n": Number(3)}) == reference({"n": Number(3)})
