"""Card numbers out of a whole message: the parsed mail everything downstream uses, and the
raw copy kept once processing is done (invariant 7).

The parsed mail is redacted field by field (subject, text, HTML, text attachments and every
filename), so what is stored, quoted to staff or echoed to the customer is already masked. The raw
copy is rebuilt only when something was found: its header lines are kept as they came, except
those holding a card number, which are re-encoded masked; its body is a fresh MIME body built
from the redacted parts (the original part layout is not kept: a copy that still held the number
in some encoding we failed to rewrite would defeat the point). Numbers inside PDFs and images
cannot be found; they are not text-indexed either.
"""

from __future__ import annotations

import email.header
import email.policy
from dataclasses import dataclass, replace
from email.message import EmailMessage

from gateway.core import cards
from gateway.core.charsets import decode_words
from gateway.core.inline import clean_content_id
from gateway.core.model import ParsedAttachment, ParsedMail

REDACTED_HEADER = "X-Gateway-Redacted"
# Fields that hold only message identifiers, which mail systems make from hex or base64.
_IDENTIFIER_FIELDS = frozenset(
    (b"message-id", b"in-reply-to", b"references", b"resent-message-id", b"content-id")
)
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/csv")


@dataclass(frozen=True)
class CardFinding:
    mail: ParsedMail  # redacted
    found: int = 0  # card numbers masked
    codes: int = 0  # security codes masked

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
    attachments = []
    for item in mail.attachments:
        name = cards.redact_filename(item.filename)
        cid = cards.redact(item.content_id)  # the HTML's cid: references are masked alike
        data, data_found, data_codes = _redact_attachment(item, seen or bool(found))
        found, codes = found + name.found + cid.found + data_found, codes + data_codes
        content_id = clean_content_id(cid.text) if cid.found else item.content_id
        attachments.append(replace(item, filename=name.text, data=data, content_id=content_id))
    if not found and not codes:
        return CardFinding(mail)
    redacted = replace(
        mail, text=text.text, html=html.text, subject=subject.text, attachments=tuple(attachments)
    )
    return CardFinding(redacted, found, codes)


def _redact_attachment(item: ParsedAttachment, seen: bool) -> tuple[bytes, int, int]:
    if not item.content_type.lower().startswith(_TEXT_TYPES):
        return item.data, 0, 0
    # surrogateescape: bytes that are not UTF-8 (a Latin-1 file) come back out unchanged
    text = item.data.decode("utf-8", "surrogateescape")
    if "html" in item.content_type.lower():
        result = cards.redact_html(text, card_seen=seen)
    else:
        result = cards.redact(text, card_seen=seen)
    if not result.found and not result.codes:
        return item.data, 0, 0
    return result.text.encode("utf-8", "surrogateescape"), result.found, result.codes


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
    text = " ".join(decode_words(value.decode("ascii", "surrogateescape")).split())
    identifiers = name.strip().lower() in _IDENTIFIER_FIELDS
    result = cards.redact_identifier(text) if identifiers else cards.redact(text)
    if not result.found:
        return field, 0
    encoded = email.header.Header(result.text, "utf-8", header_name=name.decode()).encode()
    return name + b": " + encoded.encode("ascii") + b"\r\n", result.found


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
