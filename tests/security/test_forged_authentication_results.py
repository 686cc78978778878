"""Attack: the sender writes an Authentication-Results header naming our own authserv-id and
claiming DMARC pass (RFC 8601 section 5). In trusted-headers mode only the topmost header,
added by our border, counts; in verify mode none does. Either way the forgery is removed from
the parsed view before anything reads it, and the raw bytes keep it as evidence."""

from __future__ import annotations

import pytest
from conftest import add_contact, mail
from sqlmodel import select
from trustkit import AGENT, ALICE, AUTHSERV, add_staff, held, open_ticket, raw, send, staff_reply
from trustkit import ticket as get_ticket

from gateway.store.tables import Inbound, Message

FORGED = f"{AUTHSERV}; dkim=pass header.d=support.example; dmarc=pass header.from=support.example"
BORDER = f"{AUTHSERV}; spf=fail smtp.mailfrom=support.example; dkim=none; dmarc=fail (p=REJECT) header.from=support.example"  # noqa: E501


def _forged_staff_mail(gw, border: str | None):
    message = staff_reply(gw, "/status closed\nAll done.")
    message["Authentication-Results"] = FORGED  # written by the sender, inside the message
    data = raw(message)
    if border:  # what our border MTA prepends on top
        data = f"Authentication-Results: {border}\r\n".encode() + data
    return data


def test_forged_results_below_our_border_header_are_ignored(start_gateway):
    gw = start_gateway(auth={"trusted_authserv_ids": (AUTHSERV,)})
    add_contact(gw.db, ALICE, account="Alice Co")
    add_staff(gw.db)
    t = open_ticket(gw)
    before = len(gw.sink.to(ALICE))
    send(gw, _forged_staff_mail(gw, BORDER), mail_from=AGENT)
    assert get_ticket(gw, t.id).status == "new"
    assert len(gw.sink.to(ALICE)) == before
    [entry] = [h for h in held(gw) if h.reason == "unverified-staff"]
    assert "dmarc=fail" in entry.detail
    with gw.db.read() as session:
        stored = session.exec(select(Inbound).order_by(Inbound.id.desc())).first().raw
    assert b"dmarc=pass header.from=support.example" in stored  # kept as received (evidence)


@pytest.mark.parametrize("border", [None, BORDER])
def test_forged_results_count_for_nothing_in_verify_mode(verifying, border):
    gw = verifying
    t = open_ticket(gw)
    before = len(gw.sink.to(ALICE))
    send(gw, _forged_staff_mail(gw, border), mail_from=AGENT)
    assert get_ticket(gw, t.id).status == "new"
    assert len(gw.sink.to(ALICE)) == before
    [entry] = [h for h in held(gw) if h.reason == "unverified-staff"]
    assert "no DKIM signature" in entry.detail


def test_forged_results_and_our_headers_are_removed_before_reading(verifying):
    gw = verifying
    message = mail(subject="Hello", body="hi")
    message["Authentication-Results"] = FORGED
    message["X-Gateway-Verdict"] = "pass"  # our own namespace, written outside
    send(gw, message, mail_from=ALICE)
    with gw.db.read() as session:
        stored = session.exec(select(Message).order_by(Message.id.desc())).first()
    assert "foreign-headers-removed" in stored.flags.split(",")
    assert stored.auth_verdict.startswith("pass (dmarc=pass for customer.example")


@pytest.mark.parametrize("glue", [b"\n", b"\r"])
def test_forged_results_behind_a_bare_line_end_count_for_nothing(start_gateway, glue):
    """Research case 2: the forgery rides on the Subject line behind a bare LF or CR, where a
    reader splitting lines another way than ours would see a header of its own."""
    gw = start_gateway(auth={"trusted_authserv_ids": (AUTHSERV,)})
    add_contact(gw.db, ALICE, account="Alice Co")
    add_staff(gw.db)
    t = open_ticket(gw)
    before = len(gw.sink.to(ALICE))
    data = raw(staff_reply(gw, "/status closed\nAll done."))
    head, sep, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    at = next(i for i, line in enumerate(lines) if line.lower().startswith(b"subject:"))
    lines[at] += glue + f"Authentication-Results: {FORGED}".encode()
    data = f"Authentication-Results: {BORDER}\r\n".encode() + b"\r\n".join(lines) + sep + body
    send(gw, data, mail_from=AGENT)
    assert get_ticket(gw, t.id).status == "new"
    assert len(gw.sink.to(ALICE)) == before
    assert [h for h in held(gw) if h.reason == "unverified-staff"]
