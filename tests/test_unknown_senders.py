"""Mail from people who are not registered contacts, over real SMTP: no ticket, held with a
reason, at most one fixed-text notice a day that echoes nothing, no answer at all to
automatic mail (RFC 3834), and nothing of any ticket for a stranger (the "Ticket Trick")."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

import pytest
from conftest import add_contact, mail
from sqlmodel import func, select

from gateway import cli_mail
from gateway.dispatch import HOUR
from gateway.store import repo, spool
from gateway.store.tables import Event, Quarantine, Ticket

ALICE = "alice@customer.example"
STRANGER = "mallory@stranger.example"
SUPPORT = "support@support.example"

# Words only the stranger wrote; none may come back to them.
CANARY_SUBJECT = "Account verification XQ-SUBJECT-7731"
CANARY_BODY = "Your one-time code is 918273 (CANARY-BODY)."
CANARY_NAME = "Mallory CANARY-NAME"


def stranger_mail(**kwargs):
    values = {"sender": f"{CANARY_NAME} <{STRANGER}>", "subject": CANARY_SUBJECT}
    values["body"] = CANARY_BODY
    values.update(kwargs)
    return mail(**values)


def send(gw, message, mail_from=STRANGER, to=(SUPPORT,)) -> int:
    """Send with an explicit envelope; `mail_from=""` is the null sender of a bounce."""
    with gw.smtp() as client:
        client.ehlo()
        client.mail(mail_from)
        for rcpt in to:
            assert client.rcpt(rcpt)[0] == 250
        code, _ = client.data(message.as_bytes())
    return code


def count(db, table) -> int:
    with db.read() as session:
        return session.exec(select(func.count()).select_from(table)).one()


def held_list(gw, tmp_path) -> list[dict]:
    """`gateway --config FILE held list --json`, run as a separate process."""
    config = tmp_path / "cli.toml"
    config.write_text(f'[database]\nurl = "{gw.config.database.url}"\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    result = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "--config", str(config), "held", "list", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


def assert_echoes_nothing(received) -> None:
    raw = received.raw.decode("utf-8", "replace")
    text = received.text()
    html_part = received.message.get_body(preferencelist=("html",))
    html = html_part.get_content() if html_part is not None else ""
    for canary in ("XQ-SUBJECT-7731", "918273", "CANARY-BODY", "CANARY-NAME", "Mallory"):
        assert canary not in raw and canary not in text and canary not in html, canary


def test_stranger_gets_no_ticket_is_held_and_gets_one_fixed_notice(gateway, tmp_path):
    assert send(gateway, stranger_mail()) == 250
    gateway.settle()

    assert count(gateway.db, Ticket) == 0
    [entry] = held_list(gateway, tmp_path)
    assert entry["sender"] == STRANGER and entry["reason"] == "unknown-sender"

    [notice] = gateway.sink.to(STRANGER)
    assert notice.mail_from in ("", "<>")  # null sender: nobody answers an auto-reply
    message = notice.message
    assert message["Auto-Submitted"] == "auto-replied"
    assert "not registered" in notice.text()
    assert message["In-Reply-To"] is None and message["Reply-To"] is None
    assert_echoes_nothing(notice)
    assert len(gateway.sink.received) == 1  # and nobody else was written to


def test_notice_at_most_once_a_day_then_again_after_24_hours(gateway, clock):
    assert send(gateway, stranger_mail(body="first")) == 250
    gateway.settle()
    assert len(gateway.sink.to(STRANGER)) == 1

    clock.advance(hours=23, minutes=59)
    assert send(gateway, stranger_mail(body="second, same day")) == 250
    gateway.settle()
    assert len(gateway.sink.to(STRANGER)) == 1
    assert count(gateway.db, Quarantine) == 2  # held all the same

    clock.advance(minutes=2)  # now just past 24 hours since the notice
    assert send(gateway, stranger_mail(body="third, next day")) == 250
    gateway.settle()
    notices = gateway.sink.to(STRANGER)
    assert len(notices) == 2
    assert_echoes_nothing(notices[1])

    clock.advance(hours=1)
    assert send(gateway, stranger_mail(body="fourth")) == 250
    gateway.settle()
    assert len(gateway.sink.to(STRANGER)) == 2
    assert count(gateway.db, Ticket) == 0


def test_the_notice_window_is_per_address(gateway):
    send(gateway, stranger_mail())
    other = "eve@stranger.example"
    send(gateway, mail(sender=other, body="hello"), mail_from=other)
    gateway.settle()
    assert len(gateway.sink.to(STRANGER)) == 1
    assert len(gateway.sink.to(other)) == 1


AUTOMATIC = [
    ("null-sender", {}, ""),
    ("auto-submitted", {"Auto_Submitted": "auto-replied"}, STRANGER),
    ("auto-generated", {"Auto_Submitted": "auto-generated"}, STRANGER),
    ("precedence-bulk", {"Precedence": "bulk"}, STRANGER),
    ("precedence-list", {"Precedence": "list"}, STRANGER),
    ("list-id", {"List_Id": "Announcements <announce.lists.example>"}, STRANGER),
    ("x-autoreply", {"X_Autoreply": "yes"}, STRANGER),
    ("our-loop-header", {"X_Gateway_Loop": "support.example"}, STRANGER),
    ("mailer-daemon", {}, "MAILER-DAEMON@stranger.example"),
]


@pytest.mark.parametrize(
    "headers, envelope_from", [c[1:] for c in AUTOMATIC], ids=[c[0] for c in AUTOMATIC]
)
def test_automatic_mail_from_a_stranger_is_never_answered(gateway, headers, envelope_from):
    assert send(gateway, stranger_mail(**headers), mail_from=envelope_from) == 250
    gateway.settle()
    assert gateway.sink.received == []
    with gateway.db.read() as session:
        [held] = spool.list_quarantine(session, 10)
    assert held.reason == "automatic" and "not a registered contact" in held.detail
    assert count(gateway.db, Ticket) == 0


def test_automatic_mail_does_not_use_up_the_daily_notice(gateway):
    """An auto-reply is not answered, and a person writing later still hears from us."""
    send(gateway, stranger_mail(Auto_Submitted="auto-replied"))
    gateway.settle()
    send(gateway, stranger_mail(body="a person, this time"))
    gateway.settle()
    assert len(gateway.sink.to(STRANGER)) == 1


def test_contact_auto_reply_that_threads_nowhere_opens_no_ticket(gateway):
    add_contact(gateway.db, ALICE)
    out_of_office = mail(
        subject="Out of office: back on Monday",
        body="I am away until Monday.",
        Auto_Submitted="auto-replied",
    )
    assert send(gateway, out_of_office, mail_from=ALICE) == 250
    gateway.settle()
    assert count(gateway.db, Ticket) == 0
    assert gateway.sink.received == []  # no confirmation, no notice
    with gateway.db.read() as session:
        [held] = spool.list_quarantine(session, 10)
    assert held.sender == ALICE and held.reason == "automatic"


@pytest.fixture
def alice_ticket(gateway):
    """A ticket whose content a stranger would like to read (a verification mail, say)."""
    add_contact(gateway.db, ALICE)
    secret = mail(subject="Your login code for Hosting Panel", body="Login code: 55-SECRET-55")
    assert send(gateway, secret, mail_from=ALICE) == 250
    gateway.settle()
    with gateway.db.read() as session:
        [ticket] = session.exec(select(Ticket)).all()
    received = gateway.sink.to(ALICE)
    # Once this held two mails on a loaded machine: say which, should it happen again.
    assert len(received) == 1, [
        (m.message["Subject"], m.message["Auto-Submitted"]) for m in received
    ]
    return ticket, received[0]


def assert_nothing_leaked(gateway, ticket) -> None:
    with gateway.db.read() as session:
        bodies = [m.body_text for m in repo.ticket_messages(session, ticket.id)]
    assert bodies == ["Login code: 55-SECRET-55"]  # nothing appended to the ticket
    assert count(gateway.db, Ticket) == 1
    for received in gateway.sink.to(STRANGER):
        raw = received.raw.decode("utf-8", "replace")
        for secret in ("55-SECRET-55", "Hosting Panel", ticket.reply_token, f"#{ticket.id}]"):
            assert secret not in raw and secret not in received.text()
        assert ALICE not in raw


def test_ticket_trick_stranger_citing_the_ticket_gets_nothing_of_it(gateway, alice_ticket):
    ticket, confirmation = alice_ticket
    reply = stranger_mail(
        subject=f"Re: [VB #{ticket.id}] Your login code for Hosting Panel",
        body="Please resend the code.",
        In_Reply_To=confirmation.message["Message-ID"],
        References=confirmation.message["Message-ID"],
    )
    assert send(gateway, reply) == 250
    gateway.settle()
    assert_nothing_leaked(gateway, ticket)
    assert len(gateway.sink.to(STRANGER)) == 1  # only the fixed notice


def test_ticket_trick_stranger_writing_to_the_token_address_gets_nothing(gateway, alice_ticket):
    ticket, _ = alice_ticket
    token_address = f"support+{ticket.reply_token}@support.example"
    message = stranger_mail(to=token_address, subject="anything", body="Send me the thread.")
    assert send(gateway, message, to=(token_address,)) == 250
    gateway.settle()
    assert_nothing_leaked(gateway, ticket)
    with gateway.db.read() as session:
        [held] = [q for q in spool.list_quarantine(session, 10) if q.sender == STRANGER]
    assert held.reason == "unknown-sender"


def test_ticket_trick_service_verification_mail_reaches_no_one(gateway, alice_ticket):
    """A stranger signs up somewhere with our support address; the service's verification
    mail comes to us and must not reach anyone, nor open a ticket the stranger could follow."""
    ticket, _ = alice_ticket
    verification = mail(
        sender="no-reply@service.example",
        subject="Confirm your address",
        body="Click https://service.example/confirm/ABC-VERIFY to confirm.",
        Auto_Submitted="auto-generated",
    )
    assert send(gateway, verification, mail_from="bounces@service.example") == 250
    gateway.settle()
    assert_nothing_leaked(gateway, ticket)
    for received in gateway.sink.received:
        assert "ABC-VERIFY" not in received.raw.decode("utf-8", "replace")
    assert [r.rcpt_tos for r in gateway.sink.received] == [[ALICE]]  # only the confirmation


def test_the_notice_goes_to_the_envelope_sender_not_the_from(gateway, clock):
    """RFC 3834 4: automatic answers go to the Return-Path. A stranger can put anyone in From;
    the notice (and its once-a-day window) follows the envelope sender."""
    bounce_box = "bounces-4471@mail.stranger.example"
    assert send(gateway, stranger_mail(), mail_from=bounce_box) == 250
    gateway.settle()
    assert gateway.sink.to(STRANGER) == []
    [notice] = gateway.sink.to(bounce_box)
    assert_echoes_nothing(notice)

    clock.advance(hours=1)
    assert send(gateway, stranger_mail(body="again"), mail_from=bounce_box) == 250
    assert send(gateway, stranger_mail(body="other path")) == 250  # envelope: the From
    gateway.settle()
    assert len(gateway.sink.to(bounce_box)) == 1
    assert len(gateway.sink.to(STRANGER)) == 1


def test_held_mail_is_forgotten_after_the_configured_days(gateway, tmp_path, clock):
    """Data minimisation: a stranger's mail is kept for no ticket, so after `lifecycle.held_days`
    (30) its bytes and its sender's address leave the spool and it leaves the held list."""
    other = "trudy@elsewhere.example"
    assert send(gateway, stranger_mail()) == 250
    gateway.settle()
    clock.advance(days=20)
    assert send(gateway, stranger_mail(sender=other), mail_from=other) == 250
    gateway.settle()
    clock.advance(days=11)  # the first was held 31 days ago, the second 11
    assert gateway.gw.jobs.run("forget-held") == 1
    assert [h["sender"] for h in held_list(gateway, tmp_path)] == [other]
    with gateway.db.read() as session:
        first, second = spool.list_inbound(session, None, 10)[::-1]
        assert (first.raw, first.mail_from, first.peer) == (b"", "", "")
        assert CANARY_BODY.encode() in second.raw and second.mail_from == other
        [event] = session.exec(select(Event).where(Event.kind == "held-forgotten")).all()
        assert json.loads(event.detail) == {"count": 1}
    assert gateway.gw.jobs.run("forget-held") == 0  # nothing twice


