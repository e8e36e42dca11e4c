"""The escaped-values text records are handed out and stored as: it round-trips, and TABs split it exactly."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from retsctl.rets.values import decode_values, encode_values

VALUES = st.lists(st.text(alphabet=st.characters(exclude_categories=["Cs"])), min_size=1, max_size=8)


@given(VALUES)
def test_values_round_trip_and_their_tabs_only_separate(values: list[str]) -> None:
    text = encode_values(values)
    assert decode_values(text.decode()) == values
    assert text.count(b"\t") == len(values) - 1
    assert b'["' + text.replace(b"\t", b'","') + b'"]' == orjson.dumps(values)
