"""Attack: a mail with a staff member's From, but no DKIM signature of ours, carrying a
command and a reply. It must run nothing, relay nothing, and alert the real staff member."""

from __future__ import annotations

from trustkit import AGENT, ALICE, held, open_ticket, send, staff_reply, ticket


def test_spoofed_staff_from_without_dkim_runs_nothing(verifying):
    gw = verifying
    t = open_ticket(gw)
    before = len(gw.sink.to(ALICE))
    spoof = staff_reply(gw, "/status closed\n/assign me\nPlease send me your root password.")
    # Envelope in our own domain: SPF fails (-all), and there is no signature at all.
    send(gw, spoof, mail_from=AGENT)

    assert len(gw.sink.to(ALICE)) == before  # nothing relayed to the customer
    row = ticket(gw, t.id)
    assert (row.status, row.assignee_id) == ("new", None)  # no command ran
    [entry] = [h for h in held(gw) if h.reason == "unverified-staff"]
    assert "dmarc=fail" in entry.detail and "no DKIM signature" in entry.detail
    alert = gw.sink.to(AGENT)[-1]
    assert "could not be verified" in alert.text()
