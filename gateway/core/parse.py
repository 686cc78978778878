"""Turn raw bytes into a `ParsedMail`, whatever state the bytes are in.

mail-parser does the MIME walk and charset decoding; this module adds what decisions need
(single author, threading headers, automatic-mail signals) and records defects instead of
failing. Every string that leaves here is free of control characters that could smuggle
headers into mail we send later.
"""

from __future__ import annotations

import base64
import binascii
import email.policy
import email.utils
import re
from datetime import UTC, datetime

import mailparser

from gateway.core import author, border
from gateway.core.charsets import decode_seven_bit, decode_words
from gateway.core.htmltext import html_to_text
from gateway.core.inline import clean_content_id
from gateway.core.model import Address, AutoSignals, ParsedAttachment, ParsedMail

LOOP_HEADER = "X-Gateway-Loop"
# Control characters are never valid in a msg-id (RFC 5322 3.6.4); a NUL would also be
# refused by PostgreSQL and turn every delivery attempt into a 451.
_MSGID = re.compile(r"<[^<>\s\x00-\x1f\x7f]{1,900}>")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u0085\u2028\u2029]")
_MAX_SUBJECT = 500


def clean_line(value: str, limit: int = _MAX_SUBJECT) -> str:
    """One safe line: control characters and line breaks become spaces, length bounded."""
    value = _CONTROL.sub(" ", value.replace("\r", " ").replace("\n", " "))
    return " ".join(value.split())[:limit]


def clean_text(value: str) -> str:
    """Body text: NULs and other control characters removed, line breaks normalised."""
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", value)


def message_ids(value: str) -> tuple[str, ...]:
    """All `<id>` tokens in a header value (In-Reply-To, References), in order."""
    return tuple(dict.fromkeys(_MSGID.findall(value or "")))


def parse(raw: bytes, message_id: str) -> ParsedMail:
    """Parse `raw`; `message_id` is the one intake recorded (generated if the mail had none)."""
    defects: list[str] = []
    if b"\x00" in raw:
        defects.append("nul-bytes")
        raw = raw.replace(b"\x00", b"")
    try:
        mail = mailparser.parse_from_bytes(raw)
    except Exception as error:  # mail-parser has crashed on malformed MIME (found by fuzzing)
        defects.append(f"mailparser-failed:{type(error).__name__}")
        mail = _PlainWalk(raw)
    message = mail.message
    removed = border.strip_internal(message) if message is not None else ()
    defects.extend(_defect_names(mail, message))
    headers = {k.lower(): str(v) for k, v in message.items()} if message is not None else {}
    if "message-id" not in headers:
        defects.append("no-message-id")
    date = _date(headers.get("date", ""))
    if date is None:
        defects.append("no-date" if "date" not in headers else "bad-date")
    from_values = _texts(message.get_all("from", []) if message is not None else [])
    from_addresses = _addresses(from_values)
    if from_addresses and author.ambiguous(from_values, from_addresses):
        defects.append("ambiguous-from")  # held as having no single sender
        from_addresses = ()
    elif len(from_addresses) != 1:
        defects.append("no-from" if not from_addresses else "several-from")
    text = clean_text("\n".join(decode_seven_bit(mail.text_plain or [], message, "plain")))
    html = clean_text("\n".join(decode_seven_bit(mail.text_html or [], message, "html")))
    if not text.strip() and html.strip():
        text = html_to_text(html)
    return ParsedMail(
        message_id=message_id,
        from_addresses=from_addresses,
        to=_addresses(message.get_all("to", []) if message is not None else []),
        cc=_addresses(message.get_all("cc", []) if message is not None else []),
        subject=clean_line(
            decode_words(message.get("subject", "")) if message is not None else mail.subject or ""
        ),
        date=date,
        in_reply_to=message_ids(headers.get("in-reply-to", "")),
        references=message_ids(headers.get("references", "")),
        text=text.strip("\n"),
        html=html,
        attachments=_attachments(mail.attachments or [], defects),
        auto=_auto_signals(headers),
        received_count=len(message.get_all("received", [])) if message is not None else 0,
        defects=tuple(defects),
        auth_results=tuple(
            clean_line(str(v), 2000)
            for v in (message.get_all("authentication-results", []) if message is not None else [])
        ),
        removed_headers=removed,
        **_structure(message),
    )


