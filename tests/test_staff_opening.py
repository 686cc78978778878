"""A staff member opens a ticket for a customer (a request by phone, or mail sent to their own
inbox) with `/open ADDRESS` in a new mail: the request is logged, the customer gets the written
confirmation and may answer it, the author answers from the receipt. Only registered, active
contacts; all or nothing with the mail's other commands; staff addresses never shown."""

from __future__ import annotations

import io
import zipfile
from email import policy

import test_staff_flow
from conftest import add_contact, mail
from sqlmodel import select
from test_cli import cli_config, run_cli
from test_staff_flow import PASS, last, staff_mail, ticket

from gateway.store import repo
from gateway.store.tables import Inbound, Message, Quarantine, Ticket
from gateway.store.vault import Vault

desk = test_staff_flow.desk
ALICE, AGENT = "alice@customer.example", "agent@support.example"
CALL = "Alice called at 10:05: her shop shows error 500 since this morning."


def new_staff_mail(body: str, subject="Phone: shop down", sender=AGENT):
    message = mail(sender=f"Sam Agent <{sender}>", subject=subject, body=body)
    message["Authentication-Results"] = PASS
    return message


def tickets(gw) -> list[Ticket]:
    with gw.db.read() as session:
        return list(session.exec(select(Ticket).order_by(Ticket.id)))


def test_a_call_is_logged_confirmed_in_writing_and_answered_from_the_receipt(desk):
    assert desk.send(new_staff_mail(f"/open {ALICE}\n\n{CALL}"))[0] == 250
    desk.settle()

    [opened] = tickets(desk)
    assert opened.subject == "Phone: shop down" and opened.status == "new"
    with desk.db.read() as session:
        sam = repo.find_staff(session, AGENT)
        [request] = repo.ticket_messages(session, opened.id)
        alice = repo.find_contact(session, ALICE)
    assert opened.assignee_id == sam.id and opened.sla_due_at is not None
    assert request.body_text == CALL and request.visibility == "public"
    # the customer's request (exported and erased with their data), marked as logged by staff
    assert request.author_contact_id == alice.id and "opened-by-staff" in request.flags

    [confirmation] = desk.sink.to(ALICE)
    text = confirmation.text()
    assert f"Sam Agent, of our team, logged your request as ticket [VB #{opened.id}]" in text
    assert CALL in text and "/open" not in text
    assert confirmation.message["Reply-To"].addresses[0].addr_spec.startswith("support+")
    assert AGENT not in confirmation.raw.decode()

    receipt = last(desk, AGENT)
    assert receipt.message["Subject"].startswith(f"[VB #{opened.id}] Done")
    assert f"ticket opened for {ALICE}, assigned to you" in receipt.text()
    assert not desk.sink.to("second@support.example")  # assigned: nobody else disturbed

    desk.send(staff_mail(receipt, "Fixed: the cache was full."))
    desk.settle()
    assert "Fixed: the cache was full." in last(desk, ALICE).text()
    assert ticket(desk, opened.id).first_response_at is not None

    reply = mail(subject="Re: " + confirmation.message["Subject"], body="Thank you!",
                 In_Reply_To=confirmation.message["Message-ID"])  # fmt: skip
    desk.send(reply)
    desk.settle()
    assert len(tickets(desk)) == 1
    assert "Thank you!" in last(desk, AGENT).text()


def test_the_same_staff_mail_replayed_opens_nothing_more(desk):
    original = new_staff_mail(f"/open {ALICE}\n\n{CALL}")
    desk.send(original)
    desk.settle()
    replay = b"Cc: someone@evil.example\r\n" + original.as_bytes(policy=policy.SMTP)
    desk.send(replay, mail_from=AGENT, to=["support@support.example"])  # another delivery
    desk.settle()
    assert len(tickets(desk)) == 1 and len(desk.sink.to(ALICE)) == 1
    with desk.db.read() as session:
        assert [q.reason for q in session.exec(select(Quarantine))] == ["replayed-staff-mail"]


def test_a_forwarded_mail_becomes_the_request_without_the_staff_inbox_showing(desk):
    forwarded = (
        f"/open {ALICE}\n\n---------- Forwarded message ---------\n"
        f"From: Alice <{ALICE}>\nTo: Sam Agent <{AGENT.upper()}>\nSubject: invoice\n\n"
        "My invoice 2026-118 is wrong: I was billed twice."
    )
    desk.send(new_staff_mail(forwarded, subject="Fwd: invoice"))
    desk.settle()
    [opened] = tickets(desk)
    assert opened.subject == "invoice"
    text = last(desk, ALICE).text()
    assert "I was billed twice." in text and f"From: Alice <{ALICE}>" in text
    assert AGENT not in text.lower() and "To: Sam Agent <support@support.example>" in text


