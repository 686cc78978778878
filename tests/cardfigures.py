"""Recall and precision of the card-number redactor on the generated corpus, and its speed.

Run as `scripts/measure-cards` (add `--timing` for the 1 MB figures). A card counts as caught
when every digit between its first 6 and last 4 is masked and nothing else in it changed; a
look-alike is a false alarm when any of its characters changed, and so is any change outside
the labelled parts.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cardcorpus import Case, corpus  # noqa: E402

from gateway.core.cards import MASK, Redaction, redact, redact_filename, redact_html  # noqa: E402

_REDACTORS = {"text": redact, "subject": redact, "html": redact_html, "filename": redact_filename}


@dataclass
class Figures:
    counts: Counter = field(default_factory=Counter)
    by_category: dict[str, Counter] = field(default_factory=dict)
    misses: list[tuple[Case, str]] = field(default_factory=list)
    false_alarms: list[tuple[Case, str]] = field(default_factory=list)

    def add(self, category: str, key: str, amount: int = 1) -> None:
        self.counts[key] += amount
        self.by_category.setdefault(category, Counter())[key] += amount

    @property
    def recall(self) -> float:
        return self.counts["caught"] / max(1, self.counts["cards"])

    @property
    def precision(self) -> float:
        caught = self.counts["caught"]
        return caught / max(1, caught + self.counts["false_alarms"])


def run(case: Case) -> Redaction:
    return _REDACTORS[case.form](case.text)


def measure(cases: list[Case]) -> Figures:
    figures = Figures()
    for case in cases:
        _score(case, run(case).text, figures)
    return figures


def _score(case: Case, out: str, figures: Figures) -> None:
    text = case.text
    if len(out) != len(text):  # masking is character for character: a changed length is a bug
        out = "\x00" * len(text)
    outside = set(range(len(text)))
    for part in case.parts:
        outside -= set(range(part.start, part.end))
        got, was = out[part.start : part.end], text[part.start : part.end]
        if part.kind == "card":
            figures.add(part.category, "cards")
            if _masked_card(was, got):
                figures.add(part.category, "caught")
            else:
                figures.misses.append((case, out))
        elif part.kind == "code":
            figures.add("code", "codes")
            figures.add("code", "codes_masked", int(set(got) == {MASK}))
        else:
            figures.add(part.category, "lookalikes")
            if got != was:
                figures.add(part.category, "false_alarms")
                figures.false_alarms.append((case, out))
    if any(out[i] != text[i] for i in outside):
        figures.add(case.category, "false_alarms")
        figures.false_alarms.append((case, out))


def _masked_card(was: str, got: str) -> bool:
    """Digits 7 to n-4 masked (outside tags); every other character left as it was."""
    positions, in_tag = [], False
    for i, char in enumerate(was):
        in_tag = (in_tag or char == "<") and char != ">"
        if char.isdigit() and not in_tag:
            positions.append(i)
    middle = set(positions[6:-4])
    return all(
        got[i] == MASK if i in middle else got[i] == was[i] or (i in positions and got[i] == MASK)
        for i in range(len(was))
    )


def report(figures: Figures) -> str:
    lines = [f"{'category':24} {'cards':>6} {'caught':>6} {'look-alikes':>11} {'false alarms':>12}"]
    for category, c in sorted(figures.by_category.items()):
        if category == "code":
            continue
        row = (c["cards"], c["caught"], c["lookalikes"], c["false_alarms"])
        lines.append(f"{category:24} {row[0]:6} {row[1]:6} {row[2]:11} {row[3]:12}")
    total = figures.counts
    lines += [
        "",
        f"cards {total['cards']}, caught {total['caught']}, "
        f"missed {total['cards'] - total['caught']}",
        f"look-alikes {total['lookalikes']}, false alarms {total['false_alarms']}",
        f"security codes {total['codes']}, masked {total['codes_masked']}",
        f"recall {figures.recall:.4f}  precision {figures.precision:.4f}",
    ]
    return "\n".join(lines)


_ORDINARY = (
    "Bonjour,\n\nJe reviens vers vous au sujet de ma commande du 12/05/2024 : le colis n'est "
    "toujours pas arrivé et le suivi indique une livraison le 14. Pouvez-vous me rappeler au "
    "06 12 34 56 78 ? Hello, the invoice you sent last week still shows the old address.\n\n"
    "> Le 10 mai 2024 à 09:12, Support a écrit :\n> Merci pour votre message.\n\n"
)


def timing() -> str:
    """Seconds to redact mail-sized and 1 MB texts: ordinary mail, the corpus's number-heavy
    prose, a wall of card numbers, and digits separated by single separators."""
    cases = corpus()
    prose = "\n\n".join(c.text for c in cases if c.form == "text")
    samples = {
        "ordinary mail": _ORDINARY,
        "corpus prose": prose,
        "card-dense": "4111 1111 1111 1111 12 34 56 78 ",
        "digit-dense": "1\n2 3-4.",
    }
    lines = []
    for name, sample in samples.items():
        text = sample * (1 + 1_000_000 // len(sample))
        for size in (500_000, 1_000_000):
            started = time.perf_counter()
            found = redact(text[:size]).found
            seconds = time.perf_counter() - started
            lines.append(f"{name:14} {size / 1e6:.1f} MB  {seconds:6.2f} s  {found} cards")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    cases = corpus()
    figures = measure(cases)
    print(f"{len(cases)} cases")
    print(report(figures))
    if "--verbose" in argv:
        for title, items in (("missed", figures.misses), ("false alarms", figures.false_alarms)):
            for case, out in items[:40]:
                print(
                    f"\n{title}: {case.category}/{case.form}\n  in:  {case.text!r}\n  out: {out!r}"
                )
    if "--timing" in argv:
        print("\n" + timing())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
