"""Staff work from their mail client: notifications, relayed replies, internal notes, commands.

Everything runs over real SMTP: customer mail in, notification out to the staff sink address,
staff reply in (with the trusted Authentication-Results our border MTA would add), relayed
reply out to the customer.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from conftest import add_contact, mail
from sqlmodel import select

from gateway.store import directory, repo
from gateway.store.tables import Event, Message, Outbox, Quarantine, Ticket

AUTHSERV = "mx.support.example"
PASS = f"{AUTHSERV}; dkim=pass header.d=support.example; dmarc=pass header.from=support.example"


def add_staff(db, email, name, department="Support", manager=False):
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with db.write() as session:
        dept = directory.department_by_name(session, department) or directory.add_department(
            session, department, now
        )
        directory.add_staff(
            session, email=email, name=name, department_id=dept.id,
            role="manager" if manager else "agent", now=now,
        )  # fmt: skip


@pytest.fixture
def desk(start_gateway):
    gw = start_gateway(
        auth={"trusted_authserv_ids": (AUTHSERV,)}, routing={"default_department": "Support"}
    )
    add_contact(gw.db, "alice@customer.example", name="Alice", account="Alice Co")
    add_contact(gw.db, "ops@customer.example", name="Ops", account="Alice Co")
    add_staff(gw.db, "agent@support.example", "Sam Agent")
    add_staff(gw.db, "second@support.example", "Kim Second")
    add_staff(gw.db, "billing@support.example", "Bea Billing", department="Billing")
    return gw


def open_ticket(gw, subject="Site down", body="My site is down."):
    gw.send(mail(subject=subject, body=body))
    gw.settle()
    with gw.db.read() as session:
        return session.exec(select(Ticket).order_by(Ticket.id.desc())).first()


def staff_mail(notification, body, sender="agent@support.example", subject=None, auth=PASS, **h):
    original = notification.message
    message = mail(
        sender=f"Staff <{sender}>",
        subject=subject or "Re: " + original["Subject"],
        body=body,
        In_Reply_To=original["Message-ID"],
        References=original["Message-ID"],
        **h,
    )
    if auth:
        message["Authentication-Results"] = auth
    return message


def last(gw, address):
    received = gw.sink.to(address)
    assert received, f"nothing sent to {address}"
    return received[-1]


def ticket(gw, number):
    with gw.db.read() as session:
        return session.get(Ticket, number)


def events(gw, number):
    with gw.db.read() as session:
        return [e.kind for e in session.exec(select(Event).where(Event.ticket_id == number))]


def test_new_ticket_notifies_staff_without_exposing_customer_address_in_headers(desk):
    t = open_ticket(desk, body="Please help, my site is down.")
    note = last(desk, "agent@support.example")
    message = note.message
    assert message["From"].addresses[0].addr_spec == "support@support.example"
    assert message["Reply-To"] == "support@support.example"
    assert message["Subject"] == f"[VB #{t.id}] Site down"
    headers = "\n".join(f"{k}: {v}" for k, v in message.items())
    assert "alice@customer.example" not in headers
    text = note.text()
    assert text.index("Please help, my site is down.") < text.index("Involved:")
    assert "requester Alice <alice@customer.example>" in text
    assert desk.sink.to("second@support.example")  # whole department
    assert not desk.sink.to("billing@support.example")  # another department gets nothing


def test_staff_reply_is_relayed_to_customer_in_thread(desk):
    t = open_ticket(desk)
    notification = last(desk, "agent@support.example")
    reply = staff_mail(
        notification,
        "Hello Alice,\nyour site is back.\n\nOn Mon, 23 Nov 2026, Support wrote:\n> old text\n",
    )
    assert desk.send(reply)[0] == 250
    desk.settle()
    relayed = last(desk, "alice@customer.example")
    message = relayed.message
    assert message["From"].addresses[0].display_name == "Sam Agent - Example Hosting"
    assert message["From"].addresses[0].addr_spec == "support@support.example"
    assert message["Reply-To"] == f"support+{t.reply_token}@support.example"
    assert message["Subject"] == f"[VB #{t.id}] Site down"
    with desk.db.read() as session:
        first = repo.ticket_messages(session, t.id)[0]
    assert message["In-Reply-To"] == first.header_message_id
    assert "your site is back." in relayed.text()
    assert "old text" not in relayed.text()
    assert b"agent@support.example" not in relayed.raw
    assert message["Auto-Submitted"] is None  # written by a person
    assert ticket(desk, t.id).first_response_at is not None
    assert ticket(desk, t.id).status == "open"


def test_customer_reply_to_relayed_reply_joins_ticket_and_notifies_staff(desk):
    open_ticket(desk)
    desk.send(staff_mail(last(desk, "agent@support.example"), "Which domain?"))
    desk.settle()
    relayed = last(desk, "alice@customer.example").message
    desk.send(
        mail(
            to=relayed["Reply-To"],
            subject="Re: " + relayed["Subject"],
            body="example.org",
            In_Reply_To=relayed["Message-ID"],
        )  # fmt: skip
    )
    desk.settle()
    assert len(desk.sink.to("alice@customer.example")) == 2  # confirmation + reply only
    follow_up = last(desk, "agent@support.example")
    assert "Customer follow-up" in follow_up.text() and "example.org" in follow_up.text()
    assert "[staff reply]" in follow_up.text()  # history labelled


def test_note_reaches_staff_only(desk):
    t = open_ticket(desk)
    before = len(desk.sink.to("alice@customer.example"))
    canary = "CANARY-7f3a internal remark"
    desk.send(staff_mail(last(desk, "agent@support.example"), f"/note\n{canary}"))
    desk.settle()
    assert len(desk.sink.to("alice@customer.example")) == before
    note = last(desk, "second@support.example")
    assert canary in note.text() and "[note]" in note.message["Subject"]
    with desk.db.read() as session:
        stored = repo.ticket_messages(session, t.id)[-1]
    assert stored.visibility == "internal"
    # a reply to the note notification stays internal, even without /note
    desk.send(staff_mail(note, "agreed, CANARY-second", sender="second@support.example"))
    desk.settle()
    assert len(desk.sink.to("alice@customer.example")) == before
    assert all(b"CANARY" not in m.raw for m in desk.sink.to("alice@customer.example"))


def test_a_note_carries_its_files_and_html_to_colleagues_only(desk):
    """A colleague must see the log an agent attached to a note, as a customer's files are."""
    open_ticket(desk)
    before = len(desk.sink.to("alice@customer.example"))
    note = staff_mail(last(desk, "agent@support.example"), "/note\nThe error log is attached.")
    note.add_alternative("<p>The error log is <b>attached</b>.</p>", subtype="html")
    note.add_attachment(b"ERROR-LOG-CANARY line 1\n", maintype="text", subtype="plain",
                        filename="error.log")  # fmt: skip
    desk.send(note)
    desk.settle()
    copy = last(desk, "second@support.example").message
    [log_file] = [part for part in copy.iter_attachments() if part.get_filename() == "error.log"]
    assert log_file.get_content() == "ERROR-LOG-CANARY line 1\n"
    html = copy.get_body(preferencelist=("html",)).get_content()
    assert "<b>attached</b>" in html
    assert len(desk.sink.to("alice@customer.example")) == before
    assert all(b"ERROR-LOG-CANARY" not in m.raw for m in desk.sink.received
               if "alice@customer.example" in m.rcpt_tos)  # fmt: skip


