"""Readable plain text from HTML mail: paragraphs, nested lists, link targets, table rows and
`>`-quoted blockquotes, the way a plain-text mail client would show them.

Scripts, styles and hidden elements are dropped; nothing is fetched. `HtmlText` has one hook,
`mark`, so the quote extractor can flag mail clients' quote containers while rendering.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

_VOID = {"br", "img", "hr", "meta", "link", "input", "wbr", "col", "area", "base", "source"}
_VOID |= {"track", "embed", "param", "keygen"}
_SKIP = {"script", "style", "head", "title", "template", "noscript", "svg", "math", "object"}
_SKIP |= {"iframe", "select", "button"}
_PARAGRAPH = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "pre", "blockquote", "dl"}
_LINE = {"div", "tr", "caption", "section", "article", "header", "footer", "nav", "main"}
_LINE |= {"aside", "figure", "figcaption", "address", "center", "form", "fieldset", "details"}
_LINE |= {"summary", "dt", "dd", "li", "ul", "ol", "hr"}
_LINK_SCHEMES = ("http://", "https://", "mailto:")
_HIDDEN = re.compile(r"display\s*:\s*none", re.I)
_SPACES = re.compile(r"[ \t\n\r\f\v\xa0]+")
# An open element that a new start tag implicitly closes (HTML's optional end tags).
_IMPLIED = {"li": {"li"}, "p": {"p"}, "dt": {"dt", "dd"}, "dd": {"dt", "dd"}}
_IMPLIED |= {"td": {"td", "th"}, "th": {"td", "th"}, "tr": {"tr", "td", "th"}}
_MAX_DEPTH = 512  # as browsers do: deeper elements still show their text, unstructured


@dataclass
class Mark:
    """What `HtmlText.mark` says about an element: quoted content and/or a line before it."""

    quoted: bool = False
    line: str | None = None


@dataclass
class _Open:
    tag: str
    quoted: bool = False
    paragraph: bool = False  # separated by blank lines, not just line breaks
    lines_before: int = 0
    skip: bool = False
    pre: bool = False
    list_kind: str = ""  # "ul" or "ol" for list containers
    counter: int = 0
    href: str | None = None
    link_text: str = ""
    row_text: str = ""  # for a table cell: the row's text before it


class HtmlText(HTMLParser):
    """Collects `(quote depth, line)` pairs; subclasses may override `mark`."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[tuple[int, str]] = []
        self.current: list[str] = []
        self.stack: list[_Open] = []
        self.depth = 0  # counters kept as elements open and close, so hostile nesting is cheap
        self.skipping = 0
        self.pre = 0
        self.lists: list[_Open] = []
        self.links: list[_Open] = []

    def mark(self, tag: str, attrs: dict[str, str]) -> Mark:
        """Blockquotes are quoted, except Gmail's indent button (a borderless blockquote)."""
        style = attrs.get("style", "").replace(" ", "").lower()
        quoted = tag == "blockquote" and (attrs.get("type") == "cite" or "border:none" not in style)
        return Mark(quoted=quoted)

    # -- state -------------------------------------------------------------------------------

    def flush(self) -> None:
        text = _rstrip("".join(self.current))
        self.current = []
        if text:
            self.lines.append((self.depth, text))

    def newline(self) -> None:
        """End the current line, keeping an empty one (what `<br>` does)."""
        text = _rstrip("".join(self.current))
        self.current = []
        self.lines.append((self.depth, text))

    def blank(self) -> None:
        self.flush()
        if self.lines and self.lines[-1][1]:
            self.lines.append((self.depth, ""))
        elif self.lines:  # leaving a quote: the blank line belongs to the outer level
            self.lines[-1] = (min(self.depth, self.lines[-1][0]), "")

    def write(self, text: str, raw: bool = False) -> None:
        """Append inline text; spaces collapse across text nodes unless `raw` (indents)."""
        if not raw and (not self.current or self.current[-1].endswith(" ")):
            text = text.lstrip(" ")
        if text:
            self.current.append(text)
            if self.links:
                self.links[-1].link_text += text

    # -- parser callbacks --------------------------------------------------------------------

    def handle_starttag(self, tag, attrs):
        attributes = {k: v or "" for k, v in attrs}
        if tag == "body":
            self._close("head")
        if tag in _VOID:
            self._void(tag, attributes)
            return
        if len(self.stack) >= _MAX_DEPTH:
            return
        while self.stack and self.stack[-1].tag in _IMPLIED.get(tag, ()):
            self._close(self.stack[-1].tag)
        mark = self.mark(tag, attributes)
        item = _Open(tag, quoted=mark.quoted, paragraph=_is_paragraph(tag, attributes))
        if item.paragraph:
            self.blank()
        elif tag in _LINE or tag == "p":
            self.flush()
        item.lines_before = len(self.lines)
        item.skip = tag in _SKIP or bool(_HIDDEN.search(attributes.get("style", "")))
        if mark.line is not None and not self.skipping:
            self.flush()
            self.lines.append((self.depth, mark.line))
        self._configure(item, tag, attributes)
        self._push(item)

    def _push(self, item: _Open) -> None:
        self.stack.append(item)
        self.depth += item.quoted
        self.skipping += item.skip
        self.pre += item.pre
        if item.list_kind:
            self.lists.append(item)
        if item.href is not None:
            self.links.append(item)

    def _pop(self) -> None:
        item = self.stack.pop()
        self.depth -= item.quoted
        self.skipping -= item.skip
        self.pre -= item.pre
        if item.list_kind:
            self.lists.pop()
        if item.href is not None:
            self.links.pop()

    def _configure(self, item: _Open, tag: str, attrs: dict[str, str]) -> None:
        if tag in ("ul", "ol"):
            item.list_kind = tag
            item.counter = _int(attrs.get("start"), 1) - 1
        elif tag == "li":
            self._list_item()
        elif tag == "pre":
            item.pre = True
        elif tag == "a":
            href = attrs.get("href", "").strip()
            item.href = href if href.lower().startswith(_LINK_SCHEMES) else None
        elif tag in ("td", "th"):
            item.row_text = "".join(self.current).strip()
            self.current = []
            item.lines_before = len(self.lines)
        elif tag == "dd":
            self.write("  ", raw=True)

    def _list_item(self) -> None:
        owner = self.lists[-1] if self.lists else None
        indent = "  " * max(0, len(self.lists) - 1)
        if owner is not None and owner.list_kind == "ol":
            owner.counter += 1
            self.write(f"{indent}{owner.counter}. ", raw=True)
        else:
            self.write(f"{indent}- ", raw=True)

    def _void(self, tag: str, attrs: dict[str, str]) -> None:
        if self.skipping:
            return
        if tag == "br":
            self.newline()
        elif tag == "hr":
            self.flush()
            self.lines.append((self.depth, "---"))
        elif tag == "img" and attrs.get("alt", "").strip():
            self.write(f"[{_SPACES.sub(' ', attrs['alt']).strip()}]")

    def handle_endtag(self, tag):
        if tag not in _VOID:
            self._close(tag)

    def _close(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index].tag == tag:
                while len(self.stack) > index:
                    self._end(self.stack[-1])
                return

    def _end(self, item: _Open) -> None:
        if item.href and not self.skipping:
            shown = item.link_text.strip()
            target = item.href[7:] if item.href.lower().startswith("mailto:") else item.href
            if shown and shown not in (item.href, target):
                self.write(f" <{target}>")
        if item.tag in ("td", "th"):
            self._end_cell(item)
            self._pop()
            return
        if item.paragraph:
            self.flush()
            self._pop()
            self.blank()
            return
        if item.tag == "p" and len(self.lines) == item.lines_before:
            self.newline()  # an Outlook line holding only &nbsp; is a blank line
        elif item.tag in _LINE or item.tag == "p":
            self.flush()
        self._pop()

    def _end_cell(self, item: _Open) -> None:
        """A one-line cell joins its row ("a | b"); a cell holding blocks keeps its lines."""
        self.flush()
        cell = self.lines[item.lines_before :]
        del self.lines[item.lines_before :]
        filled = [text.strip() for _, text in cell if text.strip()]
        if len(filled) <= 1:
            text = filled[0] if filled else ""
            joined = " | ".join(part for part in (item.row_text, text) if part)
            self.current = [joined] if joined else []
            return
        if item.row_text:
            self.lines.append((self.depth, item.row_text))
        while cell and not cell[-1][1].strip():
            cell.pop()
        self.lines.extend(cell)

    def handle_data(self, data):
        if self.skipping:
            return
        if not self.pre:
            self.write(_SPACES.sub(" ", data))
            return
        chunks = data.replace("\r\n", "\n").split("\n")
        for index, chunk in enumerate(chunks):
            if index:
                self.newline()
            self.current.append(chunk.replace("\xa0", " "))

    def render(self) -> str:
        """The collected lines as text: quoted lines prefixed with `>`, blank runs collapsed."""
        while self.stack:  # what is still open at the end closes there, as in a browser
            self._end(self.stack[-1])
        self.flush()
        out: list[str] = []
        for depth, text in self.lines:
            line = _rstrip((">" * depth + " " + text if depth else text).replace("\xa0", " "))
            if not text.strip() and out and not out[-1].lstrip(">").strip():
                out[-1] = line if len(line) < len(out[-1]) else out[-1]
                continue
            out.append(line)
        while out and not out[-1].lstrip(">").strip():
            out.pop()
        while out and not out[0].lstrip(">").strip():
            out.pop(0)
        return "\n".join(out)


def _rstrip(line: str) -> str:
    """Trailing spaces go, except in "-- ", the signature delimiter (RFC 3676 section 4.3)."""
    stripped = line.rstrip()
    keep = stripped.lstrip("> ") == "--" and line.endswith("-- ")
    return stripped + " " if keep else stripped


def _is_paragraph(tag: str, attrs: dict[str, str]) -> bool:
    """Outlook's `MsoNormal` paragraphs have no margin: they are lines, not paragraphs."""
    return tag in _PARAGRAPH and not (tag == "p" and "MsoNormal" in attrs.get("class", ""))


def _int(value: str | None, default: int) -> int:
    try:
        return int(value or default)
    except ValueError:
        return default


def render(html: str, renderer: HtmlText) -> str:
    """Feed `html` to `renderer` and return its text; a parser failure keeps what was read."""
    try:
        renderer.feed(html)
        renderer.close()
    except Exception:  # HTMLParser is lenient; a failure still leaves collected text
        pass
    return renderer.render()


def html_to_text(html: str) -> str:
    return render(html, HtmlText())
