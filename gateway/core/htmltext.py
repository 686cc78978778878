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


class HtmlText(HTMLParser):
    """Collects `(quote depth, line)` pairs; subclasses may override `mark`."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[tuple[int, str]] = []
        self.current: list[str] = []
        self.stack: list[_Open] = []
        self.row_cells = 0

    def mark(self, tag: str, attrs: dict[str, str]) -> Mark:
        """Blockquotes are quoted, except Gmail's indent button (a borderless blockquote)."""
        style = attrs.get("style", "").replace(" ", "").lower()
        quoted = tag == "blockquote" and (attrs.get("type") == "cite" or "border:none" not in style)
        return Mark(quoted=quoted)

    # -- state -------------------------------------------------------------------------------

    @property
    def depth(self) -> int:
        return sum(1 for item in self.stack if item.quoted)

    def _in(self, flag: str) -> bool:
        return any(getattr(item, flag) for item in self.stack)

    def flush(self) -> None:
        text = "".join(self.current).rstrip()
        self.current = []
        if text:
            self.lines.append((self.depth, text))

    def newline(self) -> None:
        """End the current line, keeping an empty one (what `<br>` does)."""
        text = "".join(self.current).rstrip()
        self.current = []
        self.lines.append((self.depth, text))

    def blank(self) -> None:
        self.flush()
        if self.lines and self.lines[-1][1]:
            self.lines.append((self.depth, ""))

    def write(self, text: str, raw: bool = False) -> None:
        """Append inline text; spaces collapse across text nodes unless `raw` (indents)."""
        if not raw and (not self.current or self.current[-1].endswith(" ")):
            text = text.lstrip(" ")
        if text:
            self.current.append(text)
            for item in self.stack:
                if item.href is not None:
                    item.link_text += text

    # -- parser callbacks --------------------------------------------------------------------

    def handle_starttag(self, tag, attrs):
        attributes = {k: v or "" for k, v in attrs}
        if tag == "body":
            self._close("head")
        if tag in _VOID:
            self._void(tag, attributes)
            return
        if tag in ("li", "p", "dt", "dd") and self.stack and self.stack[-1].tag == tag:
            self._close(tag)  # an unclosed <li>/<p> ends where the next one starts
        mark = self.mark(tag, attributes)
        item = _Open(tag, quoted=mark.quoted, paragraph=_is_paragraph(tag, attributes))
        if item.paragraph:
            self.blank()
        elif tag in _LINE or tag == "p":
            self.flush()
        item.lines_before = len(self.lines)
        item.skip = tag in _SKIP or bool(_HIDDEN.search(attributes.get("style", "")))
        if mark.line is not None and not self._in("skip"):
            self.flush()
            self.lines.append((self.depth, mark.line))
        self._configure(item, tag, attributes)
        self.stack.append(item)

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
        elif tag == "tr":
            self.row_cells = 0
        elif tag in ("td", "th"):
            if self.row_cells and "".join(self.current).strip():
                self.current = ["".join(self.current).rstrip(), " | "]
            self.row_cells += 1
        elif tag == "dd":
            self.write("  ", raw=True)

    def _list_item(self) -> None:
        lists = [item for item in self.stack if item.list_kind]
        owner = lists[-1] if lists else None
        indent = "  " * max(0, len(lists) - 1)
        if owner is not None and owner.list_kind == "ol":
            owner.counter += 1
            self.write(f"{indent}{owner.counter}. ", raw=True)
        else:
            self.write(f"{indent}- ", raw=True)

    def _void(self, tag: str, attrs: dict[str, str]) -> None:
        if self._in("skip"):
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
        if item.href and not self._in("skip"):
            shown = item.link_text.strip()
            target = item.href[7:] if item.href.lower().startswith("mailto:") else item.href
            if shown and shown not in (item.href, target):
                self.write(f" <{target}>")
        if item.paragraph:
            self.flush()
            self.stack.pop()
            self.blank()
            return
        if item.tag == "p" and len(self.lines) == item.lines_before:
            self.newline()  # an Outlook line holding only &nbsp; is a blank line
        elif item.tag in _LINE or item.tag == "p":
            self.flush()
        self.stack.pop()

    def handle_data(self, data):
        if self._in("skip"):
            return
        if not self._in("pre"):
            self.write(_SPACES.sub(" ", data))
            return
        chunks = data.replace("\r\n", "\n").split("\n")
        for index, chunk in enumerate(chunks):
            if index:
                self.newline()
            self.current.append(chunk.replace("\xa0", " "))

    def render(self) -> str:
        """The collected lines as text: quoted lines prefixed with `>`, blank runs collapsed."""
        self.flush()
        out: list[str] = []
        for depth, text in self.lines:
            line = (">" * depth + " " + text if depth else text).replace("\xa0", " ").rstrip()
            if not text.strip() and out and not out[-1].lstrip(">").strip():
                out[-1] = line if len(line) < len(out[-1]) else out[-1]
                continue
            out.append(line)
        while out and not out[-1].lstrip(">").strip():
            out.pop()
        while out and not out[0].lstrip(">").strip():
            out.pop(0)
        return "\n".join(out)


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