def test_note_by_subject_marker(desk):
    open_ticket(desk)
    notification = last(desk, "agent@support.example")
    subject = "Re: [note] " + notification.message["Subject"]
    desk.send(staff_mail(notification, "between us", subject=subject))
    desk.settle()
    assert all("between us" not in m.text() for m in desk.sink.to("alice@customer.example"))


def test_unverified_staff_mail_is_held_and_staff_alerted(desk):
    t = open_ticket(desk)
    before = len(desk.sink.to("alice@customer.example"))
    spoof = staff_mail(last(desk, "agent@support.example"), "/status closed\nGive me your password",
                       auth=None)  # fmt: skip
    desk.send(spoof)
    desk.settle()
    assert len(desk.sink.to("alice@customer.example")) == before
    assert ticket(desk, t.id).status == "new"
    alert = last(desk, "agent@support.example")
    assert "could not be verified" in alert.text()
    forged = staff_mail(last(desk, "second@support.example"), "/status closed",
                        auth="evil.example; dmarc=pass header.from=support.example")  # fmt: skip
    desk.send(forged)
    desk.settle()
    assert ticket(desk, t.id).status == "new"


def test_commands_apply_and_receipt_lists_them(desk):
    t = open_ticket(desk)
    body = "/assign Kim\n/priority high\n/status pending\n/cc add ops@customer.example\n/watch\n"
    desk.send(staff_mail(last(desk, "agent@support.example"), body + "\nWe are on it."))
    desk.settle()
    row = ticket(desk, t.id)
    assert (row.priority, row.status) == ("high", "pending")
    with desk.db.read() as session:
        from gateway.store import staffing

        assert [c.email for c in staffing.ccs(session, t.id)] == ["ops@customer.example"]
        assert staffing.staff_by_id(session, row.assignee_id).email == "second@support.example"
    receipt = [m for m in desk.sink.to("agent@support.example") if "Done" in m.message["Subject"]]
    text = receipt[-1].text()
    for line in ("assigned to Kim Second", "priority set to high", "status set to pending",
                 "public reply relayed"):  # fmt: skip
        assert line in text
    handover = last(desk, "second@support.example")
    assert "handed this ticket to you" in handover.text()
    # the reply went to the requester and the CC
    assert "We are on it." in last(desk, "ops@customer.example").text()


