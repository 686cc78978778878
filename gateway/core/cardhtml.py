"""A plain-text view of an HTML body, for finding card numbers split by markup.

Each tag becomes one marker character and each entity its character, so
`4111&nbsp;<b>1111</b>` reads as digits, a space, a marker and digits. Every view character
maps back to its source span, so masking edits the HTML in place and leaves markup intact.
"""

from __future__ import annotations

import html
import re
from bisect import bisect_right
from dataclasses import dataclass

TAG = "\ue000"  # a private-use character: stands for one inline tag in the view
BLOCK = "\ue001"  # stands for a tag that starts or ends a cell, row, paragraph or block
_BLOCK_TAG = re.compile(
    r"</?(?:td|th|tr|table|thead|tbody|tfoot|p|div|li|ul|ol|dl|dt|dd|h[1-6]|blockquote|pre|"
    r"section|article|header|footer|hr)\b",
    re.IGNORECASE,
)
# Linear: no nested quantifiers; an unclosed `<` or `&` is plain text.
_TOKEN = re.compile(
    r"(?P<tag><[A-Za-z/!?][^<>]*>)"
    r"|(?P<entity>&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});?)"
    r"|[^<&]+|[<&]"
)
# A tag with fewer digits cannot hold a card number; with 13 or more, its attributes are read.
_THIRTEEN_DIGITS = re.compile(r"(?:\D*\d){13}")


@dataclass(frozen=True)
class HtmlView:
    text: str
    tags: tuple[tuple[int, int], ...]  # source spans of tags holding enough digits to scan
    view_starts: tuple[int, ...]  # one entry per piece (a run of text, an entity or a tag)
    source_starts: tuple[int, ...]
    source_ends: tuple[int, ...]
    is_text: tuple[bool, ...]

    def source_span(self, index: int) -> tuple[int, int]:
        """The source characters behind view character `index`."""
        piece = bisect_right(self.view_starts, index) - 1
        if self.is_text[piece]:
            start = self.source_starts[piece] + index - self.view_starts[piece]
            return start, start + 1
        return self.source_starts[piece], self.source_ends[piece]


def html_view(source: str) -> HtmlView:
    parts: list[str] = []
    tags, view_starts, starts, ends, is_text = [], [], [], [], []
    length = 0
    for token in _TOKEN.finditer(source):
        piece, kind = token.group(), token.lastgroup
        shown = piece
        if kind == "tag":
            shown = BLOCK if _BLOCK_TAG.match(piece) else TAG
            if _THIRTEEN_DIGITS.match(piece):
                tags.append(token.span())
        elif kind == "entity":
            shown = html.unescape(piece)
        view_starts.append(length)
        starts.append(token.start())
        ends.append(token.end())
        is_text.append(shown is piece or shown == piece)
        parts.append(shown)
        length += len(shown)
    return HtmlView(
        "".join(parts), tuple(tags), tuple(view_starts), tuple(starts), tuple(ends), tuple(is_text)
    )
