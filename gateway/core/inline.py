"""Inline images and the HTML that shows them, made fit to pass on from one mail to another.

A part shows inside the HTML only when it is a plain raster image (its bytes say so, not just
its label) with a usable Content-ID; any other `<img>` leaves with its element, so nothing
remote, `data:` or dangling survives (sanitize.py drops the rest). Cutting to the new text
aligns the HTML's words with the new text found in the text part: the cut HTML never says a
word that text does not, so the checks made on that text (the leak guard) hold for it too.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from html import escape
from html.parser import HTMLParser
from urllib.parse import unquote

from gateway.core.quotes import is_history_container
from gateway.core.sanitize import clean_html

_CONTENT_ID_UNSAFE = re.compile(r"[^A-Za-z0-9._@+=$~-]")
MAX_CONTENT_ID = 200
_MAGIC = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
}
_VOID = {"br", "hr", "img", "col"}  # the void elements of sanitize's allow-list
_DROP_EMPTY = {"div", "p", "span", "blockquote"}  # left empty by a cut: no trace needed
_MARKERS = {"class", "id"}  # kept by the sanitiser only for the cut; never passed on
_WORD = re.compile(r"\w+")
# Text-part renderings with no counterpart in HTML text: "[image: a.png]", "<https://...>",
# "(https://...)"; the HTML may lack these words, and short numbers (ordered lists).
_PLACEHOLDER = re.compile(r"\[[^\]\n]{0,200}\]|<[a-z][a-z0-9+.-]*:[^>\s]*>|\(https?://[^)\s]*\)")
_LOOKAHEAD = 50  # words of the new text a node may skip to find its own (bounds the work)


def clean_content_id(value: str) -> str:
    """A Content-ID (RFC 2392) as a bare token safe in a header and in a `cid:` URL: angle
    brackets and every character outside a small set (line breaks, quotes, spaces) removed.
    An overlong one is refused ("") rather than cut, so two cannot collide after cutting."""
    value = _CONTENT_ID_UNSAFE.sub("", str(value))
    return value if len(value) <= MAX_CONTENT_ID else ""


def is_inline_image(content_type: str, data: bytes) -> bool:
    """PNG, JPEG, GIF or WebP, by label and by content (a program labelled image/png is not)."""
    kind = content_type.strip().lower()
    if kind == "image/webp":
        return data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    return data.startswith(_MAGIC.get(kind, (b"\x00never",)))


@dataclass(frozen=True)
class ShownHtml:
    html: str  # a sanitised fragment (no html/head/body)
    images: tuple[str, ...]  # the content ids it shows, each once, in order


def shown_html(html: str, images: Collection[str], new_text: str | None = None) -> ShownHtml | None:
    """`html` sanitised, showing only the images named in `images` (clean content ids).

    With `new_text`, only the part of the HTML that says it, commands above it left out; None
    when the two cannot be aligned (inline answers between quotes, a client whose text part
    differs): the caller then builds its HTML from the text. None too when nothing is left.
    """
    reader = _Reader(set(images), new_text)
    reader.feed(clean_html(html, markers=True))
    reader.close()
    reader.stop()
    if new_text is not None and not reader.covered():
        return None
    shown = "".join(reader.out).strip()
    if not shown or (not reader.shown and not _WORD.search(shown)):
        return None
    return ShownHtml(shown, tuple(reader.shown))


def _words(text: str) -> tuple[list[str], list[bool]]:
    """The words of `text`, lowercased, and for each whether the HTML may lack it."""
    spans = [m.span() for m in _PLACEHOLDER.finditer(text)]
    words, optional = [], []
    for match in _WORD.finditer(text):
        word = match.group().lower()
        inside = any(start <= match.start() < end for start, end in spans)
        words.append(word)
        optional.append(inside or (word.isdigit() and len(word) <= 3))
    return words, optional


class _Reader(HTMLParser):
    """Copies sanitised HTML, dropping foreign images; in cutting mode, stops where the
    HTML's words leave the new text (or a quote container begins once they started)."""

    def __init__(self, images: set[str], new_text: str | None):
        super().__init__(convert_charrefs=True)
        self.images, self.cutting = images, new_text is not None
        self.expected, self.optional = _words(new_text or "")
        self.optional_from = [all(self.optional[i:]) for i in range(len(self.optional))]
        self.pos, self.skipped, self.started, self.stopped = 0, [], False, False
        self.hidden = 0  # depth inside a quote above the new text (bottom posting): all goes
        self.out: list[str] = []
        self.open: list[tuple[str, int]] = []  # open elements and where their tag is in `out`
        self.counts: dict[str, int] = {}  # open elements by tag
        self.shown: list[str] = []

    def covered(self) -> bool:
        missing = [*self.skipped, *range(self.pos, len(self.expected))]
        return all(self.optional[i] for i in missing)

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            while self.open:
                self._close()

    def _close(self) -> str:
        """Close the innermost element; one left empty by what was cut goes altogether."""
        tag, start = self.open.pop()
        self.counts[tag] -= 1
        if start == len(self.out) - 1 and tag in _DROP_EMPTY:
            self.out.pop()
        else:
            self.out.append(f"</{tag}>")
        return tag

    def _complete(self) -> bool:
        return self.started and (self.pos >= len(self.expected) or self.optional_from[self.pos])

    def _done(self) -> bool:
        """Whether history may begin here: the new text started (or there is none)."""
        return self.started or not self.expected

    def handle_starttag(self, tag, attrs):
        if self.stopped:
            return
        if self.hidden:
            self.hidden += tag not in _VOID
            return
        attributes = {name: value or "" for name, value in attrs}
        if self.cutting and is_history_container(tag, attributes):
            if self._done():
                return self.stop()
            self.hidden = tag not in _VOID
            return
        if tag == "img":
            cid = _image_id(attributes.get("src", ""))
            if cid not in self.images:
                return  # remote, data:, or no such part: the element goes
            attributes["src"] = "cid:" + cid
            if cid not in self.shown:
                self.shown.append(cid)
        kept = "".join(
            f' {name}="{escape(value)}"'
            for name, value in attributes.items()
            if name not in _MARKERS
        )
        self.out.append(f"<{tag}{kept}>")
        if tag not in _VOID:
            self.open.append((tag, len(self.out) - 1))
            self.counts[tag] = self.counts.get(tag, 0) + 1

    def handle_endtag(self, tag):
        if self.stopped or tag in _VOID:
            return
        if self.hidden:  # sanitised HTML closes every element it opens
            self.hidden -= 1
            return
        if not self.counts.get(tag):
            return
        while self.open and self._close() != tag:
            pass

    def handle_data(self, data):
        if self.stopped or self.hidden:
            return
        if not self.cutting or not _WORD.search(data):
            if not (self.cutting and data.strip() and self._complete()):  # a "-- " below it
                self.out.append(escape(data, quote=False))
            return
        line = data.strip()
        if not self.started and self.expected and line.startswith("/") and line[:2] != "//":
            return  # a command line above the reply (the commands grammar)
        kept = self._align(data)
        if kept == len(data):
            self.out.append(escape(data, quote=False))
            return
        if not self.started:
            return  # text above the new text that it does not contain
        if kept:
            self.out.append(escape(data[:kept], quote=False))
        self.stop()

    def _align(self, data: str) -> int:
        """How much of `data` follows the new text: its length when all of it does."""
        end = 0
        for match in _WORD.finditer(data):
            found = self._find(match.group().lower())
            if found is None:
                return end
            self.skipped.extend(range(self.pos, found))
            self.pos, self.started, end = found + 1, True, match.end()
        return len(data)

    def _find(self, word: str) -> int | None:
        for index in range(self.pos, min(self.pos + _LOOKAHEAD, len(self.expected))):
            if self.expected[index] == word:
                return index
        return None


def _image_id(src: str) -> str:
    """The clean content id a `cid:` URL names (RFC 2392: percent-encoded), else ""."""
    src = src.strip()
    return clean_content_id(unquote(src[4:])) if src[:4].lower() == "cid:" else ""