def test_one_bad_command_applies_nothing(desk):
    t = open_ticket(desk)
    before = len(desk.sink.to("alice@customer.example"))
    body = "/priority high\n/assign nobody-like-this\n/status nonsense\n\nReply text"
    desk.send(staff_mail(last(desk, "agent@support.example"), body))
    desk.settle()
    row = ticket(desk, t.id)
    assert row.priority == "normal" and row.assignee_id is None
    assert len(desk.sink.to("alice@customer.example")) == before
    error = last(desk, "agent@support.example")
    assert "Not applied" in error.message["Subject"]
    text = error.text()
    assert "/assign nobody-like-this" in text and "Sam Agent" in text  # valid choices listed
    assert "/status nonsense" in text and "open|pending|resolved|closed" in text


def test_transfer_notifies_new_department(desk):
    t = open_ticket(desk)
    desk.send(staff_mail(last(desk, "agent@support.example"), "/transfer billing"))
    desk.settle()
    assert ticket(desk, t.id).department_id is not None
    handover = last(desk, "billing@support.example")
    assert "handed this ticket to you" in handover.text() and "My site is down." in handover.text()
    assert "command-transfer" in events(desk, t.id)
    bad = staff_mail(last(desk, "agent@support.example"), "/transfer nowhere")
    desk.send(bad)
    desk.settle()
    assert "valid: Billing, Support" in last(desk, "agent@support.example").text()


def test_merge_moves_messages_and_tells_both_requesters(desk):
    first = open_ticket(desk, subject="First")
    desk.send(mail(sender="ops@customer.example", subject="Second", body="same problem"))
    desk.settle()
    second = ticket(desk, first.id + 1)
    notification = [m for m in desk.sink.to("agent@support.example")
                    if f"#{second.id}]" in m.message["Subject"]][-1]  # fmt: skip
    desk.send(staff_mail(notification, f"/merge {first.id}"))
    desk.settle()
    merged = ticket(desk, second.id)
    assert merged.status == "closed" and merged.merged_into_id == first.id
    with desk.db.read() as session:
        bodies = [m.body_text for m in repo.ticket_messages(session, first.id)]
    assert "same problem" in bodies
    assert "merged" in last(desk, "ops@customer.example").text()
    assert "merged" in last(desk, "alice@customer.example").text()
    # mail to the old ticket's token lands in the surviving ticket
    old_address = f"support+{second.reply_token}@support.example"
    desk.send(mail(sender="ops@customer.example", to=old_address, body="late addition"))
    desk.settle()
    with desk.db.read() as session:
        assert repo.ticket_messages(session, first.id)[-1].body_text == "late addition"


def test_merge_errors(desk):
    t = open_ticket(desk)
    desk.send(staff_mail(last(desk, "agent@support.example"), "/merge 999"))
    desk.settle()
    assert "there is no ticket #999" in last(desk, "agent@support.example").text()
    desk.send(staff_mail(last(desk, "agent@support.example"), f"/merge {t.id}"))
    desk.settle()
    assert "cannot be merged into itself" in last(desk, "agent@support.example").text()


def test_show_mails_whole_ticket_with_notes_to_staff(desk):
    open_ticket(desk)
    desk.send(staff_mail(last(desk, "agent@support.example"), "/note\nsecret detail"))
    desk.settle()
    desk.send(staff_mail(last(desk, "second@support.example"), "/show",
                         sender="second@support.example"))  # fmt: skip
    desk.settle()
    shown = [
        m for m in desk.sink.to("second@support.example") if "internal notes included" in m.text()
    ]
    assert shown and "secret detail" in shown[-1].text() and "My site is down." in shown[-1].text()


