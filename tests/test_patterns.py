"""The pattern table's own examples and counter-examples, run through the real parser."""

from __future__ import annotations

import pytest

from vllm_obs.parse.envelope import parse_json_line, split_prefix
from vllm_obs.parse.parser import LineParser
from vllm_obs.parse.patterns import PATTERNS

EXAMPLES = [(p.name, line) for p in PATTERNS for line in p.examples]
COUNTER_EXAMPLES = [(p.name, line) for p in PATTERNS for line in p.counter_examples]
BY_NAME = {p.name: p for p in PATTERNS}


def _message(line: str) -> str:
    if line.startswith("{"):
        return parse_json_line(line).prefix.message
    return split_prefix(line).message


def test_every_pattern_is_documented() -> None:
    for pattern in PATTERNS:
        assert pattern.versions, pattern.name
        assert pattern.examples, f"{pattern.name} has no example line"
        assert pattern.anchors, pattern.name


@pytest.mark.parametrize("name,line", EXAMPLES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(EXAMPLES)])
def test_example_is_recognised_by_its_pattern(name: str, line: str) -> None:
    pattern = BY_NAME[name]
    message = _message(line)
    assert any(anchor in message for anchor in pattern.anchors), "no anchor in the message"
    expected = pattern.parse(message)
    assert expected is not None, f"{name} does not parse its own example"
    parsed = LineParser().feed(line)
    assert [record for _, record in parsed] == [expected], "another pattern took the line first"


@pytest.mark.parametrize("name,line", COUNTER_EXAMPLES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(COUNTER_EXAMPLES)])
def test_counter_example_is_not_taken(name: str, line: str) -> None:
    assert BY_NAME[name].parse(_message(line)) is None
