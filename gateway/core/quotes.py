"""The new text of a reply: what its author wrote, without quoted history or signature.

Strategies combine, strongest first: our own reply marker, HTML quote containers of the common
clients, quote headers ("On ... wrote:") and Outlook header blocks, `>` quoting, then
signatures and phone footers. Answers written between quoted lines are kept; when in doubt we
keep more, and we never return nothing when the author wrote something.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass

from gateway.core import quote_lines as q
from gateway.core.htmltext import HtmlText, Mark, html_to_text, render

REPLY_MARKER = q.REPLY_MARKER
_HISTORY = "\ue000"  # rendered where an HTML client's reply container begins
_QUOTE_PREFIX = re.compile(r"^(?:[ \t]*>)+ ?")
_MAX_SIGNATURE_LINES = 15
_OUTLOOK_IDS = re.compile(r"^(?:x_)*(?:appendonsend|divRplyFwdMsg)$")
_SIGNATURE_CLASSES = {"gmail_signature", "moz-signature"}
_SIGNATURE_IDS = {"ms-outlook-mobile-signature", "Signature", "AppleMailSignature"}


@dataclass(frozen=True)
class NewText:
    """The new text and how it was found, for `explain` and the fixture measurements."""

    text: str
    # marker | html-container | header | header-block | original-message | quote | inline |
    # bottom (answer below the quote) | none (nothing quoted) | all-quoted (full text kept)
    strategy: str
    signature_removed: bool = False


_FORWARD = re.compile(r"^\s*(fwd?|fw|tr|wg|rv|enc|doorst)\s*:", re.IGNORECASE)


def message_text(text: str, html: str, subject: str, *, opens_ticket: bool) -> str:
    """What a message says: the new text of a reply, but the whole text of a new request or a
    forward, where the quoted part is the point (Outlook marks forwards like replies)."""
    if opens_ticket or _FORWARD.match(subject):
        return text.strip() or new_text(text, html)
    return new_text(text, html)


def new_text(text: str, html: str = "") -> str:
    """The author's own words in a reply given as its text and/or HTML body."""
    return extract(text, html).text


def extract(text: str, html: str = "") -> NewText:
    """Like `new_text`, also saying which strategy decided (for `explain` and tests)."""
    found = _found.get((text, html))
    if found is None:
        found = _extract_text(text, html)
        remember(text, html, found)
    return found


# A reply's new text is asked more than once (to store it, to read an answer in it), and the
# parser's process finds it before the processor asks: a few recent answers are kept here.
_found: dict[tuple[str, str], NewText] = {}
_FOUND_KEPT = 8
_found_lock = threading.Lock()  # the processor's threads both read mail


def remember(text: str, html: str, found: NewText) -> None:
    """Keep what `extract(text, html)` gives (found elsewhere, e.g. in the parser's process)."""
    with _found_lock:
        _found[(text, html)] = found
        while len(_found) > _FOUND_KEPT:
            del _found[next(iter(_found))]  # the oldest


def _extract_text(text: str, html: str) -> NewText:
    plain = _normalise(text)
    if not html.strip():
        return _extract(plain.split("\n"), plain)
    rendered = render(html, _QuoteMarks())
    as_text = html_to_text(html)
    if not plain.strip() or plain.strip() == as_text.strip():
        return _extract(rendered.split("\n"), as_text)
    result = _extract(plain.split("\n"), plain)
    if result.strategy == "none":
        from_html = _extract(rendered.split("\n"), plain)
        if from_html.strategy not in ("none", "all-quoted"):
            return from_html
    return result


def is_history_container(tag: str, attrs: dict[str, str]) -> bool:
    """An element where a mail client puts the quoted history or the signature of a reply."""
    ident = attrs.get("id", "") or attrs.get("name", "")
    classes = set(attrs.get("class", "").split())
    return bool(
        (tag == "blockquote" and attrs.get("type") == "cite")
        or _OUTLOOK_IDS.match(ident)
        or ident in _SIGNATURE_IDS
        or classes & (_SIGNATURE_CLASSES | {"gmail_quote", "moz-cite-prefix", "yahoo_quoted"})
    )


class _QuoteMarks(HtmlText):
    """Renders mail clients' quote containers so the line rules below can see them."""

    def mark(self, tag: str, attrs: dict[str, str]) -> Mark:
        found = super().mark(tag, attrs)
        ident = attrs.get("id", "") or attrs.get("name", "")
        classes = set(attrs.get("class", "").split())
        if _OUTLOOK_IDS.match(ident):
            return Mark(quoted=found.quoted, line=_HISTORY)
        if classes & _SIGNATURE_CLASSES or ident in _SIGNATURE_IDS:
            return Mark(quoted=found.quoted, line="-- ")
        if "yahoo_quoted" in classes:
            return Mark(quoted=True)
        return found


