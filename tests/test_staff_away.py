"""A staff member whose out-of-office answers our mail is away: what would have reached them
alone reaches their department too, until they write again themselves. A forged or unverified
out-of-office changes nothing (it is held like any unverified staff mail)."""

from __future__ import annotations

from email import policy

import test_staff_flow
from conftest import mail
from test_staff_flow import PASS, add_staff, last, open_ticket, staff_mail

from gateway.store import staffing

desk = test_staff_flow.desk
ALICE, SAM, KIM = "alice@customer.example", "agent@support.example", "second@support.example"


def follow_up(gw, t, body):
    gw.send(mail(subject=f"Re: [VB #{t.id}] Site down", body=body))
    gw.settle()


def out_of_office(gw, notification, auth=PASS, sender=SAM):
    reply = staff_mail(notification, "I am away until Monday.", subject="Out of office",
                       Auto_Submitted="auto-replied", auth=auth, sender=sender)  # fmt: skip
    gw.send(reply)
    gw.settle()


def away_since(gw, address):
    with gw.db.read() as session:
        return staffing.active_staff_by_email(session, address).away_since


def test_an_away_assignee_s_customer_reaches_the_department_until_they_write_again(desk):
    t = open_ticket(desk)
    desk.send(staff_mail(last(desk, SAM), "/assign me"))
    desk.settle()
    follow_up(desk, t, "Any news?")
    assert "Any news?" not in last(desk, KIM).text()  # assigned: Sam alone is told

    out_of_office(desk, last(desk, SAM))
    assert away_since(desk, SAM) is not None
    assert desk.sink.to(ALICE)[-1].text().count("I am away") == 0  # never relayed

    follow_up(desk, t, "Still down, please!")
    to_kim = last(desk, KIM)
    assert "Still down, please!" in to_kim.text()
    assert "assignee Sam Agent (away)" in to_kim.text()
    assert "Still down, please!" in last(desk, SAM).text()

    desk.send(staff_mail(last(desk, SAM), "Back early: fixed now."))
    desk.settle()
    assert away_since(desk, SAM) is None
    assert "Back early: fixed now." in last(desk, ALICE).text()
    follow_up(desk, t, "Thanks, works.")
    assert "Thanks, works." in last(desk, SAM).text()
    assert "Thanks, works." not in last(desk, KIM).text()


def test_an_unverified_out_of_office_marks_nobody_away(desk):
    t = open_ticket(desk)
    desk.send(staff_mail(last(desk, SAM), "/assign me"))
    desk.settle()
    out_of_office(desk, last(desk, SAM), auth=None)
    assert away_since(desk, SAM) is None
    follow_up(desk, t, "Hello?")
    assert "Hello?" not in last(desk, KIM).text()


def test_a_complaint_goes_to_a_manager_who_is_in(desk):
    from test_complaint_flow import complain

    add_staff(desk.db, "mia@support.example", "Mia Manager", manager=True)  # Support's
    add_staff(desk.db, "ben@support.example", "Ben Boss", department="Billing", manager=True)
    open_ticket(desk)
    out_of_office(desk, last(desk, "mia@support.example"), sender="mia@support.example")
    assert away_since(desk, "mia@support.example") is not None
    complain(desk)
    assert "Ben Boss, a member of our management, is in charge" in last(desk, ALICE).text()
    assert [m for m in desk.sink.to("ben@support.example") if "you are in charge" in m.text()]


def test_a_vacation_answer_from_the_null_sender_marks_them_away_too(desk):
    """A Sieve or Exchange vacation answer comes from the null sender, to our mail's From or,
    as RFC 3834 asks, to its return path (the VERP bounce address of the notification)."""
    open_ticket(desk)
    notification = last(desk, SAM)
    reply = staff_mail(notification, "I am away.", subject="Auto: Site down",
                       Auto_Submitted="auto-replied")  # fmt: skip
    desk.send(reply.as_bytes(policy=policy.SMTP), mail_from="", to=["support@support.example"])
    desk.settle()
    assert away_since(desk, SAM) is not None

    desk.send(staff_mail(last(desk, SAM), "Back."))  # back
    desk.settle()
    assert away_since(desk, SAM) is None
    notification = last(desk, SAM)
    vacation = staff_mail(notification, "On leave.", subject="Vacation",
                          Auto_Submitted="auto-replied", auth=None)  # fmt: skip
    del vacation["To"]
    vacation["To"] = notification.mail_from
    desk.send(vacation.as_bytes(policy=policy.SMTP), mail_from="", to=[notification.mail_from])
    desk.settle()
    assert away_since(desk, SAM) is not None
