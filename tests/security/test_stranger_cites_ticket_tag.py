"""Attack: someone who is not a participant writes with another customer's ticket tag (or its
reply address) hoping to be appended to it and to receive its replies (zammad#5064). A
stranger is held; a contact of another account, or a plain user of the same account who is
not in copy, gets a ticket of their own; nothing is appended to the cited ticket."""

from __future__ import annotations

import pytest
from conftest import add_contact, mail
from sqlmodel import select
from trustkit import ALICE, held, messages, open_ticket, send

from gateway.store.tables import Ticket

SECRET = "The backup password is hunter2"


@pytest.mark.parametrize(
    "who, account, role",
    [
        ("mallory@evil.example", None, None),  # a stranger
        ("mallory@other.example", "Other Co", "owner"),  # another customer's owner
        ("intern@customer.example", "Alice Co", "user"),  # same account, not in copy
    ],
)
@pytest.mark.parametrize("clue", ["tag", "token address"])
def test_citing_another_customers_ticket_appends_nothing(verifying, who, account, role, clue):
    gw = verifying
    if account:
        add_contact(gw.db, who, account=account, role=role)
    cited = open_ticket(gw, body=SECRET)
    to = f"support+{cited.reply_token}@support.example" if clue == "token address" else None
    attack = mail(sender=who, subject=f"Re: [VB #{cited.id}] Site down", body="add me please")
    send(
        gw,
        attack,
        mail_from="bounce@evil.example" if not account else who,
        to=(to or "support@support.example",),
    )
    assert [m.body_text for m in messages(gw, cited.id)] == [SECRET]
    with gw.db.read() as session:
        tickets = session.exec(select(Ticket).order_by(Ticket.id)).all()
    if account:
        assert len(tickets) == 2 and tickets[1].requester_id != cited.requester_id
    else:
        assert len(tickets) == 1 and held(gw)[-1].reason == "unknown-sender"
    for received in gw.sink.to(who):
        assert "hunter2" not in received.raw.decode("utf-8", "replace")
    assert all("add me please" not in m.text() for m in gw.sink.to(ALICE))