def _normalise(text: str) -> str:
    """Unix line ends; our private container mark cannot come from the sender."""
    return text.replace("\r\n", "\n").replace("\r", "\n").replace(_HISTORY, "")


def _depth(line: str) -> int:
    prefix = _QUOTE_PREFIX.match(line)
    return prefix.group(0).count(">") if prefix else 0


def _bodies(lines: list[str]) -> list[str | None]:
    """Each line's stripped text, or None when it is quoted."""
    return [None if _depth(line) else line.strip() for line in lines]


def _extract(lines: list[str], full: str) -> NewText:
    strategy = ""
    for index, line in enumerate(lines):
        if q.is_marker(line):
            lines, strategy = lines[:index], "marker"
            break
    kept, found = _cut_history(lines)
    kept, signed = _strip_signature(kept)
    text = "\n".join(line.rstrip() for line in kept).strip("\n")
    if not text.strip():
        fallback = "\n".join(line.rstrip() for line in full.split("\n")).strip("\n")
        return NewText(fallback, "all-quoted")
    return NewText(text, strategy or found, signed)


def _cut_history(lines: list[str]) -> tuple[list[str], str]:
    """The lines before the quoted history, or the interleaved answers when there are some."""
    bodies = _bodies(lines)
    for index, body in enumerate(bodies):
        if body is None:
            return _after_quote(lines, bodies, index, index, "quote")
        if _HISTORY in body:
            return lines[:index], "html-container"
        if q.is_forward_marker(body):
            break  # a forwarded message is what the author wants us to read
        if q.is_original_separator(body):
            return lines[:index], "original-message"
        if q.is_header_block(bodies, index):
            return lines[:index], "header-block"
        span = q.header_length(bodies, index)
        if span:
            following = next((b for b in bodies[index + span :] if b != ""), "")
            if following is not None:  # history not marked with ">": all of it goes
                return lines[:index], "header"
            start = index + span + bodies[index + span :].index(None)
            return _after_quote(lines, bodies, index, start, "header")
    return lines, "none"


def _after_quote(
    lines: list[str], bodies: list[str | None], start: int, first_quoted: int, kind: str
) -> tuple[list[str], str]:
    """Keep the top, plus any answers the author wrote between or below quoted lines."""
    end = _history_end(lines, bodies, first_quoted)
    answers = [i for i in range(first_quoted, end) if bodies[i] and not _is_noise(bodies, i)]
    quoted = [i for i in range(first_quoted, end) if bodies[i] is None]
    if answers and quoted and answers[0] > quoted[-1] and _is_disclaimer(bodies[answers[0] : end]):
        answers = []  # the company's legal footer below the quote, not an answer
    if not answers:
        return lines[:start], kind
    top_blank = not any(bodies[:start])
    if top_blank and answers[0] > quoted[-1]:
        return lines[quoted[-1] + 1 : end], "bottom"
    return lines[: answers[-1] + 1], "inline"


def _history_end(lines: list[str], bodies: list[str | None], first_quoted: int) -> int:
    """Where unquoted history (an Outlook block) or a trailing signature starts below a quote."""
    signature = _signature_start(lines)
    for index in range(first_quoted, len(lines)):
        body = bodies[index]
        if index == signature:
            return index
        if body and (
            _HISTORY in body or q.is_original_separator(body) or q.is_header_block(bodies, index)
        ):
            return index
    return len(lines)


def _is_disclaimer(bodies: list[str | None]) -> bool:
    """A trailing block that reads like a legal footer: long, but not too long, and worded so.
    A short remark that happens to say "confidential" stays the author's."""
    text = " ".join(body for body in bodies if body)
    return 100 <= len(text) <= 2000 and q.is_disclaimer(text)


def _is_noise(bodies: list[str | None], index: int) -> bool:
    """Unquoted lines below a quote that are not the author's answer."""
    body = bodies[index] or ""
    return q.is_separator(body) or q.is_footer(body) or bool(q.header_length(bodies, index))


def _signature_start(lines: list[str]) -> int | None:
    """The first "-- " line followed, to the end, by a short unquoted block."""
    found, seen = None, 0
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index]
        if _depth(line) or seen > _MAX_SIGNATURE_LINES:
            break
        if q.is_signature_delimiter(line):
            found = index
        seen += bool(line.strip())
    return found


def _strip_signature(lines: list[str]) -> tuple[list[str], bool]:
    """Drop a trailing "-- " signature, phone footers and separator lines."""
    signature = _signature_start(lines)
    end = len(lines) if signature is None else signature
    removed = signature is not None
    while end:
        line = lines[end - 1]
        body = line.strip()
        if _depth(line) or body and not (q.is_footer(body) or q.is_separator(body)):
            break
        removed = removed or q.is_footer(body)
        end -= 1
    return lines[:end], removed
