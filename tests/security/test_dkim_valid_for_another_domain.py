"""Attack: a mail whose DKIM signature is perfectly valid, but for the attacker's own domain,
under a From of our company or of a protected customer. Only a signature aligned with the
From domain counts (RFC 7489 3.1.1)."""

from __future__ import annotations

from conftest import mail
from sqlmodel import select
from trustkit import AGENT, ALICE, held, open_ticket, send, signed, staff_reply, ticket

from gateway.store.tables import Ticket


def test_staff_from_signed_by_another_domain_runs_nothing(verifying):
    gw = verifying
    t = open_ticket(gw)
    before = len(gw.sink.to(ALICE))
    forged = signed(staff_reply(gw, "/status closed\nDone."), "evil.example", "evil")
    send(gw, forged, mail_from="x@evil.example")  # SPF passes too, for evil.example
    assert len(gw.sink.to(ALICE)) == before
    assert ticket(gw, t.id).status == "new"
    [entry] = [h for h in held(gw) if h.reason == "unverified-staff"]
    assert "dkim=pass d=evil.example" in entry.detail and "none aligned" in entry.detail
    assert "could not be verified" in gw.sink.to(AGENT)[-1].text()


def test_protected_customer_from_signed_by_another_domain_is_quarantined(verifying):
    gw = verifying
    forged = signed(mail(subject="Change my DNS"), "evil.example", "evil")
    send(gw, forged, mail_from="x@evil.example")
    with gw.db.read() as session:
        assert session.exec(select(Ticket)).all() == []  # customer.example publishes p=reject
    [entry] = held(gw)
    assert entry.reason == "dmarc-fail" and entry.sender == ALICE
    assert gw.sink.received == []  # no notice to the forged address either
