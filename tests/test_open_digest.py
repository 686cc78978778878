"""Each morning every staff member gets their open work by mail: their tickets, overdue first,
then their department's unassigned ones; once a day; nothing for someone with nothing open.
What the mail says to do (write with the tag in the subject) works."""

from __future__ import annotations

import test_staff_flow
from conftest import add_contact, mail
from test_staff_flow import PASS, add_staff, last, open_ticket, staff_mail

desk = test_staff_flow.desk
ALICE, SAM, KIM = "alice@customer.example", "agent@support.example", "second@support.example"


def digests(gw, address) -> list:
    return [m for m in gw.sink.to(address) if "Open tickets on" in m.message["Subject"]]


def test_each_member_gets_their_open_work_overdue_first_once_a_day(desk, clock):
    down = open_ticket(desk, subject="Site down")
    desk.send(staff_mail(last(desk, SAM), "/assign me"))
    desk.settle()
    clock.advance(minutes=30)
    billing = open_ticket(desk, subject="Invoice twice")
    clock.advance(minutes=20)
    later = open_ticket(desk, subject="Mailbox full")
    desk.send(staff_mail(last(desk, SAM), "/assign me\n/status pending"))
    desk.settle()

    clock.now = clock.now.replace(day=24, hour=8, minute=0)
    assert desk.gw.jobs.run("open-digest") == 2  # Sam and Kim; Bea's department has nothing
    desk.settle()
    assert desk.gw.jobs.run("open-digest") == 0  # once a day
    desk.settle()

    [sams] = digests(desk, SAM)
    text = sams.text()
    assert sams.message["Subject"] == "Open tickets on 2026-11-24: 2 yours, 1 unassigned"
    assert text.index(f"[VB #{down.id}]") < text.index(f"[VB #{later.id}]")  # overdue first
    assert "OVERDUE since 23/11 10:00" in text and "pending, normal" in text
    assert text.index("UNASSIGNED") < text.index(f"[VB #{billing.id}]")
    [kims] = digests(desk, KIM)
    assert f"[VB #{billing.id}]" in kims.text() and f"[VB #{down.id}]" not in kims.text()
    assert "ASSIGNED TO YOU" not in kims.text()
    assert not digests(desk, "billing@support.example")

    answer = mail(sender=f"Sam Agent <{SAM}>", subject=f"[VB #{down.id}] Site down",
                  body="Your site is back.")  # fmt: skip
    answer["Authentication-Results"] = PASS
    desk.send(answer)  # as the digest says: a new mail with the tag answers the customer
    desk.settle()
    assert "Your site is back." in last(desk, ALICE).text()


def test_turned_off_it_sends_nothing(start_gateway):
    gw = start_gateway(
        lifecycle={"open_digest_time": ""}, routing={"default_department": "Support"}
    )
    add_contact(gw.db, ALICE, name="Alice", account="Alice Co")
    add_staff(gw.db, SAM, "Sam Agent")
    open_ticket(gw)  # open, unassigned: listed every morning when the digest is on
    assert gw.gw.jobs.run("open-digest") == 0
    gw.settle()
    assert not digests(gw, SAM)
