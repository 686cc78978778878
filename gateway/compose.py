"""Build outgoing MIME messages whose headers cannot be injected.

Every header value that may come from inbound mail (names, subjects, filenames) passes
through `header_text`, and addresses are built with `headerregistry.Address`, which refuses
line breaks (CVE-2024-6923 and RT CVE-2012-4730 are the reasons to be strict).
"""

from __future__ import annotations

import base64
import email.policy
import email.utils
import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.headerregistry import Address, HeaderRegistry
from email.message import EmailMessage

from gateway import mime_writer
from gateway.core import cards
from gateway.core.inline import clean_content_id
from gateway.core.parse import LOOP_HEADER, clean_filename
from gateway.mime_writer import header_text


class _HeaderClasses(HeaderRegistry):
    """The standard registry, but each header class made once: the stock one builds a new
    class with `type()` for every header of every mail, a good part of composing a mail."""

    def __init__(self):
        super().__init__()
        self._made: dict[str, type] = {}

    def __getitem__(self, name: str) -> type:
        key = name.lower()
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = super().__getitem__(name)
        return made


POLICY = email.policy.SMTP.clone(max_line_length=78, header_factory=_HeaderClasses())


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str = ""


@dataclass(frozen=True)
class OutgoingAttachment:
    filename: str
    content_type: str
    data: bytes
    content_id: str = ""
    inline: bool = False  # shown in the HTML part (which names it by `cid:`), not attached


@dataclass(frozen=True)
class Draft:
    """Everything that makes one outgoing mail, before it becomes bytes."""

    from_name: str
    from_address: str
    to: tuple[Recipient, ...]
    subject: str
    text: str
    html: str = ""
    reply_to: str = ""
    in_reply_to: str = ""
    references: tuple[str, ...] = ()
    auto_submitted: str = ""  # "auto-replied", "auto-generated" or "" for human replies
    language: str = ""
    loop_domain: str = ""
    attachments: tuple[OutgoingAttachment, ...] = field(default=())


def new_message_id(domain: str) -> str:
    """128 random bits in lowercase base32: unlike hex, it never holds a run of digits that a
    card-number scanner (ours on replies quoting it, or another system's) could take for a card."""
    return f"<{base64.b32encode(secrets.token_bytes(16)).decode('ascii')[:26].lower()}@{domain}>"


# CPython's folder (3.11 to 3.13 at least) writes an empty line inside an address header
# when a display name holds a word of 78 characters or more: the header block ends there and
# the rest of the headers fall into the body. Such words are cut into pieces that fit a line.
_UNFOLDABLE_WORD = re.compile(r"\S{61,}")


def _foldable(name: str) -> str:
    def cut(word: re.Match) -> str:
        text = word.group()
        return " ".join(text[i : i + 60] for i in range(0, len(text), 60))

    return _UNFOLDABLE_WORD.sub(cut, name)


def _address(email_address: str, name: str = "") -> Address:
    local, _, domain = email_address.partition("@")
    display_name = _foldable(header_text(name, 200))
    return Address(display_name=display_name, username=local, domain=domain)


# What we send is built from inbound text already masked when it arrived, so this guard only
# catches what templates or code add. A card number is 13 or more digits in a few groups; text
# without 13 digits a few characters apart (tags removed) is not scanned: the full scan costs
# about a millisecond a mail, and nearly every mail we send has no such run.
_CARD_LIKE = re.compile(r"\d(?:\D{0,8}\d){12}")
_TAG = re.compile(r"<[^<>]{0,2000}>")


def without_cards(draft: Draft) -> Draft:
    """The last guard of invariant 7 on the way out: inbound text is masked when it arrives,
    and whatever a template or a person added is masked here."""
    html_text = _TAG.sub("", draft.html).replace("&nbsp;", " ") if draft.html else ""
    if not any(_CARD_LIKE.search(part) for part in (draft.text, draft.subject, html_text)):
        return draft
    text = cards.redact(draft.text)
    html = cards.redact_html(draft.html, card_seen=bool(text.found)) if draft.html else None
    subject = cards.redact(draft.subject)
    if not (text.found or text.codes or subject.found or (html and (html.found or html.codes))):
        return draft
    return replace(draft, text=text.text, subject=subject.text, html=html.text if html else "")


def wire_size(text: str, html: str, attachments: tuple[OutgoingAttachment, ...]) -> int:
    """About the bytes a mail of these parts takes on the wire, known before it is rendered:
    base64 makes 4 bytes of 3 in lines of 76 plus CRLF, quoted-printable text a little more,
    and headers and templates a few KiB."""
    files = sum(len(item.data) for item in attachments) * 4 // 3 * 78 // 76
    return (len(text.encode()) + len(html.encode())) * 11 // 10 + files + 8192


def build(draft: Draft, message_id: str, date: datetime) -> bytes:
    """The mail as it goes on the wire; the common kind by the quick writer, the rest (and
    anything it is unsure of) by the standard library."""
    date_text = email.utils.format_datetime(date.astimezone(UTC))
    quick = mime_writer.write(draft, message_id, date_text, LOOP_HEADER)
    return quick if quick is not None else build_with_email_package(draft, message_id, date)


def build_with_email_package(draft: Draft, message_id: str, date: datetime) -> bytes:
    message = EmailMessage(policy=POLICY)
    message["From"] = _address(draft.from_address, draft.from_name)
    message["To"] = [_address(r.email, r.name) for r in draft.to]
    message["Subject"] = header_text(draft.subject, 300)
    message["Date"] = email.utils.format_datetime(date.astimezone(UTC))
    message["Message-ID"] = message_id
    if draft.reply_to:
        message["Reply-To"] = _address(draft.reply_to)
    if draft.in_reply_to:
        message["In-Reply-To"] = draft.in_reply_to
    references = mime_writer.references(draft)
    if references:
        message["References"] = " ".join(references)
    if draft.auto_submitted:
        message["Auto-Submitted"] = draft.auto_submitted
        message["X-Auto-Response-Suppress"] = "All"  # asks Exchange not to answer us
    if draft.loop_domain:
        message[LOOP_HEADER] = draft.loop_domain
    message.set_content(draft.text, subtype="plain", charset="utf-8")
    inline = [a for a in draft.attachments if a.inline and clean_content_id(a.content_id)]
    if draft.html:
        message.add_alternative(draft.html, subtype="html", charset="utf-8")
        _relate(message.get_payload()[-1], inline)
    for item in draft.attachments:
        if draft.html and any(item is shown for shown in inline):
            continue
        maintype, _, subtype = item.content_type.partition("/")
        message.add_attachment(
            item.data,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=header_text(clean_filename(item.filename), 255),
        )
    if draft.language:  # after set_content, which resets Content-* headers
        message["Content-Language"] = draft.language
    return message.as_bytes(policy=POLICY)


def _relate(html_part: EmailMessage, images: list[OutgoingAttachment]) -> None:
    """The HTML part becomes multipart/related(html, images...) so `cid:` finds each image
    (RFC 2387; `type` names the root, which some clients need)."""
    for item in images:
        maintype, _, subtype = item.content_type.partition("/")
        html_part.add_related(
            item.data,
            maintype=maintype,
            subtype=subtype,
            cid=f"<{clean_content_id(item.content_id)}>",
            disposition="inline",
            filename=header_text(clean_filename(item.filename), 255),
        )
    if images:
        html_part.set_param("type", "text/html")
