"""Write the common outgoing mail (text, with an optional HTML alternative) straight to bytes.

Nearly every mail the gateway sends is a confirmation, a notification or a reply: a text part,
perhaps an HTML one, ASCII addresses. The standard library's `EmailMessage` builds a header
object per header and refolds each one while writing, about 3 ms a mail; this writer does
the same job in a tenth of that. Anything unusual (attachments, inline images, an address
that is not plain ASCII dot-atoms) returns None and goes the standard library's way.

What goes in is made clean: header text goes through `header_text` (no line breaks, no
literal encoded-word openers), and addresses must match a strict pattern, so nothing
a sender wrote can become a header of its own. A test checks that the standard library reads
back what this writes exactly as it reads its own output.
"""

from __future__ import annotations

import base64
import quopri
import re
import secrets
from typing import TYPE_CHECKING

from gateway.core.parse import clean_line

if TYPE_CHECKING:
    from gateway.compose import Draft

LINE = 78  # RFC 5322's recommended line length
_ENCODED_CHUNK = 45  # bytes of text per encoded word: 60 base64 characters, 72 with its frame
_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                      r"@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*")  # fmt: skip
_ATEXT = r"A-Za-z0-9!#$%&'*+/=?^_`{|}~-"  # RFC 5322 atext
_ATOMS = re.compile(f"[ {_ATEXT}]*")  # a phrase that needs no quotes
_ATOM = re.compile(f"[{_ATEXT}]+")
_MSG_ID = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]+>")  # RFC 5322 msg-id, no spaces or brackets


def header_text(value: str, limit: int) -> str:
    """One line of text for a header, with literal encoded-word openers broken up.

    CPython before the CVE-2024-6923 fix decodes "=?...?=" found in plain header text while
    folding, so a decoded subject like "=?x?q?hi=0ABcc:_victim?=" came out as a Bcc header
    (found by `scripts/fuzz`). A space after "=" keeps the text readable and inert.
    """
    return clean_line(value, limit).replace("=?", "= ?")


def plain_address(address: str) -> bool:
    return bool(_ADDRESS.fullmatch(address))


def _encoded_words(text: str) -> list[str]:
    """RFC 2047 base64 words of at most 75 characters, split between characters."""
    words, chunk, size = [], [], 0
    for char in text:
        length = len(char.encode("utf-8"))
        if size + length > _ENCODED_CHUNK:
            words.append("".join(chunk))
            chunk, size = [], 0
        chunk.append(char)
        size += length
    if chunk:
        words.append("".join(chunk))
    return [f"=?utf-8?b?{base64.b64encode(w.encode('utf-8')).decode('ascii')}?=" for w in words]


def _phrase_words(text: str) -> list[str]:
    """Unstructured header text as foldable words: ASCII words as they are, each run of other
    words (and the spaces inside it) as encoded words, which readers join back up."""
    words: list[str] = []
    run: list[str] = []
    for word in text.split(" "):
        if word.isascii():
            if run:
                words += _encoded_words(" ".join(run))
                run = []
            words.append(word)
        else:
            run.append(word)
    if run:
        words += _encoded_words(" ".join(run))
    return words


def _name_words(name: str) -> list[str] | None:
    """A display name as words: atoms as they are, each run of anything else as one encoded
    word. Readers of addresses differ on two encoded words side by side (some join them,
    others put a space between), so a run too long for one encoded word returns None."""
    words: list[str] = []
    run: list[str] = []
    for word in [*name.split(" "), None]:
        if word is None or _ATOM.fullmatch(word):
            if run:
                encoded = _encoded_words(" ".join(run))
                if len(encoded) > 1:
                    return None
                words += encoded
                run = []
            if word is not None:
                words.append(word)
        else:
            run.append(word)
    return words


def _fold(name: str, words: list[str]) -> str:
    """`Name: word word ...`, broken before a word that would pass 78 characters."""
    line = f"{name}: {words[0]}" if words else f"{name}:"
    lines = []
    for word in words[1:]:
        if len(line) + 1 + len(word) > LINE:
            lines.append(line)
            line = " " + word
        else:
            line += " " + word
    lines.append(line)
    return "\r\n".join(lines)


