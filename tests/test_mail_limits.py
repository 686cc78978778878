"""Limits on message structure and parsing: what exceeds them is held with the reason, the
sender is told in plain words, and the rest of the queue goes on."""

from __future__ import annotations

from conftest import add_contact, mail
from sqlmodel import func, select

from gateway.core.model import Envelope
from gateway.intake import RawMail, accept
from gateway.store.tables import Inbound, Quarantine, Ticket


def multipart(parts: int) -> bytes:
    body = "".join(f"--B\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n" for i in range(parts))
    return (
        "From: alice@customer.example\r\nTo: support@support.example\r\nSubject: Many parts\r\n"
        "Message-ID: <parts@customer.example>\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: multipart/mixed; boundary=B\r\n\r\n{body}--B--\r\n"
    ).encode()


def nested(levels: int) -> bytes:
    head = "".join(
        f'Content-Type: multipart/mixed; boundary="L{i}"\r\n\r\n--L{i}\r\n' for i in range(levels)
    )
    tail = "".join(f"\r\n--L{i}--" for i in reversed(range(levels)))
    return (
        "From: alice@customer.example\r\nTo: support@support.example\r\nSubject: Deep\r\n"
        f"Message-ID: <deep@customer.example>\r\nMIME-Version: 1.0\r\n{head}"
        f"Content-Type: text/plain\r\n\r\ninner text{tail}\r\n"
    ).encode()


def held(db) -> list[Quarantine]:
    with db.read() as session:
        return list(session.exec(select(Quarantine)))


def tickets(db) -> int:
    with db.read() as session:
        return session.exec(select(func.count(Ticket.id))).one()


def test_too_many_parts_is_held_and_sender_told(start_gateway):
    gw = start_gateway(limits={"max_mime_parts": 50})
    add_contact(gw.db, "alice@customer.example")
    assert gw.send(multipart(60), "alice@customer.example", [gw.support])[0] == 250
    gw.settle()
    [row] = held(gw.db)
    assert row.reason == "too-many-parts" and tickets(gw.db) == 0
    [notice] = gw.sink.to("alice@customer.example")
    assert "we accept at most 50" in notice.text() and "Many parts" in notice.text()


def test_nesting_too_deep_is_held(start_gateway):
    gw = start_gateway(limits={"max_mime_depth": 5})
    add_contact(gw.db, "alice@customer.example")
    gw.send(nested(8), "alice@customer.example", [gw.support])
    gw.settle()
    [row] = held(gw.db)
    assert row.reason == "too-deep" and "at most 5" in row.detail


def test_attachment_over_limit_is_held(start_gateway):
    gw = start_gateway(limits={"max_attachment_bytes": 1000})
    add_contact(gw.db, "alice@customer.example")
    message = mail()
    message.add_attachment(b"x" * 5000, maintype="application", subtype="pdf", filename="big.pdf")
    gw.send(message)
    gw.settle()
    [row] = held(gw.db)
    assert row.reason == "attachment-too-large" and "big.pdf" in row.detail
    assert "we accept attachments up to" in gw.sink.to("alice@customer.example")[0].text()


def test_slow_parse_is_held_and_queue_goes_on(start_gateway, clock):
    gw = start_gateway(limits={"parse_timeout_seconds": 1, "max_mime_parts": 100_000})
    add_contact(gw.db, "alice@customer.example")
    slow = multipart(40_000)  # takes the parser several seconds
    accept(gw.db, [RawMail(slow, Envelope("alice@customer.example", (gw.support,)))],
           clock(), "support.example")  # fmt: skip
    gw.send(mail(subject="Normal request"))
    gw.settle(timeout=30)
    [row] = held(gw.db)
    assert row.reason == "parse-timeout"
    assert tickets(gw.db) == 1  # the next message was processed by a fresh parser


def test_a_slow_parse_holds_up_neither_the_mail_before_it_nor_smtp(start_gateway, clock):
    """Mail is parsed while the mail before it is applied, but a parse still running never
    holds the write lock: that mail is committed, and a new one gets its 250, meanwhile."""
    gw = start_gateway(limits={"parse_timeout_seconds": 5, "max_mime_parts": 100_000})
    add_contact(gw.db, "alice@customer.example")
    first = mail(subject="Before the slow one").as_bytes()
    envelope = Envelope("alice@customer.example", (gw.support,))
    accept(gw.db, [RawMail(first, envelope), RawMail(multipart(40_000), envelope)],
           clock(), "support.example")  # fmt: skip
    gw.gw.process_worker.wake()
    gw.wait_for(lambda: tickets(gw.db) == 1)
    assert statuses(gw.db) == ["done", "pending"]  # the slow one is still being parsed
    code, _ = gw.send(mail(subject="Meanwhile"))
    assert code == 250 and statuses(gw.db)[:2] == ["done", "pending"]
    gw.settle(timeout=30)  # the slow one ends as a ticket or held, by how fast this machine is
    assert statuses(gw.db) == ["done", "done", "done"]


def statuses(db) -> list[str]:
    with db.read() as session:
        return list(session.exec(select(Inbound.status).order_by(Inbound.id)))


def test_memory_hungry_message_is_held(start_gateway, clock):
    gw = start_gateway(limits={"parse_memory_mb": 300})
    add_contact(gw.db, "alice@customer.example")
    message = mail()
    message.add_attachment(b"\x00" * (120 * 1024 * 1024), maintype="application",
                           subtype="octet-stream", filename="huge.bin")  # fmt: skip
    raw = message.as_bytes()
    accept(gw.db, [RawMail(raw, Envelope("alice@customer.example", (gw.support,)))],
           clock(), "support.example")  # fmt: skip
    gw.settle(timeout=60)
    [row] = held(gw.db)
    assert row.reason == "parse-memory"
    with gw.db.read() as session:
        assert session.exec(select(Inbound.status)).all() == ["done"]


def test_a_french_customer_is_told_why_in_french(start_gateway):
    gw = start_gateway(limits={"max_attachment_bytes": 1_048_576})
    add_contact(gw.db, "zoe@customer.example", name="Zoé", lang="fr")
    message = mail(sender="zoe@customer.example")
    message.add_attachment(b"x" * 5_000_000, maintype="application", subtype="pdf",
                           filename="journal.pdf")  # fmt: skip
    gw.send(message)
    gw.settle()
    [notice] = gw.sink.to("zoe@customer.example")
    text = notice.text()
    assert "la pièce jointe « journal.pdf » fait 4,8 Mio" in text
    assert "jusqu'à 1,0 Mio" in text
    assert "we accept" not in text and "attachment" not in text
