"""Broken mail over real SMTP: every malformed message is acknowledged only once stored, then
becomes a ticket or is held with a reason, with its defects flagged; nothing crashes the
listener or the processor, and the next message is served as usual."""

from __future__ import annotations

import json
import re

import pytest
from conftest import add_contact, mail
from sqlmodel import func, select

from gateway.store.tables import Inbound, Message, Quarantine, Ticket

ALICE = "alice@customer.example"
SUPPORT = "support@support.example"

HEADERS = {
    "From": b"Alice <alice@customer.example>",
    "To": b"support@support.example",
    "Subject": b"Printer on fire",
    "Date": b"Mon, 23 Nov 2026 09:00:00 +0000",
    "Message-ID": b"<bad-input-1@customer.example>",
}


def raw_mail(body: bytes | None = b"It is on fire.\r\n", drop=(), **changes: bytes) -> bytes:
    """A message as bytes; `changes` replace or add headers (underscores become dashes)."""
    headers = {name: value for name, value in HEADERS.items() if name not in drop}
    headers.update({name.replace("_", "-"): value for name, value in changes.items()})
    head = b"".join(name.encode() + b": " + value + b"\r\n" for name, value in headers.items())
    return head if body is None else head + b"\r\n" + body


def multipart(boundary: bytes, parts: list[bytes], closed: bool = True) -> bytes:
    body = b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts)
    return body + (b"--" + boundary + b"--\r\n" if closed else b"")


MIXED = b'multipart/mixed; boundary="b0undary"'
TEXT_PART = b"Content-Type: text/plain; charset=utf-8\r\n\r\nSee the attached photo."
PHOTO_BAD_BASE64 = (
    b'Content-Type: image/jpeg; name="fire.jpg"\r\n'
    b'Content-Disposition: attachment; filename="fire.jpg"\r\n'
    b"Content-Transfer-Encoding: base64\r\n\r\n"
    b"%%% this is not base64 at all ***"
)


def send_raw(gw, raw: bytes, mail_from=ALICE, to=(SUPPORT,)) -> tuple[int, bytes]:
    with gw.smtp() as client:
        client.ehlo()
        client.mail(mail_from)
        for rcpt in to:
            assert client.rcpt(rcpt)[0] == 250
        return client.data(raw)


def inbound_id(reply: bytes) -> int:
    return int(re.search(rb"#(\d+)", reply).group(1))


def outcome(db, inbound: int) -> tuple[Inbound, Message | None, Quarantine | None]:
    with db.read() as session:
        row = session.get(Inbound, inbound)
        message = session.exec(select(Message).where(Message.inbound_id == inbound)).first()
        held = session.exec(select(Quarantine).where(Quarantine.inbound_id == inbound)).first()
    return row, message, held


def count(db, table) -> int:
    with db.read() as session:
        return session.exec(select(func.count()).select_from(table)).one()


