"""Card numbers inside attachments (invariant 7, research case 44): text of any declared type
is masked in place, a forwarded mail attached whole is read and masked in its own encodings, and
a PDF holding a number is not kept at all; the customer is told to send it again."""

from __future__ import annotations

import io
import json
import random
import re
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
import test_privacy_cards
from conftest import mail
from pdfs import bomb_pdf, docx, pdf, text_pdf, xml_bomb_docx
from privacy_scan import readable_text
from pypdf import PdfReader, PdfWriter
from sqlmodel import select
from test_privacy_cards import ALICE, CARD, _events, everything_sent, kept
from test_staff_flow import staff_mail

from gateway.core import cards
from gateway.core.card_attachments import redact_attachment
from gateway.core.model import ParsedAttachment
from gateway.core.pdf_text import MAX_PAGES, pdf_text
from gateway.core.reading import read_mail
from gateway.store import privacy_rows, repo
from gateway.store.tables import Blob, Event, Inbound, Message, Ticket

MASTERCARD = "5555 5555 5555 4444"
desk = test_privacy_cards.desk  # a customer, a staff member, a department


def attachment(data: bytes, content_type="application/pdf", name="invoice.pdf"):
    return ParsedAttachment(filename=name, content_type=content_type, data=data)


# What a PDF says ------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [True, False])
def test_a_pdf_holding_a_card_number_is_replaced_by_a_note_saying_why(compress):
    scan = redact_attachment(
        attachment(text_pdf("Invoice 2026-118", f"Card: {CARD}", compress=compress)), False
    )
    assert scan.removed and scan.found == 1
    assert scan.item.filename == "invoice.pdf - removed.txt"
    assert scan.item.content_type == "text/plain"
    assert b"%PDF" not in scan.item.data and b"4111" not in scan.item.data
    assert b"invoice.pdf was removed" in scan.item.data


def test_a_number_spread_over_positioned_glyphs_is_found():
    """Word processors place glyphs one by one (TJ with kerning) or a group per operator."""
    kerned = b"BT /F1 12 Tf 72 712 Td [(4)20(1)20(1)20(1) -250 (1111) -250 (1111 1111)] TJ ET"
    grouped = (b"BT /F1 12 Tf 72 712 Td (Card:) Tj 0 -14 Td (5555) Tj 40 0 Td (5555) Tj"
               b" 40 0 Td (5555) Tj 40 0 Td (4444) Tj ET")  # fmt: skip
    for ops in (kerned, grouped):
        assert redact_attachment(attachment(pdf(ops)), False).removed


def test_a_pdf_without_a_card_number_is_kept_byte_for_byte():
    data = text_pdf(
        "Invoice 2026-118", "IBAN FR76 3000 6000 0112 3456 7890 189", "+33 6 12 34 56 78"
    )
    scan = redact_attachment(attachment(data), False)
    assert not scan.removed and scan.found == 0 and scan.item.data == data


def test_a_pdf_that_cannot_be_read_is_kept_as_it_came():
    """Broken, or locked by a password we do not have: nothing can be found, as in an image."""
    broken = b"%PDF-1.4\n" + bytes(range(256)) * 20
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(text_pdf(f"Card: {CARD}"))))
    writer.encrypt("secret")
    locked = io.BytesIO()
    writer.write(locked)
    for data in (broken, locked.getvalue()):
        assert pdf_text(data) is None
        scan = redact_attachment(attachment(data), False)
        assert not scan.removed and scan.item.data == data


def test_a_pdf_that_inflates_past_the_readers_limit_is_kept_unread_and_the_mail_goes_on(desk):
    """A decompression bomb (research case 37): 100 MiB of blanks in 100 KiB. pypdf stops
    inflating at its limit; the file cannot be read, so it is kept as it came, as an image is,
    and the mail opens its ticket."""
    bomb = bomb_pdf(100, f"Card {CARD}")
    assert len(bomb) < 200_000
    stored, data = send_pdf_and_read_back(desk, bomb, "scan.pdf")
    assert stored.filename == "scan.pdf" and data == bomb
    assert desk.sink.to(ALICE)  # confirmed


def test_a_pdf_named_otherwise_is_still_read():
    data = text_pdf(f"Card: {CARD}")
    scan = redact_attachment(attachment(data, "application/octet-stream", "scan0042"), False)
    assert scan.removed and scan.item.filename == "scan0042 - removed.txt"


def test_a_long_pdf_is_read_up_to_its_page_budget():
    writer = PdfWriter()
    for _ in range(MAX_PAGES + 5):
        writer.add_blank_page(612, 792)
    out = io.BytesIO()
    writer.write(out)
    read = pdf_text(out.getvalue())
    assert read is not None and not read.complete


