"""Card numbers in one attachment (invariant 7): masked in text, or the file not kept.

Text is masked in place, whatever the declared type: a `.txt` sent as
`application/octet-stream` is text all the same, known by decoding as UTF-8 with no NUL byte
(binary files almost never do). A PDF or an office document cannot be masked in place: its
text is read (pdf_text, office_text) and, when it holds a card number, the file is replaced by
a short text saying why, so the number is stored nowhere, the masked raw copy included. Images
are not read (no OCR).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from gateway.core import cards
from gateway.core.model import ParsedAttachment
from gateway.core.office_text import looks_like_office, office_text
from gateway.core.pdf_text import looks_like_pdf, pdf_text

_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/csv")
REMOVED_SUFFIX = " - removed.txt"  # the stand-in's name: the file's own, then this
_REMOVED = (
    "{name} was removed before anything was stored: it holds what looks like a payment card "
    "number, which cannot be masked inside a PDF or an office document, and card numbers are "
    "never kept. Ask for the document again without the number.\n"
)


@dataclass(frozen=True)
class AttachmentScan:
    item: ParsedAttachment  # masked, or the stand-in for a removed file
    found: int = 0
    codes: int = 0
    removed: bool = False


def redact_attachment(item: ParsedAttachment, seen: bool) -> AttachmentScan:
    """`seen`: a card number was found elsewhere in the mail, so a lone code is masked too."""
    kind = item.content_type.lower()
    if kind.startswith(_TEXT_TYPES):
        # surrogateescape: bytes that are not UTF-8 (a Latin-1 file) come back out unchanged
        return _redact_text(item, item.data.decode("utf-8", "surrogateescape"), seen)
    if looks_like_pdf(kind, item.filename, item.data):
        read = pdf_text(item.data)
        return _scan_document(item, read.text if read else None, seen)
    if looks_like_office(kind, item.filename, item.data):
        return _scan_document(item, office_text(item.data), seen)
    text = _utf8_text(item.data)
    if text is not None and not kind.startswith(("image/", "audio/", "video/")):
        return _redact_text(item, text, seen)
    return AttachmentScan(item)


def _utf8_text(data: bytes) -> str | None:
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _redact_text(item: ParsedAttachment, text: str, seen: bool) -> AttachmentScan:
    if "html" in item.content_type.lower():
        result = cards.redact_html(text, card_seen=seen)
    else:
        result = cards.redact(text, card_seen=seen)
    if not result.found and not result.codes:
        return AttachmentScan(item)
    data = result.text.encode("utf-8", "surrogateescape")
    return AttachmentScan(replace(item, data=data), result.found, result.codes)


def _scan_document(item: ParsedAttachment, text: str | None, seen: bool) -> AttachmentScan:
    """A PDF or an office document, read as text: one holding a card number is replaced."""
    if text is None:
        return AttachmentScan(item)  # unreadable: nothing to find, as with an image
    result = cards.redact(text, card_seen=seen)
    if not result.found:
        return AttachmentScan(item)  # a code alone, with no card, is nobody's card
    name = item.filename or "attachment"
    stand_in = ParsedAttachment(
        filename=name + REMOVED_SUFFIX,
        content_type="text/plain",
        data=_REMOVED.format(name=name).encode(),
        removed=True,
    )
    return AttachmentScan(stand_in, result.found, result.codes, removed=True)
