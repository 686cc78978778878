"""Mask payment card numbers in mail text, HTML and filenames (invariant 7: never kept).

A card number is 13 to 19 digits passing Luhn, written whole or in groups (spaces, dashes,
dots), possibly split by a line break, a `> ` quote prefix or HTML tags. Each digit past the
first 6 and before the last 4 becomes `*` in place, so separators, line breaks and tags keep
their shape (`4111 11** **** 1111`) and the text keeps its length. A security code labelled
near a found card ("CVV 123", "cryptogramme 123") is masked the same way. One linear pass.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass

from gateway.core.cardbrands import brand_of, iban_spans, luhn_ok
from gateway.core.cardcontext import CODE_LABEL, labelled_other, near_card_word
from gateway.core.cardhtml import BLOCK, html_view

MASK = "*"
_MIN, _MAX = 13, 19
_BREAK, _HARD, _SOFT = 0, 1, 2

_RUN = re.compile(r"\d+")
_ID_TOKEN = re.compile(r"[0-9A-Za-z]*[A-Za-z][0-9A-Za-z]*")
_SP = "[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]"
_ZW = "[\u00ad\u200b-\u200d\u2060\ufeff\ue000\ue001]"  # invisible, or a tag (cardhtml)
_DASH = "[-.\u2010-\u2015\u2212_\u00b7]"
# Between two groups of one number: a separator, or a line break (with a quoted-printable `=`
# and a quote prefix), or invisible characters and tags. The latter may also fall inside a
# group (a wrapped line, `4111<b>1111</b>`), so they may either split or join groups; a cell
# or paragraph boundary (`</td><td>`) only splits.
_HARD_GAP = re.compile(f"{_SP}{{0,3}}{_DASH}?{_SP}{{0,3}}")
_SOFT_GAP = re.compile(
    f"(?:{_SP}|{_ZW}|{_DASH}){{0,12}}(?:=?\r?\n(?:[ \t]*>)*)?(?:{_SP}|{_ZW}){{0,30}}"
)
_SOFT_MARK = re.compile(f"\n|{_ZW}")
# 13 digits with at most gap characters (40 at most) between them: text without such a run
# holds no card number, and most text (a Date or Received header, a short reply) has none, so
# the scan below is skipped for it. Possessive: a long run of spaces is not tried again.
_GAP_CHAR = f"(?:{_SP}|{_ZW}|{_DASH}|[=\r\n>])"
_MAYBE_CARD = re.compile(f"\\d(?:{_GAP_CHAR}{{0,40}}+\\d){{{_MIN - 1}}}")

# Choices, measured with scripts/measure-cards:
# - Masking is in place, digit by digit, rather than normalised to "411111******1111": tags,
#   quote prefixes and line breaks stay where they were, and HTML stays well formed.
# - A Luhn-valid number in card shape is masked when it falls in a brand's range and length
#   (cardbrands.py); outside every range (gift or private-label cards, 13-digit Visa) only
#   when a card word stands next to it, else one order number or ID in ten (those passing
#   Luhn by chance) would be masked.
# - Left alone: a number right after a label such as "Commande n°", "SIRET" or "IMEI"
#   (cardcontext.py), a valid IBAN, digits glued to an upper-case code ("JJD0012...").
# - When two readings hold (16 digits, or 19 with the 3 after them), both are masked.


@dataclass(frozen=True)
class Redaction:
    """Masked text, how many card numbers were masked and how many security codes."""

    text: str
    found: int = 0
    codes: int = 0


def redact(text: str, *, card_seen: bool = False) -> Redaction:
    """Mask card numbers in plain text. `card_seen`: a card was found elsewhere in the same
    message (say, the body), so labelled security codes here are masked even without one."""
    masks, found, codes = _scan(text, card_seen)
    return Redaction(_apply(text, masks) if masks else text, found, codes)


def redact_html(html: str, *, card_seen: bool = False) -> Redaction:
    """Mask card numbers in an HTML body, in its text (across tags and entities such as
    `&nbsp;`) and in attribute values; the markup is left as it was."""
    view = html_view(html)
    masks, found, codes = _scan(view.text, card_seen)
    spans = {view.source_span(i) for i in masks}
    for start, end in view.tags:
        tag = redact(html[start:end])
        found += tag.found
        spans.update((start + i, start + i + 1) for i, c in enumerate(tag.text) if c == MASK)
    return Redaction(_splice(html, spans), found, codes)


def redact_identifier(text: str) -> Redaction:
    """Mask card numbers in a header of message identifiers (Message-ID, References): digits
    inside a token that also holds letters belong to the identifier (a hex or base64 id another
    mail system made), not to a card; a number standing alone is still masked."""
    hidden = _ID_TOKEN.sub(lambda token: "x" * len(token.group()), text)
    result = redact(hidden)
    if not result.found:
        return Redaction(text)
    pairs = zip(text, result.text, strict=True)
    masked = "".join(MASK if new == MASK else old for old, new in pairs)
    return Redaction(masked, result.found, result.codes)


def redact_filename(name: str) -> Redaction:
    """Mask card numbers in an attachment's filename ("carte_4111_1111_1111_1111.pdf")."""
    return redact(name)


