"""The reply fixtures: each case is `NAME.txt` and/or `NAME.html` (the bodies a mail client
sent) with `NAME.expected` (the author's new text), under tests/fixtures/replies/.

Shared by tests/test_quotes.py and scripts/measure-replies so both judge the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gateway.core.htmltext import html_to_text
from gateway.core.quotes import NewText, extract

FOLDER = Path(__file__).resolve().parent / "fixtures" / "replies"


@dataclass(frozen=True)
class Case:
    name: str
    text: str
    html: str
    expected: str


@dataclass(frozen=True)
class Outcome:
    case: Case
    got: NewText

    @property
    def exact(self) -> bool:
        return normalise(self.got.text) == normalise(self.case.expected)

    @property
    def lost_lines(self) -> list[str]:
        """Lines the author wrote (per the expected text) that the new text dropped."""
        kept = {line.strip() for line in self.got.text.split("\n")}
        wanted = [line.strip() for line in self.case.expected.split("\n") if line.strip()]
        return [line for line in wanted if line not in kept]


def normalise(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").split("\n"))


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""


def load() -> list[Case]:
    cases = []
    for expected in sorted(FOLDER.glob("*.expected")):
        base = expected.with_suffix("")
        html = _read(base.with_suffix(".html"))
        # As parse does: a message with no text part gets its HTML rendered as its text.
        text = _read(base.with_suffix(".txt")) or html_to_text(html)
        cases.append(Case(base.name, text, html, _read(expected)))
    return cases


def run(cases: list[Case]) -> list[Outcome]:
    return [Outcome(case, extract(case.text, case.html)) for case in cases]
