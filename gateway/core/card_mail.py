"""Card numbers out of a whole message: the parsed mail everything downstream uses, and the
raw copy kept once processing is done (invariant 7).

The parsed mail is redacted field by field (subject, text, HTML, every filename, attachments
by card_attachments, a forwarded mail attached whole part by part), so what is stored,
quoted to staff or echoed to the customer is already masked. The raw copy is rebuilt only when
something was found: its header lines are kept as they came, except those holding a card
number, which are re-encoded masked; its body is a fresh MIME body built from the redacted parts
(the original part layout is not kept: a copy that still held the number in some encoding we
failed to rewrite would defeat the point). A PDF or an office document holding a number is not
kept at all; numbers inside images cannot be found.
"""

from __future__ import annotations

import email.header
import email.policy
import re
from dataclasses import dataclass, replace
from email import message_from_bytes
from email.encoders import encode_base64
from email.message import EmailMessage, Message

from gateway.core import cards
from gateway.core.card_attachments import AttachmentScan, redact_attachment
from gateway.core.charsets import decode_bytes, decode_words
from gateway.core.inline import clean_content_id
from gateway.core.model import ParsedAttachment, ParsedMail

REDACTED_HEADER = "X-Gateway-Redacted"
# Fields that hold only message identifiers, which mail systems make from hex or base64.
_IDENTIFIER_FIELDS = frozenset(
    (b"message-id", b"in-reply-to", b"references", b"resent-message-id", b"content-id")
)
_MESSAGE_TYPES = ("message/rfc822", "message/global")
_NO_FILE = ParsedAttachment("", "", b"")
_BOUNDARY = re.compile(r'boundary\s*=\s*(?:"[^"]*"|[^;\s]*)', re.IGNORECASE)


@dataclass(frozen=True)
class CardFinding:
    mail: ParsedMail  # redacted
    found: int = 0  # card numbers masked
    codes: int = 0  # security codes masked
    removed: int = 0  # attachments not kept (a PDF holding a card number)

    @property
    def any(self) -> bool:
        return bool(self.found or self.codes)


def redact_mail(mail: ParsedMail) -> CardFinding:
    """The mail with every card number (and nearby security code) masked, and the counts."""
    text = cards.redact(mail.text)
    html = cards.redact_html(mail.html, card_seen=bool(text.found))
    seen = bool(text.found or html.found)
    subject = cards.redact(mail.subject, card_seen=seen)
    found = text.found + html.found + subject.found
    codes = text.codes + html.codes + subject.codes
    attachments, removed = [], 0
    for item in mail.attachments:
        name = cards.redact_filename(item.filename)
        cid = cards.redact(item.content_id)  # the HTML's cid: references are masked alike
        content_id = clean_content_id(cid.text) if cid.found else item.content_id
        named = replace(item, filename=name.text, content_id=content_id)
        if named.content_type.lower().startswith(_MESSAGE_TYPES):
            scan = _redact_message(named)
        else:
            scan = redact_attachment(named, seen or bool(found))
        found += name.found + cid.found + scan.found
        codes += scan.codes
        removed += scan.removed
        attachments.append(scan.item)
    if not found and not codes:
        return CardFinding(mail)
    redacted = replace(
        mail, text=text.text, html=html.text, subject=subject.text, attachments=tuple(attachments)
    )
    return CardFinding(redacted, found, codes, removed)


def _redact_message(item: ParsedAttachment) -> AttachmentScan:
    """A forwarded mail attached whole: its text and files are also among the outer mail's
    (mail-parser reads nested parts), but the attachment keeps them in their own encodings,
    base64 or quoted-printable, where no scan of the bytes finds a number. Each of its parts,
    nested forwards included, is decoded and masked in place, in one walk with the plain
    (compat32) reading of headers: reading each level again as a whole mail cost seconds at
    40 levels of nesting. A removed PDF inside is counted once, among the outer mail's
    attachments."""
    message = message_from_bytes(item.data, policy=email.policy.compat32)
    found = codes = 0
    for part in message.walk():
        found += _redact_part_headers(part)
        if not part.is_multipart() and not isinstance(part.get_payload(), list):
            scan = _redact_leaf(part, bool(found))
            found, codes = found + scan.found, codes + scan.codes
    if not found and not codes:
        return AttachmentScan(item)
    return AttachmentScan(replace(item, data=message.as_bytes()), found, codes)