def _apply(text: str, masks: set[int]) -> str:
    return _splice(text, {(i, i + 1) for i in masks})


def _splice(text: str, spans: set[tuple[int, int]]) -> str:
    parts, last = [], 0
    for start, end in sorted(spans):
        if start >= last:
            parts.append(text[last:start])
            parts.append(MASK)
            last = end
    parts.append(text[last:])
    return "".join(parts)


@dataclass
class _Runs:
    """The digit runs of a text and what lies between consecutive runs."""

    text: str
    spans: list[tuple[int, int]]
    gaps: list[int]  # gaps[k]: kind of the gap between run k and run k+1
    reach: list[int]  # digits from run k to the end of its chain (runs joined by gaps)

    def gap_text(self, k: int) -> str:
        return self.text[self.spans[k][1] : self.spans[k + 1][0]]

    def size(self, k: int) -> int:
        return self.spans[k][1] - self.spans[k][0]


def _runs(text: str) -> _Runs:
    ibans = iban_spans(text)
    starts = [start for start, _ in ibans]
    spans = [m.span() for m in _RUN.finditer(text) if not _inside(m.start(), starts, ibans)]
    gaps = [_gap_kind(text[spans[k][1] : spans[k + 1][0]]) for k in range(len(spans) - 1)]
    reach = [0] * len(spans)
    following = 0
    for k in range(len(spans) - 1, -1, -1):
        joined = k < len(gaps) and gaps[k] != _BREAK
        following = (following if joined else 0) + spans[k][1] - spans[k][0]
        reach[k] = following
    return _Runs(text, spans, gaps, reach)


def _inside(position: int, starts: list[int], spans: list[tuple[int, int]]) -> bool:
    """Whether `position` falls in one of `spans` (sorted, not overlapping; `starts` theirs)."""
    index = bisect_right(starts, position) - 1
    return index >= 0 and position < spans[index][1]


def _gap_kind(gap: str) -> int:
    if len(gap) > 40:
        return _BREAK
    if _HARD_GAP.fullmatch(gap):
        return _HARD
    if _SOFT_GAP.fullmatch(gap) and _SOFT_MARK.search(gap):
        return _HARD if BLOCK in gap else _SOFT
    return _BREAK


def _scan(text: str, card_seen: bool) -> tuple[set[int], int, int]:
    if not card_seen and not _MAYBE_CARD.search(text):
        return set(), 0, 0  # no card, so no security code to look for either
    runs = _runs(text)
    masks: set[int] = set()
    card_runs: set[int] = set()
    found = codes = 0
    k, after_card = 0, False
    while k < len(runs.spans):
        ends = _card_ends(runs, k, after_card) if runs.reach[k] >= _MIN else []
        if not ends:
            k, after_card = k + 1, False
            continue
        found += 1
        last = ends[-1]
        card_runs.update(range(k, last + 1))
        masks |= _card_masks(runs, k, ends)
        code = _trailing_code(runs, last)
        if code is not None:
            masks.update(range(*runs.spans[code]))
            card_runs.add(code)
            codes += 1
        k, after_card = last + 1, True
    if found or card_seen:
        codes += _labelled_codes(runs, card_runs, masks)
    return masks, found, codes


class _Shape:
    """Where hard separators sit so far: card groupings put them every 4 digits, at 4-6-5
    (Amex), 4-6-4 (Diners) or after 6; line breaks and tags may fall anywhere."""

    def __init__(self) -> None:
        self.every4 = self.amex = self.six = True
        self.boundary = 4  # the next place a 4-grouping needs a separator (a break will do)
        self.seps: set[str] = set()
        self.lines = 1

    def gap(self, kind: int, total: int, text: str) -> bool:
        """Record a gap after `total` digits; False once no grouping fits, or once the number
        would span more than 3 lines (wrapping splits a number once, rarely twice)."""
        self.lines += "\n" in text
        if self.lines > 3:
            return False
        if total == self.boundary:
            self.boundary += 4
        elif kind == _HARD:
            self.every4 = False
        if kind == _HARD:
            self.amex = self.amex and total in (4, 10)
            self.six = self.six and total == 6
            self.seps.add(text)
        return self.every4 or self.amex or self.six

    def fits(self, total: int) -> bool:
        return self.every4 or self.six or (self.amex and total in (14, 15))

    def grouped_by_4(self) -> set[str]:
        """The separators of a 4-grouped number (empty if it is not one)."""
        return self.seps if self.every4 else set()


