"""One fuzz target shared by the test suite and `scripts/fuzz`: raw bytes through parse ->
new text -> card redaction -> threading -> decide -> an outgoing mail built from the parsed
values. Any exception is a bug; so is a header in our output that we did not put there."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

from gateway import compose
from gateway.core import cards, quotes, threads
from gateway.core.decide import decide
from gateway.core.model import (
    AutoMailHistory,
    Candidates,
    ContactInfo,
    DecisionInput,
    Envelope,
    Policy,
    Sender,
    SenderKind,
)
from gateway.core.parse import parse

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CONTACT = ContactInfo(1, "alice@customer.example", "Alice", 1, "owner", "en")
EXPECTED_HEADERS = {
    "from", "to", "subject", "date", "message-id", "reply-to", "in-reply-to", "references",
    "auto-submitted", "x-auto-response-suppress", "x-gateway-loop", "mime-version",
    "content-type", "content-transfer-encoding", "content-language",
}  # fmt: skip


def run_one(raw: bytes) -> None:
    mail = parse(raw, "<fuzz@support.example>")
    quotes.extract(mail.text, mail.html)
    cards.redact(mail.text)
    cards.redact_html(mail.html)
    for attachment in mail.attachments:
        cards.redact_filename(attachment.filename)
    envelope = Envelope("alice@customer.example", ("support@support.example",))
    keys = threads.keys_for(mail, envelope.rcpt_tos, "support@support.example", "VB")
    now = datetime(2026, 11, 23, tzinfo=UTC)
    decide(
        DecisionInput(
            mail=mail, envelope=envelope,
            sender=Sender(SenderKind.CONTACT, CONTACT.email, contact=CONTACT),
            keys=keys, candidates=Candidates(), history=AutoMailHistory(), policy=Policy(),
            now=now,
        )
    )  # fmt: skip
    name = mail.sender.name if mail.sender else ""
    draft = compose.Draft(
        from_name=name or "Support", from_address="support@support.example",
        to=(compose.Recipient("alice@customer.example", name),),
        subject=f"[VB #1] {mail.subject}", text=mail.text or "-",
        in_reply_to=mail.message_id, references=mail.references,
        attachments=tuple(
            compose.OutgoingAttachment(a.filename, "application/octet-stream", a.data[:100])
            for a in mail.attachments[:3]
        ),
    )  # fmt: skip
    built = message_from_bytes(
        compose.build(draft, "<out@support.example>", now), policy=policy.SMTP
    )
    unexpected = {k.lower() for k in built} - EXPECTED_HEADERS
    assert not unexpected, f"header injected into our mail: {unexpected}"


def seeds() -> list[bytes]:
    """Real-looking inputs to mutate: every fixture message, plus the regression crashers."""
    found = [p.read_bytes() for p in sorted((FIXTURES / "fuzz").glob("*.eml"))]
    for path in sorted((FIXTURES / "replies").glob("*")):
        if path.suffix in (".txt", ".html"):
            kind = "html" if path.suffix == ".html" else "plain"
            body = path.read_bytes()
            found.append(
                b"From: a@b.example\r\nSubject: seed\r\nContent-Type: text/" + kind.encode()
                + b"; charset=utf-8\r\n\r\n" + body
            )  # fmt: skip
    return found or [b"From: a@b.example\r\n\r\nhello"]


INSERTS = [
    b"\r\n", b"\n--", b"=?utf-8?q?=0A?=", b"\x00", b"=\r\n", b"\xff\xfe", b"<", b'"', b"\\",
    b"\r\nContent-Type: multipart/mixed; boundary=x\r\n", b"=?x?b?////?=",
]  # fmt: skip


def mutate(data: bytes, rng: random.Random) -> bytes:
    """A few byte-level edits of the kinds that break parsers."""
    data = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        choice = rng.random()
        position = rng.randrange(len(data) + 1)
        if choice < 0.3 and data:
            data[min(position, len(data) - 1)] = rng.randrange(256)
        elif choice < 0.5:
            data[position:position] = rng.choice(INSERTS)
        elif choice < 0.7 and data:
            del data[position : position + rng.randint(1, 40)]
        else:
            start = rng.randrange(len(data) + 1)
            data[position:position] = data[start : start + rng.randint(1, 200)]
    return bytes(data)