def _redact_part_headers(part: Message) -> int:
    found = 0
    for name, value in part.items():
        result = _redact_value(name, value)
        if not result.found:
            continue
        found += result.found
        if name.lower() == "content-type":  # its one free-text parameter is the file's name
            masked = cards.redact_filename(str(part.get_param("name", "")))
            part.set_param("name", masked.text)
        else:  # plain ASCII stays plain: an encoded word in Content-Disposition breaks it
            masked = result.text
            if not masked.isascii():
                masked = email.header.Header(masked, "utf-8").encode()
            part.replace_header(name, masked)
    return found


def _redact_leaf(part: Message, seen: bool) -> AttachmentScan:
    """One part of a forwarded mail, masked in place (a PDF holding a number: replaced)."""
    data = part.get_payload(decode=True) or b""
    kind = part.get_content_type()
    if part.get_content_maintype() == "text" and part.get_filename() is None:
        text = decode_bytes(data, part.get_content_charset())
        html = "html" in kind
        result = (cards.redact_html if html else cards.redact)(text, card_seen=seen)
        if result.found or result.codes:
            _set_payload(part, result.text.encode(), kind, None)
        return AttachmentScan(_NO_FILE, result.found, result.codes)
    scan = redact_attachment(ParsedAttachment(part.get_filename() or "", kind, data), seen)
    if scan.item.data != data:
        _set_payload(part, scan.item.data, scan.item.content_type, scan.item.filename)
    return scan


def _set_payload(part: Message, data: bytes, content_type: str, filename: str | None) -> None:
    """New content for a part, base64 (it may be any bytes), its other headers kept."""
    for name in ("Content-Transfer-Encoding", "Content-Type"):
        del part[name]
    part["Content-Type"] = content_type + (
        "; charset=utf-8" if content_type.startswith("text/") else ""
    )
    if filename:
        part.set_param("name", filename)
        if part["Content-Disposition"] is not None:
            part.set_param("filename", filename, header="Content-Disposition")
    part.set_payload(data)
    encode_base64(part)


def header_cards(raw: bytes) -> int:
    """Card numbers in the header block (a subject, an unusual header) as decoded."""
    return sum(_redact_field(field)[1] for field in _fields(_head(raw)))


def redacted_raw(raw: bytes, mail: ParsedMail) -> bytes:
    """A valid message to keep instead of `raw`: the header lines (masked where needed) over a
    body rebuilt from the redacted `mail`."""
    lines = []
    for field in _fields(_head(raw)):
        name = field.split(b":", 1)[0].strip().lower()
        if name.startswith(b"content-") or name in (
            b"mime-version",
            REDACTED_HEADER.lower().encode(),
        ):
            continue
        lines.append(_redact_field(field)[0])
    lines.append(f"{REDACTED_HEADER}: card numbers masked\r\n".encode())
    return b"".join(lines) + _body(mail)


def _head(raw: bytes) -> bytes:
    for separator in (b"\r\n\r\n", b"\n\n"):
        head, found, _ = raw.partition(separator)
        if found:
            return head + separator[: len(separator) // 2]
    return raw


def _fields(head: bytes) -> list[bytes]:
    """Header fields with their continuation lines, each ending in CRLF."""
    fields: list[bytes] = []
    for line in head.splitlines():
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line + b"\r\n"
        elif line.strip():
            fields.append(line + b"\r\n")
    return fields


def _redact_field(field: bytes) -> tuple[bytes, int]:
    name, _, value = field.partition(b":")
    if not value:
        return field, 0
    result = _redact_value(
        name.decode("ascii", "replace"), value.decode("ascii", "surrogateescape")
    )
    if not result.found:
        return field, 0
    encoded = email.header.Header(result.text, "utf-8", header_name=name.decode()).encode()
    return name + b": " + encoded.encode("ascii") + b"\r\n", result.found


def _redact_value(name: str, value: str) -> cards.Redaction:
    """A header field's value, decoded and masked. A MIME boundary is no one's card: Python's
    email package makes it of 19 random digits, which pass for a card one time in 60."""
    text = " ".join(decode_words(value).split())
    field = name.strip().lower()
    if field == "content-type":
        text = _BOUNDARY.sub("", text)
    if field.encode() in _IDENTIFIER_FIELDS:
        return cards.redact_identifier(text)
    return cards.redact(text)


def _body(mail: ParsedMail) -> bytes:
    """MIME-Version, Content-* headers, a blank line and the body of the redacted parts."""
    message = EmailMessage(policy=email.policy.SMTP)
    message.set_content(mail.text, subtype="plain", charset="utf-8")
    if mail.html:
        message.add_alternative(mail.html, subtype="html", charset="utf-8")
    for item in mail.attachments:
        maintype, _, subtype = item.content_type.partition("/")
        message.add_attachment(
            item.data,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=item.filename,
        )
    return message.as_bytes()
