"""Held mail handled from a mail client: a manager answers the daily list of held mail with
`/contact add` and `/release`, and the customer's colleague who wrote before being registered
gets their ticket and confirmation. Only managers may; the lines are all or nothing; on a
ticket these commands are refused."""

from __future__ import annotations

from email import policy

from conftest import add_contact, mail
from sqlmodel import select
from test_staff_flow import AUTHSERV, PASS, add_staff, last, open_ticket, staff_mail

from gateway.store import directory
from gateway.store.tables import Quarantine, Ticket

BOB, BOSS, AGENT = "bob@customer.example", "boss@support.example", "agent@support.example"


def start(start_gateway):
    gw = start_gateway(
        auth={"trusted_authserv_ids": (AUTHSERV,)}, routing={"default_department": "Support"}
    )
    add_contact(gw.db, "alice@customer.example", name="Alice", account="Acme")
    add_staff(gw.db, AGENT, "Sam Agent")
    add_staff(gw.db, BOSS, "Bea Boss", manager=True)
    return gw


def held_from_bob(gw, clock) -> int:
    gw.send(mail(sender=f"Bob <{BOB}>", subject="DNS", body="Our DNS zone is broken."))
    gw.settle()
    with gw.db.read() as session:
        held = session.exec(select(Quarantine).where(Quarantine.sender == BOB)).one()
    clock.advance(days=1)
    assert gw.gw.jobs.run("held-digest") == 1
    gw.settle()
    return held.id


def tickets(gw) -> list[Ticket]:
    with gw.db.read() as session:
        return list(session.exec(select(Ticket).order_by(Ticket.id)))


def test_a_manager_registers_the_sender_and_releases_their_mail(start_gateway, clock):
    gw = start(start_gateway)
    number = held_from_bob(gw, clock)
    digest = last(gw, BOSS)
    assert f"#{number}" in digest.text() and "/release ID" in digest.text()
    answer = f"/contact add {BOB} admin fr Acme\n/release {number}\n"
    gw.send(staff_mail(digest, answer, sender=BOSS))
    gw.settle()
    [receipt] = [m.text() for m in gw.sink.to(BOSS) if "Done:" in m.message["Subject"]]
    assert f"{BOB} registered (admin)" in receipt
    assert f"held mail #{number} released" in receipt
    [ticket] = tickets(gw)
    assert ticket.subject == "DNS"
    confirmation = last(gw, BOB)
    assert f"[VB #{ticket.id}]" in confirmation.message["Subject"]
    assert "Nous avons bien reçu votre demande" in confirmation.text()  # in their language
    with gw.db.read() as session:
        bob = directory.contact_by_email(session, BOB)
        assert (bob.role, bob.language) == ("admin", "fr")
    clock.advance(days=1)  # the manager's own mail is not in the next list
    assert gw.gw.jobs.run("held-digest") == 0


def test_only_a_manager_may_and_every_line_must_hold(start_gateway, clock):
    gw = start(start_gateway)
    number = held_from_bob(gw, clock)
    digest = last(gw, BOSS)
    gw.send(staff_mail(digest, f"/contact add {BOB} Acme\n/release {number}", sender=AGENT))
    gw.send(staff_mail(digest, f"/contact add {BOB} Nowhere Inc\n/release {number}", sender=BOSS))
    gw.send(staff_mail(digest, f"/release {number + 100}", sender=BOSS))
    gw.settle()
    agent_receipt = last(gw, AGENT).text()
    assert "only a manager may register or deactivate contacts and release held mail" in (
        agent_receipt
    )
    boss_receipts = [m.text() for m in gw.sink.to(BOSS) if "Not applied" in m.message["Subject"]]
    assert any("there is no customer account named 'Nowhere Inc'" in t for t in boss_receipts)
    assert any(f"there is no held mail #{number + 100}" in t for t in boss_receipts)
    assert tickets(gw) == []
    with gw.db.read() as session:
        assert directory.contact_by_email(session, BOB) is None


def test_on_a_ticket_these_commands_are_refused(start_gateway, clock):
    gw = start(start_gateway)
    t = open_ticket(gw)
    gw.send(staff_mail(last(gw, BOSS), f"/contact add {BOB} Acme\n\nHello.", sender=BOSS))
    gw.settle()
    receipt = last(gw, BOSS).text()
    assert "/contact is about held mail, not a ticket" in receipt
    with gw.db.read() as session:
        assert directory.contact_by_email(session, BOB) is None
        assert session.get(Ticket, t.id).first_response_at is None  # nothing was relayed


def from_boss(subject: str, body: str):
    """A verified mail of the manager's own, naming no ticket."""
    message = mail(sender=f"Bea Boss <{BOSS}>", subject=subject, body=body)
    message["Authentication-Results"] = PASS
    return message


def test_a_manager_deactivates_a_contact_who_left_by_mail(start_gateway, clock):
    gw = start(start_gateway)
    t = open_ticket(gw)
    gw.send(from_boss("Alice left Acme", "/contact deactivate Alice@Customer.example"))
    gw.settle()
    [receipt] = [m.text() for m in gw.sink.to(BOSS) if "Done:" in m.message["Subject"]]
    assert (
        f"alice@customer.example deactivated: their mail is held, none is sent to them; "
        f"tickets they opened, not closed: [{t.id}]" in " ".join(receipt.split())
    )
    with gw.db.read() as session:
        assert directory.contact_by_email(session, "alice@customer.example").active is False
    gw.send(from_boss("Back", "/contact activate alice@customer.example"))
    gw.settle()
    with gw.db.read() as session:
        assert directory.contact_by_email(session, "alice@customer.example").active is True


def test_a_look_alike_address_is_shown_for_what_it_is_and_not_registered_by_mail(
    start_gateway, clock
):
    """Research case 12: `agent@suppοrt.example` with a Greek omicron reads as our domain."""
    gw = start(start_gateway)
    look_alike = "bob@cust\u03bfmer.example"
    message = mail(subject="DNS", body="Our DNS zone is broken.")
    del message["From"]
    message["From"] = look_alike
    with gw.smtp() as client:
        client.ehlo()
        client.mail(look_alike, options=["SMTPUTF8"])
        client.rcpt("support@support.example")
        assert client.data(message.as_bytes(policy=policy.SMTPUTF8))[0] == 250
    gw.settle()
    clock.advance(days=1)
    assert gw.gw.jobs.run("held-digest") == 1
    gw.settle()
    digest = last(gw, BOSS)
    assert "[not plain ASCII: bob@xn--custmer-" in digest.text()
    gw.send(staff_mail(digest, f"/contact add {look_alike} user en Acme\n", sender=BOSS))
    gw.settle()
    assert "letters outside ASCII" in last(gw, BOSS).text()
    with gw.db.read() as session:
        assert directory.contact_by_email(session, look_alike) is None