def test_reply_to_closed_ticket_reopens_and_says_so(desk):
    t = open_ticket(desk)
    desk.send(staff_mail(last(desk, "agent@support.example"), "/status closed"))
    desk.settle()
    assert ticket(desk, t.id).status == "closed"
    desk.send(staff_mail(last(desk, "second@support.example"), "One more thing.",
                         sender="second@support.example"))  # fmt: skip
    desk.settle()
    assert ticket(desk, t.id).status == "open"
    assert "reopened" in last(desk, "second@support.example").text()


def test_staff_out_of_office_is_never_relayed(desk):
    t = open_ticket(desk)
    before = len(desk.sink.to("alice@customer.example"))
    ooo = staff_mail(last(desk, "agent@support.example"), "I am away until Monday.",
                     Auto_Submitted="auto-replied")  # fmt: skip
    desk.send(ooo)
    desk.settle()
    assert len(desk.sink.to("alice@customer.example")) == before
    assert "staff-auto-reply" in events(desk, t.id)


def test_html_only_staff_reply_becomes_clean_text(desk):
    open_ticket(desk)
    notification = last(desk, "agent@support.example")
    reply = staff_mail(notification, "placeholder")
    reply.clear_content()
    reply.set_content(
        "<p>Fixed <b>now</b>.</p><script>alert(1)</script>"
        "<div class='gmail_quote'>On Mon wrote:<blockquote>old internal</blockquote></div>",
        subtype="html",
    )
    desk.send(reply)
    desk.settle()
    relayed = last(desk, "alice@customer.example")
    assert "Fixed now." in relayed.text()
    html = relayed.message.get_body(preferencelist=("html",)).get_content()
    assert "<script" not in html and "old internal" not in html and "alert" not in html


def test_staff_mail_without_ticket_gets_error(desk):
    message = mail(sender="agent@support.example", subject="hello", body="/status closed")
    message["Authentication-Results"] = PASS
    desk.send(message)
    desk.settle()
    assert "no ticket found" in last(desk, "agent@support.example").text()


def test_replayed_staff_mail_runs_once(desk):
    t = open_ticket(desk)
    reply = staff_mail(last(desk, "agent@support.example"), "First answer.")
    desk.send(reply)
    desk.settle()
    count = len(desk.sink.to("alice@customer.example"))
    del reply["Received"]
    reply["X-Extra"] = "changed"  # same Message-ID, other bytes: still executed only once
    reply.set_content("First answer. /status closed")
    desk.send(reply)
    desk.settle()
    assert len(desk.sink.to("alice@customer.example")) == count
    with desk.db.read() as session:
        staff_messages = session.exec(
            select(Message).where(Message.ticket_id == t.id, Message.author_staff_id.is_not(None))
        ).all()
    assert len(staff_messages) == 1


def test_attachments_travel_both_ways(desk):
    request = mail(subject="Logs", body="Logs attached.")
    request.add_attachment(b"ERROR disk full\n", maintype="text", subtype="plain",
                           filename="error.log")  # fmt: skip
    desk.send(request)
    desk.settle()
    notification = last(desk, "agent@support.example")
    [received] = list(notification.message.iter_attachments())
    assert received.get_filename() == "error.log"
    assert received.get_content().replace("\r\n", "\n") == "ERROR disk full\n"
    reply = staff_mail(notification, "Here is the fixed configuration.")
    reply.add_attachment(b"%PDF-1.4 fixed", maintype="application", subtype="pdf",
                         filename="fix.pdf")  # fmt: skip
    desk.send(reply)
    desk.settle()
    relayed = last(desk, "alice@customer.example")
    [sent] = list(relayed.message.iter_attachments())
    assert (sent.get_filename(), sent.get_content()) == ("fix.pdf", b"%PDF-1.4 fixed")


def test_a_reply_the_customer_never_got_is_told_to_staff_on_the_ticket(desk):
    """A reply refused for good (at RCPT, as a server refuses an unknown user): the staff
    involved are told why, with the command that sends it again, and nothing about it reaches
    the customer."""
    t = open_ticket(desk)
    refusal = "550 5.1.1 <alice@customer.example>: no such user"
    desk.sink.refusing["alice@customer.example"] = refusal
    before = len(desk.sink.to("alice@customer.example"))
    desk.send(staff_mail(last(desk, "agent@support.example"), "Your site is back."))
    desk.settle()

    alert = last(desk, "agent@support.example")
    assert alert.message["Subject"].startswith(f"[VB #{t.id}]")
    text = " ".join(alert.text().split())
    assert "Our mail to alice@customer.example (reply, outbox #" in text
    assert f"they have not received it: alice@customer.example: {refusal}." in text
    with desk.db.read() as session:
        failed = session.exec(select(Outbox).where(Outbox.status == "failed")).one()
    assert f"gateway outbox retry {failed.id}" in text
    assert "delivery-failed" in events(desk, t.id)
    assert len(desk.sink.to("alice@customer.example")) == before
    assert "alice@customer.example" not in alert.rcpt_tos


