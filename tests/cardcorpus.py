"""A deterministic, labelled corpus of card numbers and their look-alikes.

Every case is a text (plain, HTML, subject or filename) whose parts are labelled: a card
number (must be masked), a security code (must be masked), or a look-alike (must stay as it
was). Card numbers cover every major brand, separators, line wraps, quotes and HTML splits;
look-alikes cover phone numbers, IBANs, order, invoice and tracking numbers, SIRET/SIREN,
dates, IPs, EAN barcodes, IMEIs, long digit strings, amounts and Luhn-failing numbers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import cardlookalikes as look
from cardtemplates import CARD_TEMPLATES, LOOKALIKE_TEMPLATES

SEED = 7812  # ISO/IEC 7812 numbers cards

# Prefix ranges and lengths of the brands (issuers' published IIN ranges).
BRANDS: dict[str, tuple[tuple[tuple[int, int], ...], tuple[int, ...]]] = {
    "visa": (((4, 4),), (16, 16, 16, 19)),
    "visa-cb": (((4970, 4979),), (16,)),
    "mastercard": (((51, 55),), (16,)),
    "mastercard-2": (((2221, 2720),), (16,)),
    "amex": (((34, 34), (37, 37)), (15,)),
    "discover": (((6011, 6011), (644, 649), (65, 65), (622126, 622925)), (16, 19)),
    "jcb": (((3528, 3589),), (16, 19)),
    "diners": (((300, 305), (36, 36), (38, 39)), (14, 16)),
    "unionpay": (((62, 62),), (16, 17, 18, 19)),
    "maestro": (
        tuple((p, p) for p in (5018, 5020, 5038, 5893, 6304, 6759, 6761, 6762, 6763)),
        (16, 18, 19),
    ),
}
# Card-like numbers outside those ranges: masked only next to a card word (cards.py).
OTHER_RANGE = (((10, 19), (70, 80), (82, 99)), (16,))
# 13-digit Visa and Maestro numbers (no longer issued): masked only next to a card word.
LEGACY_13 = (((4, 4), (5018, 5018), (5020, 5020), (6304, 6304), (6759, 6759)), (13,))


@dataclass(frozen=True)
class Part:
    start: int
    end: int
    kind: str  # "card" | "code" | "other"
    category: str


@dataclass(frozen=True)
class Case:
    category: str
    form: str  # "text" | "html" | "subject" | "filename"
    text: str
    parts: tuple[Part, ...]


class Doc:
    """Builds one case; `quote` prefixes every line (a quoted reply)."""

    def __init__(self, quote: str = "") -> None:
        self.chunks: list[str] = [quote]
        self.parts: list[Part] = []
        self.length = len(quote)
        self.quote = quote

    def say(self, text: str) -> None:
        self._add(text.replace("\n", "\n" + self.quote) if self.quote else text)

    def part(self, text: str, kind: str, category: str) -> None:
        start = self.length
        self._add(text)
        self.parts.append(Part(start, self.length, kind, category))

    def _add(self, text: str) -> None:
        self.chunks.append(text)
        self.length += len(text)

    def case(self, category: str, form: str) -> Case:
        return Case(category, form, "".join(self.chunks), tuple(self.parts))


def luhn_digit(body: str) -> str:
    total = 0
    for position, char in enumerate(reversed(body)):
        digit = int(char)
        if position % 2 == 0:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return str(-total % 10)


def card_number(rng: random.Random, ranges, lengths, valid: bool = True) -> str:
    low, high = rng.choice(ranges)
    prefix = str(rng.randint(low, high))
    length = rng.choice(lengths)
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    check = luhn_digit(body)
    if not valid:
        check = str((int(check) + rng.randint(1, 9)) % 10)
    return body + check


def sizes(number: str, brand: str, rng: random.Random) -> list[int]:
    """How people group a card number: 4s, Amex 4-6-5, Diners 4-6-4, sometimes 6-rest."""
    n = len(number)
    if brand == "amex":
        return [4, 6, 5]
    if n == 14 and rng.random() < 0.7:
        return [4, 6, 4]
    if n >= 16 and rng.random() < 0.08:
        return [6, n - 6]
    return [4] * (n // 4) + ([n % 4] if n % 4 else [])


def split(number: str, group_sizes: list[int]) -> list[str]:
    out, at = [], 0
    for size in group_sizes:
        out.append(number[at : at + size])
        at += size
    return out


SEPARATORS = (" ", " ", " ", " ", "-", "-", ".", "  ", " - ", "\u00a0", "\u202f")


def wrap(rng: random.Random, text: str, brk: str) -> str:
    """Break a rendered number once: inside a group, or at a separator (kept or replaced)."""
    cuts = [i for i in range(1, len(text)) if text[i].isdigit()]
    cut = rng.choice(cuts)
    if not text[cut - 1].isdigit() and rng.random() < 0.5:
        head = text[:cut].rstrip(" -.\u00a0\u202f")
        return head + brk + text[cut:]
    return text[:cut] + brk + text[cut:]


def render_text(rng: random.Random, number: str, brand: str, quote: str, form: str) -> str:
    groups = split(number, sizes(number, brand, rng))
    grouped = rng.choice(SEPARATORS).join(groups)
    if form == "filename":
        return rng.choice((number, "_".join(groups), "-".join(groups), " ".join(groups)))
    if form == "subject":
        return rng.choice((number, grouped, grouped))
    style = rng.choice(("whole", "grouped", "grouped", "wrap", "wrap", "wrap-whole", "qp", "zw"))
    brk = "\n" + quote
    if style == "whole":
        return number
    if style == "grouped":
        return grouped
    if style == "wrap":
        return wrap(rng, grouped, brk)
    if style == "wrap-whole":
        return wrap(rng, number, brk)
    if style == "qp":  # raw quoted-printable: a soft line break at column 76
        return wrap(rng, rng.choice((number, grouped)), "=\n" if not quote else brk)
    return "\u200b".join(groups)


_INLINE = ("<b>{}</b>", '<span class="n">{}</span>', "<strong>{}</strong>", "<em>{}</em>", "{}")


def render_html(rng: random.Random, number: str, brand: str) -> str:
    groups = split(number, sizes(number, brand, rng))
    style = rng.choice(("plain", "tags", "nbsp", "cells", "br", "midtag", "font", "lines"))
    if style == "plain":
        return rng.choice((number, " ".join(groups), "-".join(groups)))
    if style == "tags":
        return " ".join(rng.choice(_INLINE).format(g) for g in groups)
    if style == "nbsp":
        return "&nbsp;".join(groups)
    if style == "cells":
        return "</td><td>".join(groups)
    if style == "br":
        return wrap(rng, " ".join(groups), rng.choice(("<br>", "<br>\n", "<br/>")))
    if style == "midtag":
        cut = rng.randint(1, len(number) - 1)
        return number[:cut] + rng.choice(_INLINE).format(number[cut:])
    if style == "font":
        half = len(groups) // 2
        first, second = " ".join(groups[:half]), " ".join(groups[half:])
        return f'<font face="Arial">{first}</font><font face="Arial"> {second}</font>'
    return wrap(rng, " ".join(groups), "\n")  # a line break in the source: a space on screen


def card_case(rng: random.Random, category: str, form: str, quote: str = "") -> Case:
    ranges, lengths = _ranges(category)
    template = rng.choice(CARD_TEMPLATES[_template_set(category, form)])
    doc = Doc(quote)
    brand = category if category in BRANDS else "visa"
    new_card = lambda: card_number(rng, ranges, lengths)  # noqa: E731
    fill(rng, doc, template, (form, quote, brand), new_card, ("card", category))
    return doc.case(category, form)


def luhn_fail_case(rng: random.Random, form: str) -> Case:
    """Card-shaped numbers of every brand, in card sentences, whose check digit is wrong."""
    brand = rng.choice(list(BRANDS))
    ranges, lengths = BRANDS[brand]
    doc = Doc()
    new_card = lambda: card_number(rng, ranges, lengths, valid=False)  # noqa: E731
    template = rng.choice(CARD_TEMPLATES[form])
    fill(rng, doc, template, (form, "", brand), new_card, ("other", "luhn-fail"))
    return doc.case("luhn-fail", form)


def _ranges(category: str):
    if category == "other-range+card-word":
        return OTHER_RANGE
    if category == "13-digit+card-word":
        return LEGACY_13
    return BRANDS[category]


def _template_set(category: str, form: str) -> str:
    if form == "text" and category in ("other-range+card-word", "13-digit+card-word"):
        return "card-word"
    return form


def fill(rng, doc: Doc, template: str, how: tuple, new_card, label: tuple[str, str]) -> None:
    """Write `template`, rendering {card}, {card2}, {code}, {exp} and look-alike slots.
    `how` is (form, quote prefix, brand); `label` the (kind, category) of card slots."""
    form, quote, brand = how
    kind, category = label
    for index, piece in enumerate(template.split("{")):
        slot, _, rest = piece.partition("}") if index else ("", "", piece)
        if slot in ("card", "card2"):
            number = new_card()
            if form == "html":
                rendered = render_html(rng, number, brand)
            else:
                rendered = render_text(rng, number, brand, quote, form)
            doc.part(rendered, kind, category)
        elif slot == "code":
            # Amex prints a 4-digit code (CID), the other brands a 3-digit one (CVV2, CVC2).
            code = str(rng.randint(1000, 9999) if brand == "amex" else rng.randint(100, 999))
            if kind == "card":
                doc.part(code, "code", "code")
            else:
                doc.part(code, "other", category)
        elif slot == "exp":
            doc.say(f"{rng.randint(1, 12):02d}/{rng.randint(24, 33)}")
        elif slot == "mmyy":
            doc.say(f"{rng.randint(1, 12):02d} {rng.randint(24, 33)}")
        elif slot:
            value, other = look.make(rng, slot)
            doc.part(value, "other", other)
        doc.say(rest)


def lookalike_case(rng: random.Random, category: str, form: str) -> Case:
    template = rng.choice(LOOKALIKE_TEMPLATES[form][category])
    doc = Doc("> " if form == "text" and rng.random() < 0.15 else "")
    fill(rng, doc, template, (form, doc.quote, "visa"), lambda: "", ("other", category))
    return doc.case(category, form)


def corpus(seed: int = SEED) -> list[Case]:
    """About 4,500 cases: a third hold card numbers, the rest only look-alikes."""
    rng = random.Random(seed)
    cases: list[Case] = []
    for category in BRANDS:
        for form, count in (("text", 70), ("html", 40), ("subject", 12), ("filename", 12)):
            cases += [card_case(rng, category, form) for _ in range(count)]
        cases += [
            card_case(rng, category, "text", rng.choice(("> ", ">> ", "> > "))) for _ in range(20)
        ]
    for category in ("other-range+card-word", "13-digit+card-word"):
        cases += [card_case(rng, category, "text") for _ in range(40)]
    for form, count in (("text", 250), ("html", 60), ("subject", 30), ("filename", 30)):
        cases += [luhn_fail_case(rng, form) for _ in range(count)]
    for form, templates in LOOKALIKE_TEMPLATES.items():
        for category in templates:
            count = 200 if form == "text" else 40
            cases += [lookalike_case(rng, category, form) for _ in range(count)]
    return cases