# Office documents ---------------------------------------------------------------------

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def test_an_office_document_holding_a_card_number_is_replaced_by_a_note():
    """Word splits a number into runs as it was typed; the runs are read as one text."""
    data = docx("Payment form", "Card: 4111 |1111 1111| 1111", "Expiry 12/27")
    scan = redact_attachment(attachment(data, DOCX, "form.docx"), False)
    assert scan.removed and scan.item.filename == "form.docx - removed.txt"
    assert b"office document" in scan.item.data and b"PK" not in scan.item.data


def test_an_office_document_without_one_is_kept_and_cells_do_not_join():
    """Two cells of digits side by side are two numbers, not one card number."""
    data = docx("4111 1111", "1111 1111", "IBAN FR76 3000 6000 0112 3456 7890 189")
    scan = redact_attachment(attachment(data, DOCX, "order.docx"), False)
    assert not scan.removed and scan.item.data == data


def test_an_office_document_inflating_past_the_cap_is_kept_unread():
    bomb = xml_bomb_docx(64)  # 64 MiB of XML in a few dozen KiB
    assert len(bomb) < 200_000
    scan = redact_attachment(attachment(bomb, DOCX, "bomb.docx"), False)
    assert not scan.removed and scan.item.data == bomb


# Text whatever its declared type ---------------------------------------------------------


def test_text_sent_as_octet_stream_is_masked_and_binary_left_alone():
    text = redact_attachment(
        attachment(f"card;{CARD}\n".encode(), "application/octet-stream", "notes.txt"), False
    )
    assert text.found == 1 and text.item.data == b"card;4111 11** **** 1111\n"
    binary = f"\x00\x01{CARD}\xff".encode("latin-1")
    assert (
        redact_attachment(attachment(binary, "application/octet-stream", "a.bin"), False).item.data
        == binary
    )


def _forwarded(inner_cte: str) -> EmailMessage:
    inner = EmailMessage()
    inner["From"] = "Bank <noreply@bank.example>"
    inner["Subject"] = f"Receipt for card {MASTERCARD}"
    inner.set_content(f"Your card {CARD} was charged 12.00 EUR.\n", cte=inner_cte)
    inner.add_attachment(text_pdf(f"Card {CARD}"), maintype="application", subtype="pdf",
                         filename="receipt.pdf")  # fmt: skip
    outer = mail(body="See the bank's mail below.")
    outer.add_attachment(inner)
    return outer


def _all_decoded(raw: bytes) -> str:
    """Every part of a message, nested ones included, decoded from its transfer encoding, and
    the text of any PDF in it."""
    out = []
    for part in message_from_bytes(raw, policy=policy.default).walk():
        out.extend(str(value) for value in part.values())
        out.append(_readable(part.get_payload(decode=True) or b""))
    return "\n".join(out)


def _readable(data: bytes) -> str:
    read = pdf_text(data) if data.startswith(b"%PDF") else None
    return data.decode("utf-8", "replace") + (read.text if read else "")


@pytest.mark.parametrize("cte", ["base64", "quoted-printable"])
def test_a_forwarded_mail_attached_whole_is_masked_in_its_own_encoding(cte):
    reading = read_mail(_forwarded(cte).as_bytes(policy=policy.SMTP), "<f@customer.example>")
    [forwarded] = [a for a in reading.mail.attachments if a.content_type == "message/rfc822"]
    assert kept(_all_decoded(forwarded.data)) == []
    assert "4111 11** **** 1111" in _all_decoded(forwarded.data)
    assert "receipt.pdf - removed.txt" in _all_decoded(forwarded.data)
    assert kept(_all_decoded(reading.kept_raw)) == []
    assert reading.removed_files == 1  # the receipt, counted once though it is in two places


# Through the gateway ---------------------------------------------------------------------


def test_a_customers_pdf_with_a_card_number_is_stored_nowhere_and_they_are_told(desk):
    sent = mail(body="Here is the invoice you asked for.")
    original = text_pdf("Invoice 2026-118", f"Paid with {CARD}")
    sent.add_attachment(original, maintype="application", subtype="pdf", filename="invoice.pdf")
    desk.send(sent)
    desk.settle()
    with desk.db.read() as session:
        [ticket] = session.exec(select(Ticket)).all()
        [message] = repo.ticket_messages(session, ticket.id)
        [kept_file] = repo.message_attachments(session, message.id)
        [row] = session.exec(select(Inbound)).all()
        [event] = session.exec(select(Event).where(Event.kind == "card-number-redacted")).all()
    assert kept_file.filename == "invoice.pdf - removed.txt"
    assert "%PDF" not in readable_everything(desk)
    assert kept(readable_everything(desk)) == [] and kept(_all_decoded(row.raw)) == []
    assert kept(everything_sent(desk)) == []
    assert json.loads(event.detail)["files_removed"] == 1
    confirmation, notice = desk.sink.to(ALICE)
    assert "A file you attached (a PDF or an office document) held a card number" in notice.text()
    assert "invoice.pdf" not in notice.text()  # nothing the mail said is repeated
    # A second PDF on the same ticket: the customer is told again, as they must resend it.
    again = mail(subject=f"Re: [VB #{ticket.id}] Site down", body="Here it is again.")
    again.add_attachment(original, maintype="application", subtype="pdf", filename="invoice.pdf")
    desk.send(again)
    desk.settle()
    assert len(desk.sink.to(ALICE)) == 3
    assert _events(desk, ticket.id).count("card-number-redacted") == 2