def test_other_commands_apply_to_the_new_ticket_all_or_nothing(desk):
    desk.send(new_staff_mail(f"/open {ALICE}\n/assign nobody-known\n\n{CALL}"))
    desk.settle()
    assert tickets(desk) == [] and desk.sink.to(ALICE) == []
    refused = last(desk, AGENT)
    assert "Not applied" in refused.message["Subject"] and "nobody-known" in refused.text()
    with desk.db.read() as session:
        assert [q.reason for q in session.exec(select(Quarantine))] == ["staff-commands"]

    desk.send(new_staff_mail(f"/open {ALICE}\n/priority urgent\n/transfer Billing\n\n{CALL}"))
    desk.settle()
    [opened] = tickets(desk)
    assert opened.priority == "urgent" and opened.assignee_id is None
    receipt = last(desk, AGENT).text()
    assert "not assigned to you" in receipt and "transferred to Billing" in receipt
    assert "handed this ticket to you" in last(desk, "billing@support.example").text()
    assert len(desk.sink.to(ALICE)) == 1


def test_only_a_registered_active_contact_gets_a_ticket(desk, tmp_path):
    from gateway.held_commands import set_contact_active

    with desk.db.write() as session:
        set_contact_active(session, "ops@customer.example", False, AGENT, desk.gw.clock())
    cases = {
        "someone@elsewhere.example": "is not a registered contact",
        "ops@customer.example": "is a deactivated contact",
    }
    for address, reason in cases.items():
        desk.send(new_staff_mail(f"/open {address}\n\n{CALL}"))
        desk.settle()
        assert reason in last(desk, AGENT).text()
        assert desk.sink.to(address) == []
    desk.send(new_staff_mail(f"/open {ALICE}\n"))
    desk.settle()
    assert "write the customer's request below this line" in last(desk, AGENT).text()
    assert tickets(desk) == []


def test_open_in_a_reply_on_a_ticket_is_refused(desk):
    t = test_staff_flow.open_ticket(desk)
    desk.send(staff_mail(last(desk, AGENT), f"/open {ALICE}\n\nSomething else."))
    desk.settle()
    assert "/open is not about this ticket" in last(desk, AGENT).text()
    assert [x.id for x in tickets(desk)] == [t.id]


def test_a_french_contact_is_confirmed_in_french(desk):
    add_contact(desk.db, "claire@customer.example", name="Claire", account="Alice Co", lang="fr")
    desk.send(new_staff_mail("/open claire@customer.example\n\nClaire a appelé : site lent."))
    desk.settle()
    text = last(desk, "claire@customer.example").text()
    assert "Sam Agent, de notre équipe, a enregistré votre demande" in text
    assert "Claire a appelé : site lent." in text


def test_the_logged_request_is_the_customers_data(desk, tmp_path, capsys):
    forwarded = f"/open {ALICE}\n\nFrom: Alice <{ALICE}>\nTo: <{AGENT}>\n\nMy invoice is wrong."
    desk.send(new_staff_mail(forwarded, subject="Fwd: invoice"))
    desk.settle()
    archive_path = tmp_path / "alice.zip"
    code, _, err = run_cli(capsys, cli_config(tmp_path, desk), "privacy", "export", ALICE,
                           "--output", str(archive_path))  # fmt: skip
    assert code == 0, err
    archive = zipfile.ZipFile(io.BytesIO(archive_path.read_bytes()))
    [eml] = [name for name in archive.namelist() if name.endswith(".eml")]
    exported = archive.read(eml).decode()
    assert "My invoice is wrong." in exported and AGENT not in exported

    code, _, err = run_cli(capsys, cli_config(tmp_path, desk), "privacy", "erase", ALICE)
    assert code == 0, err
    with desk.db.read() as session:  # read as a new process would: no key kept in memory
        session.info["vault"] = Vault(desk.db.vault.keys.path)
        raws = [row.raw or b"" for row in session.exec(select(Inbound))]
        texts = [m.body_text for m in session.exec(select(Message))]
    assert raws and not any(b"My invoice is wrong." in raw for raw in raws)  # the staff mail's
    assert texts and not any("My invoice is wrong." in text for text in texts)


def test_a_data_request_logged_by_staff_is_not_answered_by_itself(desk):
    logged = f"/open {ALICE}\n\nAlice asked by phone for a copy of my data, for her records."
    desk.send(new_staff_mail(logged, subject="Phone: her data"))
    desk.settle()
    received = desk.sink.to(ALICE)
    assert len(received) == 1 and "logged your request" in received[0].text()  # no zip
    told = [m for m in desk.sink.to(AGENT) if "Privacy request (export)" in m.text()]
    assert told and "verify before approving" in told[-1].text()
