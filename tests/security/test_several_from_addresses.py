"""Attack: several authors, in one From or in several From headers, one of them staff.
DMARC cannot apply to such mail (RFC 7489 6.6.1): it has no single author, is never trusted,
and runs nothing."""

from __future__ import annotations

import pytest
from trustkit import AGENT, ALICE, held, open_ticket, raw, send, signed, staff_reply, ticket


def _two_authors(message, how: str) -> bytes:
    del message["From"]
    if how == "one header":
        message["From"] = f"{AGENT}, x@evil.example"
        return raw(message)
    message["From"] = AGENT
    return b"From: x@evil.example\r\n" + raw(message)


@pytest.mark.parametrize("how", ["one header", "two headers"])
def test_several_from_addresses_run_nothing(verifying, how):
    gw = verifying
    t = open_ticket(gw)
    before = len(gw.sink.to(ALICE))
    message = staff_reply(gw, "/status closed\nClosing.")
    data = _two_authors(message, how)
    send(gw, data, mail_from=AGENT)
    assert ticket(gw, t.id).status == "new"
    assert len(gw.sink.to(ALICE)) == before
    assert held(gw)[-1].reason == "no-single-sender"


def test_several_from_even_with_our_signature_runs_nothing(verifying):
    gw = verifying
    t = open_ticket(gw)
    message = staff_reply(gw, "/status closed\nClosing.")
    del message["From"]
    message["From"] = f"{AGENT}, x@evil.example"
    send(gw, signed(message, "support.example", "company"), mail_from=AGENT)
    assert ticket(gw, t.id).status == "new"
    assert held(gw)[-1].reason == "no-single-sender"