def _card_ends(runs: _Runs, first: int, after_card: bool, strict: bool = False) -> list[int]:
    """Last runs of the card numbers starting at run `first`, shortest first (usually none).
    `strict`: any Luhn-valid number in a brand's range, whatever surrounds it."""
    ends, total, digits, shape = [], 0, [], _Shape()
    for k in range(first, len(runs.spans)):
        if k > first:
            kind = runs.gaps[k - 1]
            if kind == _BREAK or not shape.gap(kind, total, runs.gap_text(k - 1)):
                break
        start, end = runs.spans[k]
        total += end - start
        if total > _MAX:
            break
        digits.append(runs.text[start:end])
        if total < _MIN or not shape.fits(total):
            continue
        number = _ascii("".join(digits))
        if not luhn_ok(number):
            continue
        if strict:
            accepted = bool(brand_of(number))
        else:
            accepted = _standalone(runs, first, k, shape.grouped_by_4(), after_card) and _is_card(
                runs.text, runs.spans[first][0], end, number
            )
        if accepted:
            ends.append(k)
    return ends


def _is_card(text: str, start: int, end: int, number: str) -> bool:
    """A Luhn-valid number in card shape: not labelled as something else, and either in a
    brand's range or next to a card word."""
    if labelled_other(text, start):
        return False
    return bool(brand_of(number)) or near_card_word(text, start, end)


def _standalone(runs: _Runs, first: int, last: int, seps: set[str], after_card: bool) -> bool:
    """A 4-grouped number is not a slice of a longer 4-grouped number (an IBAN without its
    country code, a 20-digit reference) unless what follows is an expiry date or another card."""
    if not seps:
        return True
    before = first - 1
    if (
        not after_card
        and before >= 0
        and runs.gaps[before] == _HARD
        and runs.gap_text(before) in seps
        and runs.size(before) == 4
    ):
        return False
    after = last + 1
    if after >= len(runs.spans) or runs.gaps[last] != _HARD or runs.gap_text(last) not in seps:
        return True
    if runs.size(after) != 4:
        return True
    chain_ends = after + 1 >= len(runs.spans) or runs.gaps[after] != _HARD
    month = runs.text[runs.spans[after][0] : runs.spans[after][0] + 2]
    return (chain_ends and "01" <= month <= "12") or bool(_card_ends(runs, after, True, True))


def _card_masks(runs: _Runs, first: int, ends: list[int]) -> set[int]:
    """Digits 7 to n-4 of the longest reading; when a shorter reading also holds, the digits
    past it too (they may be a security code typed after the number)."""
    positions = [i for k in range(first, ends[-1] + 1) for i in range(*runs.spans[k])]
    masks = set(positions[6:-4])
    shortest = ends[0]
    if shortest != ends[-1] and runs.gaps[shortest] == _HARD:
        masks.update(i for k in range(shortest + 1, ends[-1] + 1) for i in range(*runs.spans[k]))
    return masks


# After a card on the same line, separated only by spaces: an expiry (MM YY or MM YYYY) and/or
# a 3-4 digit code, as in "4111 1111 1111 1111 12 27 123". The code is masked.
_TAILS = {(3,): 0, (4,): 0, (2, 2, 3): 2, (2, 2, 4): 2, (2, 4, 3): 2, (2, 4, 4): 2, (4, 3): 1}


def _trailing_code(runs: _Runs, last: int) -> int | None:
    sizes: list[int] = []
    k = last
    while k + 1 < len(runs.spans) and runs.gaps[k] == _HARD and len(sizes) <= 3:
        k += 1
        sizes.append(runs.size(k))
    where = _TAILS.get(tuple(sizes))
    return None if where is None else last + 1 + where


def _labelled_codes(runs: _Runs, card_runs: set[int], masks: set[int]) -> int:
    """Mask the 3-4 digit run that follows a security-code label within 40 characters."""
    starts = {span[0]: k for k, span in enumerate(runs.spans)}
    count = 0
    for label in CODE_LABEL.finditer(runs.text):
        for run in _RUN.finditer(runs.text, label.end(), label.end() + 40):
            k = starts.get(run.start())
            if k is None or k in card_runs or runs.size(k) < 3:
                continue
            if runs.size(k) == run.end() - run.start() <= 4:
                masks.update(range(*runs.spans[k]))
                card_runs.add(k)
                count += 1
            break
    return count


def _ascii(digits: str) -> str:
    """Digits from any script ("４１１１") as ASCII, for Luhn and brand checks."""
    if digits.isascii():
        return digits
    return "".join(str(unicodedata.digit(c)) for c in digits)
