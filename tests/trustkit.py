"""A gateway in `verify` mode over an in-memory DNS zone, with the people the trust tests use.

DNS of the test world (all test mail comes from 127.0.0.1):
- support.example (our company): DKIM key "company", SPF `-all` (only signed mail is ours),
  DMARC p=reject;
- customer.example: SPF allows 127.0.0.1, DKIM key "customer", DMARC p=reject;
- nodmarc.example: SPF allows nobody, no DMARC record (its mail is unverified);
- weak.example: SPF allows nobody, DMARC p=none (fails, but its owner asks us to accept);
- evil.example and saas.example: their own valid SPF and DKIM, no DMARC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage

from conftest import add_contact, mail
from mailauth import Zone, private_key, sign
from sqlmodel import select

from gateway.store import directory
from gateway.store.tables import Event, Message, Quarantine, Ticket

COMPANY, CUSTOMER = "support.example", "customer.example"
ALICE, OPS, BOB = "alice@customer.example", "ops@customer.example", "bob@customer.example"
AGENT = "agent@support.example"
AUTHSERV = "mx.support.example"


def zone() -> Zone:
    z = Zone()
    z.domain(COMPANY, spf="v=spf1 -all", key=private_key("company"))
    z.domain(CUSTOMER, key=private_key("customer"))
    z.domain("nodmarc.example", spf="v=spf1 -all", dmarc=None)
    z.domain("weak.example", spf="v=spf1 -all", dmarc="v=DMARC1; p=none")
    z.domain("evil.example", dmarc=None, key=private_key("evil"))
    z.domain("saas.example", dmarc=None, key=private_key("saas"))
    return z


def add_staff(db, email=AGENT, name="Sam Agent"):
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with db.write() as session:
        dept = directory.department_by_name(session, "Support") or directory.add_department(
            session, "Support", now
        )
        directory.add_staff(
            session, email=email, name=name, department_id=dept.id, role="agent", now=now
        )


def start_verifying(start_gateway, **sections):
    """A gateway that checks DKIM, SPF and DMARC itself, with Alice's account and one agent."""
    gw = start_gateway(
        resolver=zone(), auth={"mode": "verify"}, routing={"default_department": "Support"},
        **sections,
    )  # fmt: skip
    add_contact(gw.db, ALICE, name="Alice", account="Alice Co")
    add_contact(gw.db, OPS, name="Ops", account="Alice Co", role="admin")
    add_staff(gw.db)
    return gw


def raw(message: EmailMessage) -> bytes:
    return message.as_bytes(policy=policy.SMTP)


def signed(message: EmailMessage, domain: str, key_name: str) -> bytes:
    return sign(raw(message), domain, private_key(key_name))


def send(gw, data: bytes | EmailMessage, mail_from: str, to=("support@support.example",)):
    """Send with an explicit envelope sender (SPF is checked against it)."""
    data = raw(data) if isinstance(data, EmailMessage) else data
    with gw.smtp() as client:
        client.ehlo()
        client.mail(mail_from)
        for rcpt in to:
            assert client.rcpt(rcpt)[0] == 250
        code, _ = client.data(data)
    assert code == 250
    gw.settle()


def open_ticket(gw, body="My site is down.", subject="Site down") -> Ticket:
    send(gw, mail(subject=subject, body=body), ALICE)
    with gw.db.read() as session:
        return session.exec(select(Ticket).order_by(Ticket.id.desc())).first()


def staff_reply(gw, body: str, sender=AGENT, **headers) -> EmailMessage:
    """A reply to the latest staff notification, as an agent's mail client writes it."""
    notification = gw.sink.to(AGENT)[-1].message
    return mail(
        sender=sender,
        subject="Re: " + notification["Subject"],
        body=body,
        In_Reply_To=notification["Message-ID"],
        References=notification["Message-ID"],
        **headers,
    )


def ticket(gw, number: int) -> Ticket:
    with gw.db.read() as session:
        return session.get(Ticket, number)


def messages(gw, number: int) -> list[Message]:
    with gw.db.read() as session:
        return list(session.exec(select(Message).where(Message.ticket_id == number)))


def held(gw) -> list[Quarantine]:
    with gw.db.read() as session:
        return list(session.exec(select(Quarantine).order_by(Quarantine.id)))


def events(gw, kind: str) -> list[Event]:
    with gw.db.read() as session:
        return list(session.exec(select(Event).where(Event.kind == kind)))


def customers_mail(gw) -> list:
    """Everything sent to anyone who is not staff."""
    return [m for m in gw.sink.received if not all(r.endswith("@" + COMPANY) for r in m.rcpt_tos)]


# Resellers and permission requests --------------------------------------------------------

RITA, RUTH, INTERN = "rita@customer.example", "ruth@customer.example", "intern@customer.example"
QUESTION = "Log into your server as root to repair the MySQL tables (about 30 minutes)."


def make_reseller(gw) -> None:
    """Alice Co becomes a client of Reseller Co (owner Rita, user Ruth); Alice Co gets a user."""
    from gateway.store import accounts

    now = datetime(2026, 1, 1, tzinfo=UTC)
    with gw.db.write() as session:
        assert accounts.add_account(session, "Reseller Co", None, now) is None
        client = accounts.account_by_name(session, "Alice Co")
        client.parent_id = accounts.account_by_name(session, "Reseller Co").id
        session.add(client)
    add_contact(gw.db, RITA, name="Rita", account="Reseller Co", role="owner")
    add_contact(gw.db, RUTH, name="Ruth", account="Reseller Co", role="user")
    add_contact(gw.db, INTERN, name="Intern", account="Alice Co", role="user")


def ask_permission(gw, question=QUESTION) -> None:
    """An agent's verified `/ask-permission` on the latest ticket."""
    reply = staff_reply(gw, f"/ask-permission {question}")
    send(gw, signed(reply, COMPANY, "company"), mail_from=AGENT)


def request_mail(gw, address: str):
    subjects = ("permission is requested", "autorisation est demandée")
    [found] = [m for m in gw.sink.to(address) if any(s in m.message["Subject"] for s in subjects)]
    return found


def answer(gw, address: str, first_line: str, *, mail_from=None, request_to=ALICE) -> bytes:
    """`address` replies to the request mail `request_to` received; returns the raw sent."""
    request = request_mail(gw, request_to).message
    message = mail(
        sender=address,
        to=request["Reply-To"],
        subject="Re: " + request["Subject"],
        body=f"{first_line}\n\nOn Monday, Example Hosting wrote:\n> {QUESTION}\n",
        In_Reply_To=request["Message-ID"],
    )
    data = raw(message)
    send(gw, data, mail_from=mail_from or address, to=(request["Reply-To"],))
    return data


def approvals(gw) -> list:
    from gateway.store.tables import Approval

    with gw.db.read() as session:
        return list(session.exec(select(Approval).order_by(Approval.id)))
