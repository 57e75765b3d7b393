"""JSON written as it is built: lists of stats rows are streamed element by element, so an
archive's summary is never held twice in memory (`analyze --format json` into a pipe)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import IO, Any


_COMPACT = json.JSONEncoder(separators=(",", ":"))


class LazyList:
    """A list written element by element (write_json); iterable more than once."""

    def __init__(self, make_iterator: Callable[[], Iterator[Any]]) -> None:
        self._make = make_iterator

    def __iter__(self) -> Iterator[Any]:
        return iter(self._make())


def write_json(value: Any, out: IO[str]) -> None:
    """Compact JSON, byte for byte what json.dumps(value, separators=(",", ":")) gives for the
    materialized value, streaming LazyLists element by element."""
    dumps = json.dumps
    if isinstance(value, dict):
        out.write("{")
        for i, (key, item) in enumerate(value.items()):
            out.write(("," if i else "") + dumps(key) + ":")
            write_json(item, out)
        out.write("}")
    elif isinstance(value, LazyList):
        # Items are encoded 1,024 at a time by one C call (a list's encoding minus its brackets):
        # one encoder call per item cost more than building the item.
        encode = _COMPACT.encode
        out.write("[")
        separator, batch = "", []
        for item in value:
            batch.append(item)
            if len(batch) >= 1024:
                out.write(separator + encode(batch)[1:-1])
                separator, batch = ",", []
        if batch:
            out.write(separator + encode(batch)[1:-1])
        out.write("]")
    elif isinstance(value, list) and any(isinstance(v, (dict, LazyList)) for v in value):
        out.write("[")
        for i, item in enumerate(value):
            if i:
                out.write(",")
            write_json(item, out)
        out.write("]")
    else:
        out.write(dumps(value, separators=(",", ":")))
