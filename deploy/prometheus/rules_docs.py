"""The alert rules in the docs, written by rules.py from its table: the per-alert reference of
docs/alerts.md and the alert table of docs/operations.md, each between its markers (the prose
around them is kept)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

DOCS = Path(__file__).resolve().parent.parent.parent / "docs"
ALERTS_DOC = DOCS / "alerts.md"
OPERATIONS_DOC = DOCS / "operations.md"
BEGIN = "<!-- rules.py: {what}, generated from the rule table; do not edit by hand -->"
END = "<!-- rules.py: end -->"


class RuleText(Protocol):
    @property
    def alert(self) -> str: ...
    @property
    def group(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def for_(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def runbook(self) -> str: ...
    @property
    def expr(self) -> str: ...


def _text(text: str) -> str:
    """An annotation for markdown: templates read as the placeholders they are."""
    text = re.sub(r"\{\{ \$labels\.(\w+) \}\}", r"{\1}", text)
    return re.sub(r"\{\{ \$value[^}]*\}\}", "{value}", text)


def _runbook_line(line: str) -> str:
    if line.startswith(" "):  # a query in the runbook
        return f"  `{line.strip()}`"
    return line if re.match(r"\d+\. ", line) else f"- {line}"


def _wait(rule: RuleText) -> str:
    return f"for {rule.for_}" if rule.for_ != "0s" else "at once"


def _splice(path: Path, what: str, lines: list[str]) -> str:
    begin = BEGIN.format(what=what)
    text = path.read_text() if path.exists() else f"# Alerts\n\n{begin}\n{END}\n"
    if begin not in text:
        raise SystemExit(f"{path}: the marker {begin!r} is missing")
    head, _, rest = text.partition(begin)
    _, _, tail = rest.partition(END)
    return head + "\n".join([begin, "", *lines, END]) + tail


def build_alerts_doc(rules: Sequence[RuleText]) -> str:
    lines: list[str] = []
    for group in dict.fromkeys(rule.group for rule in rules):
        lines += [f"### Group `{group}`", ""]
        for rule in (r for r in rules if r.group == group):
            lines += [
                f"#### {rule.alert} ({rule.severity}, {_wait(rule)})",
                "",
                f"*{_text(rule.summary)}.* {_text(rule.description)}",
                "",
                "Fires when:",
                "",
                "```promql",
                rule.expr,
                "```",
                "",
                "What to do:",
                "",
                *(_runbook_line(line) for line in _text(rule.runbook).strip().splitlines()),
                "",
            ]
    return _splice(ALERTS_DOC, "every alert", lines)


def build_operations_doc(rules: Sequence[RuleText]) -> str:
    def cell(text: str) -> str:
        return _text(text).strip().replace("|", "\\|").replace("\n", " ")

    lines = ["| alert | severity | fires | means | first step |", "|---|---|---|---|---|"]
    for rule in rules:
        first = cell(re.sub(r"^\d+\. ", "", rule.runbook.strip().splitlines()[0]))
        lines.append(f"| [{rule.alert}](alerts.md#{rule.alert.lower()}-{rule.severity}-{_wait(rule).replace(' ', '-')}) "
                     f"| {rule.severity} | {_wait(rule)} | {cell(rule.description)} | {first} |")
    lines.append("")
    return _splice(OPERATIONS_DOC, "the alert table", lines)
