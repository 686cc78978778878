"""Which numbers are card numbers: the Luhn check, the brands' ranges, and IBANs (never cards).

Brand ranges (IIN/BIN prefixes and lengths) cut false alarms: most order or account numbers
that pass Luhn by chance start with a prefix or have a length no major brand issues.
"""

from __future__ import annotations

import re

_ALL = frozenset(range(16, 20))

# (brand, lowest prefix, highest prefix, lengths). Prefixes compare as integers of the same
# number of digits. Cartes Bancaires cards are co-branded Visa or Mastercard, so their BINs
# fall in those ranges. 13-digit Visa and 13-15 digit Maestro numbers are no longer issued
# (and collide with EAN-13 barcodes): such a number counts as "no known brand" and is masked
# only when a card word is near (see cards.py).
_RANGES: tuple[tuple[str, str, str, frozenset[int]], ...] = (
    ("visa", "4", "4", frozenset({16, 19})),
    ("mastercard", "51", "55", frozenset({16})),
    ("mastercard", "2221", "2720", frozenset({16})),
    ("amex", "34", "34", frozenset({15})),
    ("amex", "37", "37", frozenset({15})),
    ("discover", "6011", "6011", _ALL),
    ("discover", "644", "649", _ALL),
    ("discover", "65", "65", _ALL),
    ("discover", "622126", "622925", _ALL),
    ("jcb", "3528", "3589", _ALL),
    ("diners", "300", "305", frozenset(range(14, 20))),
    ("diners", "3095", "3095", frozenset(range(14, 20))),
    ("diners", "36", "36", frozenset(range(14, 20))),
    ("diners", "38", "39", frozenset(range(14, 20))),
    ("unionpay", "62", "62", _ALL),
    ("unionpay", "81", "81", _ALL),
    ("dankort", "5019", "5019", frozenset({16})),
    *(
        ("maestro", prefix, prefix, _ALL)
        for prefix in ("5018", "5020", "5038", "5893", "6304", "6759", "6761", "6762", "6763")
    ),
)

_DOUBLED = str.maketrans("0123456789", "0246813579")  # a digit doubled, minus 9 past 9


def luhn_ok(number: str) -> bool:
    """The ISO/IEC 7812 check digit (ASCII digits): every payment card number passes it."""
    backwards = number[::-1]
    total = sum(map(int, backwards[0::2])) + sum(map(int, backwards[1::2].translate(_DOUBLED)))
    return total % 10 == 0


def brand_of(number: str) -> str | None:
    """The brand whose prefix range and length fit `number` (ASCII digits), or None."""
    for brand, low, high, lengths in _RANGES:
        if len(number) in lengths and low <= number[: len(low)] <= high:
            return brand
    return None


# IBAN lengths by country (ISO 13616 registry): SEPA countries and France's neighbours.
_IBAN_LENGTHS = {
    "AD": 24, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22, "DK": 18,
    "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GI": 23, "GR": 27, "HR": 21, "HU": 28,
    "IE": 22, "IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MA": 28, "MC": 27,
    "MT": 31, "NL": 18, "NO": 15, "PL": 28, "PT": 25, "RO": 24, "SE": 24, "SI": 19, "SK": 24,
    "SM": 27, "TN": 24, "VA": 22,
}  # fmt: skip


def iban_length(text: str) -> int:
    """How many leading letters and digits of `text` (separators removed, upper case) form a
    valid IBAN (country length and mod-97 check), or 0."""
    length = _IBAN_LENGTHS.get(text[:2], 0)
    if not length or len(text) < length:
        return 0
    candidate = text[4:length] + text[:4]
    return length if int("".join(str(int(c, 36)) for c in candidate)) % 97 == 1 else 0


_IBAN = re.compile(r"\b[A-Z]{2}[0-9]{2}(?:[ \u00a0-]?[A-Z0-9]){11,30}", re.IGNORECASE)


def iban_spans(text: str) -> list[tuple[int, int]]:
    """Spans of valid IBANs in `text`, in order: their digits are never a card number, even
    when written in groups of four (FR76 3000 6000 0112 3456 7890 189)."""
    spans = []
    for match in _IBAN.finditer(text):
        where = [i for i, c in enumerate(match.group()) if c.isalnum()]
        value = "".join(match.group()[i] for i in where).upper()
        length = iban_length(value) if value.isascii() else 0
        if length:
            spans.append((match.start(), match.start() + where[length - 1] + 1))
    return spans
