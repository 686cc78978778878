"""End to end over loopback: a customer's mail becomes a ticket and is confirmed in writing;
replies thread back by token, by In-Reply-To and by subject tag."""

from __future__ import annotations

from conftest import add_contact, mail

from gateway.store import repo
from gateway.store.tables import Message, Ticket


def tickets(db):
    from sqlmodel import select

    with db.read() as session:
        return list(session.exec(select(Ticket).order_by(Ticket.id)))


def messages(db, ticket_id):
    with db.read() as session:
        return repo.ticket_messages(session, ticket_id)


def test_new_mail_opens_ticket_and_confirms_in_english(gateway):
    add_contact(gateway.db, "alice@customer.example", name="Alice", lang="en")
    code, _ = gateway.send(mail(subject="Site down", body="My site example.org is down."))
    assert code == 250
    gateway.settle()

    [ticket] = tickets(gateway.db)
    assert ticket.status == "new" and ticket.subject == "Site down"
    assert ticket.sla_due_at is not None
    [confirmation] = gateway.sink.to("alice@customer.example")
    message = confirmation.message
    assert message["Subject"] == f"[VB #{ticket.id}] Site down"
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["Reply-To"] == f"support+{ticket.reply_token}@support.example"
    assert message["In-Reply-To"] == messages(gateway.db, ticket.id)[0].message_id
    assert message["Content-Language"] == "en"
    text = confirmation.text()
    assert "My site example.org is down." in text  # the request as recorded
    assert "within 60 minutes" in text  # the SLA from configuration
    assert message.get_body(preferencelist=("html",)) is not None
    assert len(ticket.reply_token) >= 26  # >= 128 bits of base32


def test_confirmation_in_french_for_french_contact(start_gateway):
    gw = start_gateway(sla={"first_response_minutes": 45})
    add_contact(gw.db, "claire@client.example", name="Claire", lang="fr")
    gw.send(mail(sender="claire@client.example", subject="Panne", body="Mon site est en panne."))
    gw.settle()
    [confirmation] = gw.sink.to("claire@client.example")
    assert confirmation.message["Content-Language"] == "fr"
    text = confirmation.text()
    assert "Nous avons bien reçu votre demande" in text
    assert "dans les 45 minutes" in text
    assert "Mon site est en panne." in text


def reply_to(confirmation, **kwargs):
    original = confirmation.message
    return mail(
        subject="Re: " + original["Subject"],
        In_Reply_To=original["Message-ID"],
        References=original["Message-ID"],
        **kwargs,
    )


def test_reply_to_confirmation_joins_ticket_by_in_reply_to(gateway):
    add_contact(gateway.db, "alice@customer.example")
    gateway.send(mail(subject="Billing question"))
    gateway.settle()
    [confirmation] = gateway.sink.to("alice@customer.example")
    reply = mail(
        subject="Re: something else entirely",
        body="Here is more detail.",
        In_Reply_To=confirmation.message["Message-ID"],
    )
    assert gateway.send(reply)[0] == 250
    gateway.settle()
    [ticket] = tickets(gateway.db)
    bodies = [m.body_text for m in messages(gateway.db, ticket.id)]
    assert bodies[-1] == "Here is more detail."
    assert len(gateway.sink.to("alice@customer.example")) == 1  # follow-ups are not re-confirmed


def test_reply_by_token_address_joins_ticket(gateway):
    add_contact(gateway.db, "alice@customer.example")
    gateway.send(mail(subject="DNS"))
    gateway.settle()
    [ticket] = tickets(gateway.db)
    token_address = f"support+{ticket.reply_token}@support.example"
    gateway.send(mail(to=token_address, subject="no tag here", body="via token"))
    gateway.settle()
    assert [m.body_text for m in messages(gateway.db, ticket.id)][-1] == "via token"
    assert len(tickets(gateway.db)) == 1


def test_reply_by_subject_tag_from_participant(gateway):
    add_contact(gateway.db, "alice@customer.example")
    add_contact(gateway.db, "ops@customer.example")  # same account
    gateway.send(mail(subject="Mail quota"))
    gateway.settle()
    [ticket] = tickets(gateway.db)
    gateway.send(mail(sender="ops@customer.example", subject=f"Re: [VB #{ticket.id}] x", body="+1"))
    gateway.settle()
    assert len(tickets(gateway.db)) == 1
    assert messages(gateway.db, ticket.id)[-1].author_email == "ops@customer.example"


