"""Attack: a display name that looks like a staff address ("support@company" <x@evil>).
Decisions are made on the address only; the name is never read as an identity."""

from __future__ import annotations

import pytest
from trustkit import AGENT, ALICE, held, open_ticket, send, staff_reply, ticket


@pytest.mark.parametrize(
    "name", ['"support@support.example"', '"Sam Agent <agent@support.example>"', '"Sam Agent"']
)
def test_display_name_spoof_is_a_stranger(verifying, name):
    gw = verifying
    t = open_ticket(gw)
    before = len(gw.sink.to(ALICE))
    spoof = staff_reply(
        gw, "/status closed\nYour data is deleted.", sender=f"{name} <x@evil.example>"
    )
    send(gw, spoof, mail_from="x@evil.example")  # SPF and alignment pass for evil.example
    assert ticket(gw, t.id).status == "new"
    assert len(gw.sink.to(ALICE)) == before
    entry = held(gw)[-1]
    assert entry.reason == "unknown-sender" and entry.sender == "x@evil.example"
    assert not any("Your data is deleted" in m.text() for m in gw.sink.to(AGENT))