def test_a_customers_pdf_without_a_card_number_reaches_staff_unchanged(desk):
    original = text_pdf("Invoice 2026-118", "Total 42.00 EUR")
    stored, data = send_pdf_and_read_back(desk, original, "invoice.pdf")
    assert stored.filename == "invoice.pdf" and data == original
    assert "card-number-redacted" not in _events(desk, None)
    assert len(desk.sink.to(ALICE)) == 1  # the confirmation, no card notice


def send_pdf_and_read_back(gw, pdf_bytes: bytes, filename: str):
    """A customer's mail with one PDF; the stored attachment and its bytes."""
    sent = mail(body="The file is attached.")
    sent.add_attachment(pdf_bytes, maintype="application", subtype="pdf", filename=filename)
    gw.send(sent)
    gw.settle()
    with gw.db.read() as session:
        [message] = session.exec(select(Message)).all()
        [(stored, data)] = privacy_rows.attachments_of(session, message.id)
    return stored, data


def readable_everything(gw) -> str:
    """What the gateway can decrypt, with every stored message's parts and PDFs decoded."""
    parts = [readable_text(gw.db)]
    with gw.db.read() as session:
        parts.extend(_all_decoded(row.raw) for row in session.exec(select(Inbound)))
        parts.extend(_readable(blob.data) for blob in session.exec(select(Blob)))
    return "\n".join(parts)


def test_digits_in_the_removal_note_are_none():
    assert not re.search(
        rb"\d", redact_attachment(attachment(text_pdf(f"{CARD}")), False).item.data
    )


def test_a_chain_of_forwards_is_masked_at_every_level():
    message = EmailMessage()
    message["From"] = "noreply@bank.example"
    message["Subject"] = f"Receipt {MASTERCARD}"
    message.set_content(f"Card {CARD}\n", cte="base64")
    for level in range(12):
        outer = mail(subject=f"Fwd {level}", body="Forwarding.")
        outer.add_attachment(message)
        message = outer
    reading = read_mail(message.as_bytes(policy=policy.SMTP), "<chain@customer.example>")
    forwarded = [a for a in reading.mail.attachments if a.content_type == "message/rfc822"]
    assert len(forwarded) == 12  # each level, as mail-parser lists them
    for item in forwarded:
        assert kept(_all_decoded(item.data)) == [] and "5555 55** **** 4444" in _all_decoded(
            item.data
        )
    assert kept(_all_decoded(reading.kept_raw)) == []


def test_a_mime_boundary_of_random_digits_is_not_taken_for_a_card():
    """Python's email package writes boundaries of 19 random digits; one in 60 passes for a
    card, and such a mail once got a card notice and lost its raw bytes."""
    rng = random.Random(7)
    token = next(
        t for t in (f"{rng.randrange(10**19):019d}" for _ in range(10_000)) if cards.redact(t).found
    )
    sent = mail(body="Two files attached.")
    sent.add_attachment(b"hello", maintype="application", subtype="octet-stream", filename="a.bin")
    sent.set_boundary(f"==============={token}==")
    raw = sent.as_bytes(policy=policy.SMTP)
    assert token.encode() in raw
    reading = read_mail(raw, "<b@customer.example>")
    assert not reading.found and reading.kept_raw is None
    forward = mail(body="See below.")
    forward.add_attachment(message_from_bytes(raw, policy=policy.default))
    [item] = read_mail(
        forward.as_bytes(policy=policy.SMTP), "<c@customer.example>"
    ).mail.attachments[:1]
    assert token.encode() in item.data  # the forwarded copy is left as it came


def test_a_staff_replys_pdf_with_a_card_number_reaches_no_one_and_its_author_is_told(desk):
    """The note standing in for the file is for staff: the customer gets the reply without it,
    and the author's receipt says the file was not sent and why."""
    desk.send(mail(body="Please send the invoice."))
    desk.settle()
    notification = desk.sink.to("agent@support.example")[-1]
    reply = staff_mail(notification, "Here is your invoice.")
    reply.add_attachment(text_pdf(f"Paid with {CARD}"), maintype="application", subtype="pdf",
                         filename="invoice.pdf")  # fmt: skip
    desk.send(reply)
    desk.settle()
    relayed = desk.sink.to(ALICE)[-1].message
    assert "Here is your invoice." in relayed.get_body(("plain",)).get_content()
    assert [p.get_filename() for p in relayed.iter_attachments()] == []
    receipt = desk.sink.to("agent@support.example")[-1].text()
    assert "invoice.pdf was NOT sent" in receipt