def test_other_customer_citing_a_tag_gets_own_ticket(gateway):
    add_contact(gateway.db, "alice@customer.example", account="Alice Co")
    add_contact(gateway.db, "mallory@other.example", account="Other Co")
    gateway.send(mail(subject="Private"))
    gateway.settle()
    [first] = tickets(gateway.db)
    gateway.send(
        mail(sender="mallory@other.example", subject=f"Re: [VB #{first.id}] hi", body="inject")
    )
    gateway.settle()
    all_tickets = tickets(gateway.db)
    assert len(all_tickets) == 2
    assert [m.body_text for m in messages(gateway.db, first.id)] == ["My site is down."]
    confirmations = gateway.sink.to("mallory@other.example")
    assert len(confirmations) == 1
    assert "My site is down." not in confirmations[0].text()


def test_same_message_twice_is_recorded_once(gateway):
    add_contact(gateway.db, "alice@customer.example")
    message = mail(message_id="<dup-1@customer.example>")
    assert gateway.send(message)[0] == 250
    assert gateway.send(message)[0] == 250
    gateway.settle()
    [ticket] = tickets(gateway.db)
    assert len(messages(gateway.db, ticket.id)) == 1
    assert len(gateway.sink.to("alice@customer.example")) == 1


def test_reused_message_id_with_other_content_is_kept_and_flagged(gateway):
    add_contact(gateway.db, "alice@customer.example")
    gateway.send(mail(message_id="<same@customer.example>", subject="First", body="one"))
    gateway.settle()
    [confirmation] = gateway.sink.to("alice@customer.example")
    second = mail(
        message_id="<same@customer.example>",
        subject="Second",
        body="two",
        In_Reply_To=confirmation.message["Message-ID"],
    )
    gateway.send(second)
    gateway.settle()
    [ticket] = tickets(gateway.db)
    stored = messages(gateway.db, ticket.id)
    assert [m.body_text for m in stored] == ["one", "two"]
    assert "message-id-reused" in stored[1].flags
    assert stored[1].message_id != stored[0].message_id


def test_reply_to_resolved_ticket_reopens_it(gateway):
    add_contact(gateway.db, "alice@customer.example")
    gateway.send(mail())
    gateway.settle()
    [ticket] = tickets(gateway.db)
    with gateway.db.write() as session:
        row = session.get(Ticket, ticket.id)
        row.status = "resolved"
    gateway.send(mail(to=f"support+{ticket.reply_token}@support.example", body="still broken"))
    gateway.settle()
    [ticket] = tickets(gateway.db)
    assert ticket.status == "open"


def test_rcpt_outside_our_domains_is_refused(gateway):
    with gateway.smtp() as client:
        client.ehlo()
        client.mail("alice@customer.example")
        code, text = client.rcpt("someone@elsewhere.example")
    assert code == 550 and b"own domains" in text


def test_mail_to_complaints_address_opens_a_complaint(gateway):
    add_contact(gateway.db, "alice@customer.example")
    gateway.send(mail(to="complaints@support.example", subject="Unhappy"))
    gateway.settle()
    [ticket] = tickets(gateway.db)
    assert ticket.category == "complaint"


def test_stored_message_keeps_raw_bytes(gateway):
    add_contact(gateway.db, "alice@customer.example")
    message = mail(body="exact words")
    gateway.send(message)
    gateway.settle()
    from gateway.store.tables import Inbound

    with gateway.db.read() as session:
        stored = session.get(Message, 1)
        inbound = session.get(Inbound, stored.inbound_id)
    assert b"exact words" in inbound.raw
    assert f"Message-ID: {message['Message-ID']}".encode() in inbound.raw


def test_reply_above_our_marker_keeps_only_the_new_text(gateway):
    add_contact(gateway.db, "alice@customer.example")
    gateway.send(mail(subject="Backup"))
    gateway.settle()
    [confirmation] = gateway.sink.to("alice@customer.example")
    quoted_without_markers = confirmation.text()  # some clients paste the mail as is
    reply = reply_to(confirmation, body="It failed again last night.\n\n" + quoted_without_markers)
    gateway.send(reply)
    gateway.settle()
    [ticket] = tickets(gateway.db)
    latest = messages(gateway.db, ticket.id)[-1]
    assert latest.new_text == "It failed again last night."
    assert "We have received your request" in latest.body_text  # the full original is kept


def test_a_new_request_keeps_its_forwarded_content(gateway):
    add_contact(gateway.db, "alice@customer.example")
    body = (
        "Please look at the error below.\n\n"
        "-----Original Message-----\nFrom: monitor@customer.example\nSent: Monday\n"
        "Subject: disk full\n\nDisk /var is 100% full on web1."
    )
    gateway.send(mail(subject="FW: disk full", body=body))
    gateway.settle()
    [ticket] = tickets(gateway.db)
    assert "Disk /var is 100% full on web1." in messages(gateway.db, ticket.id)[0].new_text