# (case id, raw bytes, defect flag expected on the stored message, text expected in the body)
TICKET_CASES = [
    ("no-message-id", raw_mail(drop=["Message-ID"]), "no-message-id", "It is on fire."),
    ("no-date", raw_mail(drop=["Date"]), "no-date", "It is on fire."),
    ("bad-date", raw_mail(Date=b"yesterday-ish"), "bad-date", "It is on fire."),
    (
        "unterminated-multipart",
        raw_mail(
            body=multipart(b"b0undary", [TEXT_PART, PHOTO_BAD_BASE64[:60]], closed=False),
            MIME_Version=b"1.0",
            Content_Type=MIXED,
        ),
        "CloseBoundaryNotFoundDefect",
        "See the attached photo.",
    ),
    (
        "bad-base64-body",
        raw_mail(
            body=b"!!!not base64@@@ SGVsbG8=x\r\n",
            MIME_Version=b"1.0",
            Content_Type=b"text/plain; charset=utf-8",
            Content_Transfer_Encoding=b"base64",
        ),
        "InvalidBase64LengthDefect",
        "",
    ),
    (
        "bad-base64-attachment",
        raw_mail(
            body=multipart(b"b0undary", [TEXT_PART, PHOTO_BAD_BASE64]),
            MIME_Version=b"1.0",
            Content_Type=MIXED,
        ),
        "bad-attachment-encoding",
        "See the attached photo.",
    ),
    (
        "unknown-charset",
        raw_mail(
            body="Le café est fermé.\r\n".encode(),
            MIME_Version=b"1.0",
            Content_Type=b'text/plain; charset="x-klingon-9"',
            Content_Transfer_Encoding=b"8bit",
        ),
        "CharsetDecodeDefect",
        "Le café est fermé.",
    ),
    (
        "charset-says-utf8-bytes-are-latin1",
        raw_mail(
            body="Le café est fermé.\r\n".encode("latin-1"),
            MIME_Version=b"1.0",
            Content_Type=b'text/plain; charset="utf-8"',
            Content_Transfer_Encoding=b"8bit",
        ),
        "CharsetDecodeDefect",
        "est ferm",
    ),
    (
        "charset-says-ascii-bytes-are-utf8",
        raw_mail(
            body="Le café est fermé.\r\n".encode(),
            MIME_Version=b"1.0",
            Content_Type=b'text/plain; charset="us-ascii"',
            Content_Transfer_Encoding=b"7bit",
        ),
        "CharsetDecodeDefect",
        "est ferm",
    ),
    ("nul-bytes", raw_mail(body=b"It is\x00 on fire.\x00\r\n"), "nul-bytes", "It is on fire."),
    (
        "nul-in-headers",
        raw_mail(Subject=b"Printer\x00 on fire", Message_ID=b"<nul\x00id@customer.example>"),
        "nul-bytes",
        "It is on fire.",
    ),
    ("empty-body", raw_mail(body=b""), None, ""),
    ("header-only", raw_mail(body=None), None, ""),
    (
        "8bit-headers",
        raw_mail(
            From="Élodie Crème <alice@customer.example>".encode(),
            Subject="Caf\xe9 \xff down: ".encode("latin-1") + "été".encode(),
            Message_ID="<\xe9t\xe9@customer.example>".encode("latin-1"),
        ),
        None,
        "It is on fire.",
    ),
]


@pytest.fixture
def gw(gateway):
    add_contact(gateway.db, ALICE, name="Alice")
    return gateway


def assert_still_serving(gw) -> None:
    """The same listener takes and tickets an ordinary message after the bad one."""
    tickets_before = count(gw.db, Ticket)
    code, _ = gw.send(mail(subject="Ordinary follow-up", body="All good."))
    assert code == 250
    gw.settle()
    assert count(gw.db, Ticket) == tickets_before + 1


@pytest.mark.parametrize(
    "raw, flag, text", [c[1:] for c in TICKET_CASES], ids=[c[0] for c in TICKET_CASES]
)
def test_broken_mail_from_contact_becomes_a_ticket_with_its_defects(gw, raw, flag, text):
    code, reply = send_raw(gw, raw)
    assert code == 250, reply
    gw.settle()

    row, message, held = outcome(gw.db, inbound_id(reply))
    assert row.raw == raw  # the bytes as received, for replay
    assert row.status == "done", row.error
    assert held is None
    assert message is not None, "no ticket message was stored"
    if flag:
        assert flag in message.flags.split(","), message.flags
    assert text in message.body_text
    assert "\x00" not in message.body_text + message.subject + message.message_id
    with gw.db.read() as session:
        ticket = session.get(Ticket, message.ticket_id)
    assert ticket.status == "new"
    assert len(gw.sink.to(ALICE)) == 1  # confirmed like any request
    assert_still_serving(gw)


HELD_CASES = [
    ("no-from", raw_mail(drop=["From"]), "no-single-sender"),
    (
        "several-from",
        raw_mail(From=b"alice@customer.example, bob@customer.example"),
        "no-single-sender",
    ),
    ("unparseable-from", raw_mail(From=b"<<<@@@>>>"), "no-single-sender"),
]