def test_mail_to_staff_given_up_is_not_followed_by_more_mail_to_staff(desk):
    """Telling staff by mail that mail to staff failed could fail alike, round after round:
    the failure stays an event and `gateway status`'s figure."""
    desk.sink.refusing["agent@support.example"] = "550 5.1.1 mailbox disabled"
    t = open_ticket(desk)
    desk.settle()
    with desk.db.read() as session:
        kinds = [(o.kind, o.status) for o in session.exec(select(Outbox).order_by(Outbox.id))]
    # The agent's notice failed, a colleague's was sent; no more mail followed.
    assert sorted(kinds) == [("confirmation", "sent"), ("staff-new-ticket", "failed"),
                             ("staff-new-ticket", "sent")]  # fmt: skip
    assert "delivery-failed" in events(desk, t.id)


def test_a_member_who_left_runs_nothing_and_their_tickets_go_back_to_the_department(desk, tmp_path):
    from test_db_outage import run_cli

    t = open_ticket(desk)
    notification = last(desk, "agent@support.example")
    desk.send(staff_mail(notification, "/assign me\n\nOn it."))
    desk.settle()
    assert ticket(desk, t.id).assignee_id is not None

    out = run_cli(desk, tmp_path, "staff", "deactivate", "Agent@Support.example")
    assert out.strip() == f"staff agent@support.example deactivated; tickets unassigned: [{t.id}]"
    assert ticket(desk, t.id).assignee_id is None
    assert "unassigned" in events(desk, t.id)
    listed = {s["email"]: s["active"] for s in json.loads(run_cli(desk, tmp_path, "staff",
                                                                    "list", "--json"))}  # fmt: skip
    assert listed["agent@support.example"] is False and listed["second@support.example"] is True

    desk.send(staff_mail(notification, "/status closed\n\nClosing."))  # their old mail client
    desk.settle()
    assert ticket(desk, t.id).status == "open"  # nothing ran
    with desk.db.read() as session:
        held = session.exec(select(Quarantine).order_by(Quarantine.id.desc())).first()
    assert held.sender == "agent@support.example" and held.reason == "unknown-sender"

    before = len(desk.sink.to("agent@support.example"))
    desk.send(mail(subject=f"Re: [VB #{t.id}] Site down", body="Any news?"))
    desk.settle()
    assert "Any news?" in last(desk, "second@support.example").text()  # the department hears
    assert len(desk.sink.to("agent@support.example")) == before  # the one who left does not

    run_cli(desk, tmp_path, "staff", "activate", "agent@support.example")
    desk.send(staff_mail(notification, "/assign me\n\nBack."))
    desk.settle()
    assert ticket(desk, t.id).assignee_id is not None


def test_watch_brings_every_notification_and_unwatch_stops_them(desk):
    t = open_ticket(desk)
    desk.send(staff_mail(last(desk, "agent@support.example"), "/assign me"))
    desk.settle()
    billing = "billing@support.example"  # another department: told of nothing by default
    desk.send(mail(subject=f"Re: [VB #{t.id}] Site down", body="First follow-up."))
    desk.settle()
    assert not [m for m in desk.sink.to(billing) if "First follow-up." in m.text()]

    desk.send(staff_mail(last(desk, "agent@support.example"), "/watch", sender=billing))
    desk.settle()
    desk.send(mail(subject=f"Re: [VB #{t.id}] Site down", body="Second follow-up."))
    desk.settle()
    assert "Second follow-up." in last(desk, billing).text()

    desk.send(staff_mail(last(desk, billing), "/unwatch", sender=billing))
    desk.settle()
    desk.send(mail(subject=f"Re: [VB #{t.id}] Site down", body="Third follow-up."))
    desk.settle()
    assert not [m for m in desk.sink.to(billing) if "Third follow-up." in m.text()]
    assert "Third follow-up." in last(desk, "agent@support.example").text()
