"""A record's values as retsctl hands them out and stores them: each one the contents of a JSON
string (escaped as orjson escapes it), with a TAB between them.

A TAB inside a value is escaped (``\\t``), so the TABs split the values exactly; a COMPACT row
whose delimiter is TAB becomes this text without being split at all. Wrapped in ``["`` and ``"]``
with every TAB replaced by ``","``, the text is the JSON array of the values. A record has at
least one value (no values and one empty value would read the same).
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson

SEPARATOR = b"\t"
_TEXT_SEPARATOR = SEPARATOR.decode()


def encode_values(values: Iterable[str]) -> bytes:
    return SEPARATOR.join(orjson.dumps(value)[1:-1] for value in values)


def decode_values(text: str) -> list[str]:
    return orjson.loads('["' + text.replace(_TEXT_SEPARATOR, '","') + '"]')  # type: ignore[no-any-return]