@pytest.mark.parametrize("raw, reason", [c[1:] for c in HELD_CASES], ids=[c[0] for c in HELD_CASES])
def test_mail_without_one_author_is_held_with_a_reason(gw, raw, reason):
    code, reply = send_raw(gw, raw)
    assert code == 250, reply
    gw.settle()

    row, message, held = outcome(gw.db, inbound_id(reply))
    assert row.status == "done", row.error
    assert message is None and count(gw.db, Ticket) == 0
    assert held is not None and held.reason == reason
    assert gw.sink.received == []  # nobody to answer, and no guessing at an author
    assert_still_serving(gw)


def test_8bit_sender_address_from_a_stranger_is_held(gw):
    raw = raw_mail(From="Zoë <zo\xeb@stranger.example>".encode("latin-1"))
    code, reply = send_raw(gw, raw, mail_from="zoe@stranger.example")
    assert code == 250, reply
    gw.settle()
    row, message, held = outcome(gw.db, inbound_id(reply))
    assert row.status == "done", row.error
    assert message is None and held is not None
    assert_still_serving(gw)


def test_missing_message_id_is_generated_and_a_resend_is_recorded_once(gw):
    raw = raw_mail(drop=["Message-ID"])
    first = send_raw(gw, raw)
    second = send_raw(gw, raw)
    assert first[0] == second[0] == 250
    assert inbound_id(first[1]) == inbound_id(second[1])
    gw.settle()

    with gw.db.read() as session:
        [row] = session.exec(select(Inbound)).all()
        [message] = session.exec(select(Message)).all()
    assert row.message_id_generated
    assert re.fullmatch(r"<[0-9a-f]{32}@generated\.support\.example>", row.message_id)
    assert message.message_id == row.message_id
    assert "no-message-id" in message.flags.split(",")
    assert count(gw.db, Ticket) == 1
    assert len(gw.sink.to(ALICE)) == 1
    # The confirmation threads under the generated id, so a reply to it still finds the ticket.
    assert gw.sink.to(ALICE)[0].message["In-Reply-To"] == row.message_id


def test_two_different_mails_without_message_id_are_two_tickets(gw):
    send_raw(gw, raw_mail(drop=["Message-ID"], Subject=b"First"))
    send_raw(gw, raw_mail(drop=["Message-ID"], Subject=b"Second"))
    gw.settle()
    with gw.db.read() as session:
        subjects = sorted(t.subject for t in session.exec(select(Ticket)))
    assert subjects == ["First", "Second"]


def test_many_broken_mails_on_one_connection_leave_the_listener_serving(gw):
    """One SMTP session, every bad case back to back (RSET between), then a normal mail."""
    cases = [c[1] for c in TICKET_CASES] + [c[1] for c in HELD_CASES]
    with gw.smtp() as client:
        client.ehlo()
        for raw in cases:
            client.mail(ALICE)
            client.rcpt(SUPPORT)
            code, reply = client.data(raw)
            assert code == 250, reply
            client.rset()
    gw.settle()
    with gw.db.read() as session:
        statuses = [r.status for r in session.exec(select(Inbound))]
        errors = [r.error for r in session.exec(select(Inbound)) if r.error]
    assert statuses and set(statuses) == {"done"}, errors
    assert_still_serving(gw)


def test_held_list_shows_mail_without_an_author(gw, tmp_path):
    """`gateway held list --json` names the reason a message with no From was held."""
    from gateway import cli

    send_raw(gw, raw_mail(drop=["From"]))
    gw.settle()
    config = tmp_path / "held.toml"
    config.write_text(f'[database]\nurl = "{gw.config.database.url}"\n')
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert cli.main(["--config", str(config), "held", "list", "--json"]) == 0
    [entry] = json.loads(out.getvalue())
    assert entry["reason"] == "no-single-sender"
