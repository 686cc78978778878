"""Closed tickets past `lifecycle.forget_closed_days` keep their shape (dates, status, who
answered, scores) and lose their words: texts, files, raw mail in and out, rating comments.
Once each; not before the day; a reopened ticket is kept."""

from __future__ import annotations

import test_staff_flow
from conftest import mail
from sqlmodel import func, select
from test_staff_flow import last, staff_mail, ticket

from gateway.store import outbox_rows
from gateway.store.tables import Attachment, Blob, Event, Inbound, Message, Outbox

SAM = "agent@support.example"


def count(gw, model, *where) -> int:
    with gw.db.read() as session:
        return session.exec(select(func.count()).select_from(model).where(*where)).one()


def test_a_closed_ticket_past_the_period_keeps_its_shape_not_its_words(start_gateway, clock):
    gw = desk_with(start_gateway, lifecycle={"forget_closed_days": 30})
    request = mail(subject="Invoice 2026-118", body="CANARY-41 my invoice is wrong.")
    request.add_attachment(b"%PDF-1.4 CANARY-41 invoice", maintype="application",
                           subtype="octet-stream", filename="invoice.pdf")  # fmt: skip
    gw.send(request)
    gw.settle()
    t = ticket(gw, 1)
    gw.send(staff_mail(last(gw, SAM), "/status closed\nCANARY-41 refunded."))
    gw.settle()
    closed = ticket(gw, t.id)
    assert closed.status == "closed" and count(gw, Attachment) == 1

    clock.advance(days=29, hours=23)
    assert gw.gw.jobs.run("forget-closed") == 0
    clock.advance(hours=1, minutes=1)
    assert gw.gw.jobs.run("forget-closed") == 1
    assert gw.gw.jobs.run("forget-closed") == 0  # once

    kept = ticket(gw, t.id)
    assert (kept.status, kept.first_response_at, kept.resolved_at) == (
        "closed", closed.first_response_at, closed.resolved_at)  # fmt: skip
    assert kept.subject == "(forgotten after the retention period)"
    with gw.db.read() as session:
        messages = list(session.exec(select(Message).where(Message.ticket_id == t.id)))
        assert len(messages) == 2 and all(m.body_text == m.new_text == "" for m in messages)
        raws = [row.raw for row in session.exec(select(Inbound))]
        sent = [row.raw for row in session.exec(select(Outbox).where(Outbox.ticket_id == t.id))]
        [event] = session.exec(select(Event).where(Event.kind == "ticket-forgotten")).all()
    assert raws == [b"", b""] and sent and all(raw == b"" for raw in sent)
    assert count(gw, Attachment) == 0 and count(gw, Blob) == 0
    assert event.ticket_id == t.id


def desk_with(start_gateway, **sections):
    gw = start_gateway(auth={"trusted_authserv_ids": (test_staff_flow.AUTHSERV,)},
                       routing={"default_department": "Support"}, **sections)  # fmt: skip
    test_staff_flow.add_contact(gw.db, "alice@customer.example", name="Alice", account="Alice Co")
    test_staff_flow.add_staff(gw.db, SAM, "Sam Agent")
    return gw


def closed_ticket(gw):
    t = test_staff_flow.open_ticket(gw)
    gw.send(staff_mail(last(gw, SAM), "/status closed\nDone."))
    gw.settle()
    return t


def test_without_a_period_closed_tickets_are_kept(start_gateway, clock):
    gw = desk_with(start_gateway)
    t = closed_ticket(gw)
    clock.advance(days=400)
    assert gw.gw.jobs.run("forget-closed") == 0
    assert ticket(gw, t.id).subject == "Site down"


def test_a_ticket_reopened_before_the_day_is_kept(start_gateway, clock):
    gw = desk_with(start_gateway, lifecycle={"forget_closed_days": 30})
    t = closed_ticket(gw)
    clock.advance(days=10)
    gw.send(mail(subject=f"Re: [VB #{t.id}] Site down", body="It is down again."))
    gw.settle()
    clock.advance(days=25)
    assert gw.gw.jobs.run("forget-closed") == 0
    assert ticket(gw, t.id).status == "open" and ticket(gw, t.id).subject == "Site down"


def test_a_ticket_reopened_after_it_was_emptied_is_emptied_again_once_closed(start_gateway, clock):
    gw = desk_with(start_gateway, lifecycle={"forget_closed_days": 30})
    t = closed_ticket(gw)
    clock.advance(days=31)
    assert gw.gw.jobs.run("forget-closed") == 1

    clock.advance(hours=2)
    gw.send(mail(subject=f"Re: [VB #{t.id}] Site down", body="CANARY-77 down again."))
    gw.settle()
    assert ticket(gw, t.id).status == "open"
    gw.send(staff_mail(last(gw, SAM), "/status closed\nFixed again."))
    gw.settle()
    with gw.db.write() as session:  # a mail about it that could not be delivered
        row = session.exec(select(Outbox).where(Outbox.ticket_id == t.id)).first()
        row.status, row.last_error = "failed", "550 mailbox unavailable"
        session.add(row)
    clock.advance(days=31)
    assert gw.gw.jobs.run("forget-closed") == 1
    with gw.db.read() as session:
        texts = [m.body_text for m in session.exec(select(Message))]
    assert texts and not any("CANARY-77" in text for text in texts)
    with gw.db.write() as session:  # its bytes are gone: nothing to send again
        assert outbox_rows.retry_failed(session, None, clock.now) == []
