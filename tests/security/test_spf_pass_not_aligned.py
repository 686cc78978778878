"""Attack: the envelope sender's domain authorises the sending IP (SPF pass), but it is not
the From domain. SPF speaks for the envelope, not for the author: without alignment it proves
nothing (RFC 7489 3.1.2)."""

from __future__ import annotations

from conftest import mail
from trustkit import AGENT, ALICE, held, open_ticket, send, staff_reply, ticket


def test_staff_from_with_unaligned_spf_pass_runs_nothing(verifying):
    gw = verifying
    t = open_ticket(gw)
    before = len(gw.sink.to(ALICE))
    send(gw, staff_reply(gw, "/priority urgent\nHello."), mail_from="bounce@evil.example")
    assert len(gw.sink.to(ALICE)) == before
    assert ticket(gw, t.id).priority == "normal"
    [entry] = [h for h in held(gw) if h.reason == "unverified-staff"]
    assert "spf=pass evil.example" in entry.detail and "none aligned" in entry.detail
    assert "could not be verified" in gw.sink.to(AGENT)[-1].text()


def test_customer_with_unaligned_spf_pass_is_quarantined(verifying):
    gw = verifying
    send(gw, mail(subject="Please delete my site"), mail_from="bounce@evil.example")
    [entry] = held(gw)
    assert entry.reason == "dmarc-fail" and "p=reject" in entry.detail
    assert gw.sink.to(ALICE) == []
