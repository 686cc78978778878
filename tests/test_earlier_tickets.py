"""A new ticket's notification lists what the customer's account asked before (latest first,
five at most): staff answering see at once that it is the third about the same site. Other
accounts' tickets are never listed, and follow-ups, which staff have seen, do not repeat it."""

from __future__ import annotations

from conftest import add_contact, mail
from test_staff_flow import desk, last, open_ticket  # noqa: F401

AGENT = "agent@support.example"


def test_a_new_ticket_lists_the_accounts_earlier_tickets(desk):  # noqa: F811
    add_contact(desk.db, "zed@other.example", name="Zed", account="Other Co")
    first = open_ticket(desk, subject="Site down", body="My site is down.")
    desk.send(mail(sender="zed@other.example", subject="Other customer", body="Not yours."))
    desk.settle()
    second = open_ticket(desk, subject="Mail down", body="Mail does not arrive.")
    desk.send(mail(sender="ops@customer.example", subject="Backups", body="Where are backups?"))
    desk.settle()

    text = last(desk, AGENT).text().replace("\r\n", "\n")
    earlier = text.split("Earlier tickets of this customer's account (latest first):\n")[1]
    listed = [line.strip() for line in earlier.split("\n\n")[0].splitlines()]
    assert listed == [
        f"[VB #{second.id}] Mail down · new · opened 2026-11-23",
        f"[VB #{first.id}] Site down · new · opened 2026-11-23",
    ]
    assert "Other customer" not in text

    desk.send(mail(subject=f"Re: [VB #{second.id}] Mail down", body="Still nothing."))
    desk.settle()
    assert "Earlier tickets" not in last(desk, AGENT).text()


def test_the_first_ticket_of_an_account_lists_none(desk):  # noqa: F811
    open_ticket(desk)
    assert "Earlier tickets" not in last(desk, AGENT).text()