def _mailbox(name: str, address: str) -> list[str] | None:
    """`Name <address>` as foldable words (a quoted name is one word), or None."""
    if not name:
        return [address]
    if name.isascii():
        if _ATOMS.fullmatch(name):
            return [*name.split(" "), f"<{address}>"]
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        return [f'"{quoted}"', f"<{address}>"]
    words = _name_words(name)
    return None if words is None else [*words, f"<{address}>"]


def _address_list(mailboxes: list[list[str] | None]) -> list[str] | None:
    """The words of several mailboxes, a comma after each but the last."""
    if any(words is None for words in mailboxes):
        return None
    words: list[str] = []
    for index, mailbox in enumerate(mailboxes):
        words += mailbox[:-1] + [mailbox[-1] + ("," if index < len(mailboxes) - 1 else "")]
    return words


def _body(text: str) -> tuple[str, bytes]:
    """The transfer encoding and the encoded body, lines ending in CRLF, as EmailMessage picks:
    7bit for short ASCII lines, 8bit for short lines, quoted-printable otherwise."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.endswith("\n"):
        text += "\n"
    data = text.encode("utf-8")
    longest = max((len(line) for line in data.split(b"\n")), default=0)
    if longest <= LINE * 12:  # 936 < the 998 octets RFC 5321 allows on a line
        return ("7bit" if data.isascii() else "8bit"), data.replace(b"\n", b"\r\n")
    encoded = quopri.encodestring(data)
    return "quoted-printable", encoded.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _part(subtype: str, text: str) -> tuple[list[str], bytes]:
    encoding, body = _body(text)
    return [f'Content-Type: text/{subtype}; charset="utf-8"',
            f"Content-Transfer-Encoding: {encoding}"], body  # fmt: skip


def write(draft: Draft, message_id: str, date: str, loop_header: str) -> bytes | None:
    """The draft as bytes, or None when it is not the common kind this writer knows."""
    if draft.attachments or not message_id_ok(message_id):
        return None
    addresses = [draft.from_address, *(r.email for r in draft.to)]
    if draft.reply_to:
        addresses.append(draft.reply_to)
    thread = references(draft)
    if not all(map(plain_address, addresses)) or not all(map(message_id_ok, thread)):
        return None
    sender = _address_list([_mailbox(header_text(draft.from_name, 200), draft.from_address)])
    to = _address_list([_mailbox(header_text(r.name, 200), r.email) for r in draft.to])
    if sender is None or to is None:
        return None
    lines = [
        _fold("From", sender),
        _fold("To", to),
        _fold("Subject", _phrase_words(header_text(draft.subject, 300))),
        f"Date: {date}",
        f"Message-ID: {message_id}",
    ]
    if draft.reply_to:
        lines.append(f"Reply-To: {draft.reply_to}")
    if draft.in_reply_to:
        lines.append(f"In-Reply-To: {draft.in_reply_to}")
    if thread:
        lines.append(_fold("References", thread))
    if draft.auto_submitted:
        lines += [f"Auto-Submitted: {draft.auto_submitted}", "X-Auto-Response-Suppress: All"]
    if draft.loop_domain:
        lines.append(f"{loop_header}: {header_text(draft.loop_domain, 200)}")
    lines.append("MIME-Version: 1.0")
    language = [f"Content-Language: {header_text(draft.language, 35)}"] if draft.language else []
    if not draft.html:
        part_headers, body = _part("plain", draft.text)
        return _head(lines + part_headers + language) + body
    parts = [_part("plain", draft.text), _part("html", draft.html)]
    boundary = "=_" + secrets.token_hex(16)
    while any(boundary.encode() in body for _, body in parts):  # all but impossible
        boundary = "=_" + secrets.token_hex(16)
    lines.append(f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"')
    out = [_head(lines + language)]
    for part_headers, body in parts:
        out += [f"--{boundary}\r\n".encode("ascii"), _head(part_headers), body, b"\r\n"]
    out.append(f"--{boundary}--\r\n".encode("ascii"))
    return b"".join(out)


def message_id_ok(value: str) -> bool:
    return len(value) <= 900 and bool(_MSG_ID.fullmatch(value))


def references(draft: Draft) -> list[str]:
    """The References a reply carries: the thread so far, then the message answered, at most 20."""
    found = [r for r in draft.references if r]
    if draft.in_reply_to and draft.in_reply_to not in draft.references:
        found.append(draft.in_reply_to)
    return found[-20:]


def _head(lines: list[str]) -> bytes:
    """A header block; non-ASCII text never reaches here (it was encoded), so ASCII is safe."""
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")