def test_a_flood_in_forged_names_gets_notices_up_to_an_hourly_cap(start_gateway, clock, capsys):
    """Mail in many forged names would have the gateway mail bomb their owners, a notice each
    (research case 30): past `limits.stranger_notices_per_hour` for all of them together none
    is sent, the mail is held all the same, and `gateway status` names the flood."""
    gw = start_gateway(limits={"stranger_notices_per_hour": 3})
    forged = [f"victim{n}@elsewhere.example" for n in range(5)]
    for address in forged:
        assert send(gw, mail(sender=address, body="Buy now"), mail_from=address) == 250
    gw.settle()
    assert sum(1 for address in forged if gw.sink.to(address)) == 3
    with gw.db.read() as session:
        held = spool.list_quarantine(session, 10)
        capped = repo.count_events_since(session, "stranger-notices-capped", clock() - HOUR)
    assert len(held) == 5 and capped == 1  # noted once, however many were withheld
    assert sum("hourly cap" in entry.detail for entry in held) == 2
    assert _status(gw, capsys)["attention"] == [
        f"at {clock():%Y-%m-%d %H:%M} UTC notices to unknown senders reached "
        "limits.stranger_notices_per_hour: mail in forged names? It is held unanswered: "
        "gateway held list"
    ]

    clock.advance(hours=1, minutes=1)  # the first three notices are over an hour old
    late = "late@elsewhere.example"
    assert send(gw, mail(sender=late, body="Hello?"), mail_from=late) == 250
    gw.settle()
    assert len(gw.sink.to(late)) == 1
    clock.advance(hours=2)
    assert _status(gw, capsys)["attention"] == []


def _status(gw, capsys) -> dict:
    """`gateway status --json` on this gateway and its clock."""
    capsys.readouterr()
    cli_mail._status(gw.gw, argparse.Namespace(json=True))
    return json.loads(capsys.readouterr().out)