class _PlainWalk:
    """What `parse` needs from mail-parser, read with the standard library alone: the
    fallback when mail-parser fails on a damaged message, so nothing is lost."""

    def __init__(self, raw: bytes):
        self.message = email.message_from_bytes(raw, policy=email.policy.compat32)
        self.subject = ""
        self.defects_categories: set[str] = set()
        self.text_plain, self.text_html, self.attachments = [], [], []
        for part in self.message.walk():
            if part.is_multipart():
                continue
            payload = part.get_payload(decode=True) or b""
            charset = part.get_content_charset() or "utf-8"
            try:
                text = payload.decode(charset, "replace")
            except LookupError:
                text = payload.decode("utf-8", "replace")
            if part.get_filename() or part.get_content_maintype() not in ("text", ""):
                self.attachments.append({
                    "filename": part.get_filename() or "", "binary": False, "payload": "",
                    "mail_content_type": part.get_content_type(), "data": payload,
                    "content-id": str(part.get("content-id", "")),
                    "content-disposition": str(part.get("content-disposition", "")),
                })  # fmt: skip
            elif part.get_content_subtype() == "html":
                self.text_html.append(text)
            else:
                self.text_plain.append(text)


def _structure(message) -> dict[str, int]:
    """Part count and nesting depth, walked without recursion (hostile mail nests deep)."""
    if message is None:
        return {"part_count": 0, "depth": 0}
    count, deepest, stack = 0, 0, [(message, 1)]
    while stack:
        part, level = stack.pop()
        count, deepest = count + 1, max(deepest, level)
        payload = part.get_payload()
        if part.is_multipart() and isinstance(payload, list):
            stack.extend((child, level + 1) for child in payload)
    return {"part_count": count, "depth": deepest}


def _defect_names(mail, message) -> list[str]:
    """mailparser's defect list, plus those the stdlib finds only while decoding a body
    (bad base64), which it attaches to the part after mailparser has collected its list."""
    names = set(mail.defects_categories or ())
    if message is not None:
        names.update(type(d).__name__ for part in message.walk() for d in part.defects)
    return sorted(names)


def _texts(values: list) -> list[str]:
    """Raw 8-bit values arrive as Header objects; encoded words stay as they are (they are
    decoded per display name, after the address list is split, so an encoded comma cannot
    split an address)."""
    return [v if isinstance(v, str) else decode_words(v) for v in values]


def _addresses(values: list) -> tuple[Address, ...]:
    found = []
    for name, addr in email.utils.getaddresses(_texts(values)):
        addr = addr.strip().lower()
        if addr.count("@") == 1 and not _CONTROL.search(addr) and " " not in addr:
            found.append(Address(name=clean_line(decode_words(name), 200), email=addr))
    return tuple(found)


def _date(value: str) -> datetime | None:
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _attachments(items: list[dict], defects: list[str]) -> tuple[ParsedAttachment, ...]:
    found = []
    for item in items:
        payload = item.get("payload") or ""
        if "data" in item:  # already decoded (the standard-library fallback)
            data = item["data"]
        elif item.get("binary"):
            data = _base64(payload, defects)
        else:
            data = payload.encode("utf-8", "replace")
        content_id = clean_content_id(item.get("content-id") or "")
        disposition = str(item.get("content-disposition") or "").partition(";")[0]
        disposition = disposition.strip().lower()
        found.append(
            ParsedAttachment(
                filename=clean_filename(item.get("filename") or ""),
                content_type=clean_line(item.get("mail_content_type") or "", 200)
                or "application/octet-stream",
                data=data,
                content_id=content_id,
                # A part of multipart/related often names no disposition (RFC 2387 3.1).
                inline=disposition == "inline" or (not disposition and bool(content_id)),
            )
        )
    return tuple(found)


def _base64(payload: str, defects: list[str]) -> bytes:
    """Strict decode to notice damage, then the lenient decode mail clients show anyway."""
    compact = "".join(payload.split())
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        defects.append("bad-attachment-encoding")
    try:
        return base64.b64decode(compact)
    except (binascii.Error, ValueError):
        return payload.encode("utf-8", "replace")


def clean_filename(name: str) -> str:
    """A display name safe to show and to put in a header: no paths, controls or bidi tricks."""
    name = re.sub(r"[\u202a-\u202e\u2066-\u2069\u200e\u200f]", "", clean_line(name, 1000))
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip(" .")
    return name[:255] or "attachment"


def _auto_signals(headers: dict[str, str]) -> AutoSignals:
    autoreply = any(h in headers for h in ("x-autoreply", "x-autorespond", "x-autogenerated"))
    return AutoSignals(
        auto_submitted=headers.get("auto-submitted", "").strip().lower(),
        precedence=headers.get("precedence", "").strip().lower(),
        list_id=clean_line(headers.get("list-id", ""), 200),
        x_autoreply=autoreply,
        auto_response_suppress=headers.get("x-auto-response-suppress", "").strip().lower(),
        loop_header=LOOP_HEADER.lower() in headers,
    )
