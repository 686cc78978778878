"""Poorly rated replies reach a manager for review the same minute, not only in Monday's list:
the score, the customer's comment and the reply go to the department's managers (not to the
rated author), never to the customer; a manager's answer is an internal note and the review,
which the weekly report then shows beside the rating."""

from __future__ import annotations

from conftest import add_contact
from test_rating_flow import answer, fetch, links
from test_staff_flow import AUTHSERV, add_staff, staff_mail
from test_weekly_report import MONDAY_8_PARIS

from gateway.store import repo

ALICE, AGENT = "alice@customer.example", "agent@support.example"
MIA, BEN = "mia@support.example", "ben@support.example"


def start(start_gateway, **sections):
    gw = start_gateway(
        auth={"trusted_authserv_ids": (AUTHSERV,)}, routing={"default_department": "Support"},
        company={"timezone": "Europe/Paris"}, **sections,
    )  # fmt: skip
    add_contact(gw.db, ALICE, name="Alice", account="Alice Co")
    add_staff(gw.db, AGENT, "Sam Agent")
    add_staff(gw.db, MIA, "Mia Manager", manager=True)
    add_staff(gw.db, BEN, "Ben Billing", department="Billing", manager=True)
    return gw


def run(gw) -> int:
    done = gw.gw.jobs.run("rating-reviews")
    gw.settle()
    return done


def review_mails(gw, address):
    return [m for m in gw.sink.to(address) if "please review" in m.text()]


def test_a_poor_rating_reaches_the_manager_who_reviews_it_by_mail(start_gateway, clock):
    gw = start(start_gateway)
    ticket, relayed = answer(gw, body="Reinstall everything yourself.")
    to_alice = len(gw.sink.to(ALICE))
    fetch(links(relayed)[1], {"score": "1", "comment": "Rude, and it did not help."})

    assert run(gw) == 1
    [review] = review_mails(gw, MIA)
    text = review.text()
    assert "rated 1/5 by alice@customer.example" in text and "Sam Agent" in text
    assert "Rude, and it did not help." in text and "Reinstall everything yourself." in text
    assert review.message["Subject"].startswith(f"[VB #{ticket.id}]")
    assert not review_mails(gw, AGENT)  # not the rated author
    assert not review_mails(gw, BEN)  # another department's manager
    assert run(gw) == 0 and len(review_mails(gw, MIA)) == 1  # once

    clock.advance(hours=1)
    subject = "Re: " + review.message["Subject"].replace(" [note]", "")  # even edited
    gw.send(staff_mail(review, "Spoke with Sam; I call Alice today.", sender=MIA, subject=subject))
    gw.settle()
    assert len(gw.sink.to(ALICE)) == to_alice  # the customer hears nothing of the review
    with gw.db.read() as session:
        note = repo.ticket_messages(session, ticket.id)[-1]
        reviews = [e for e in repo.ticket_events(session, ticket.id) if e.kind == "rating-reviewed"]
    assert note.visibility == "internal" and "I call Alice today" in note.body_text
    assert [e.actor for e in reviews] == [MIA]

    clock.advance(hours=1)  # the customer thinks again: the review still stands for it
    fetch(links(relayed)[2], {"score": "2", "comment": "Rude, and it did not help."})
    assert run(gw) == 0  # the same rating: no second review mail
    clock.advance(**MONDAY_8_PARIS)
    report = weekly_report(gw, MIA)
    comment = '"Rude, and it did not help."'
    assert f"[VB #{ticket.id}]  2/5  Sam Agent  {comment} (reviewed by Mia Manager)" in report


def test_an_unreviewed_poor_rating_is_flagged_in_the_report_and_a_good_one_asks_nothing(
    start_gateway, clock
):
    gw = start(start_gateway)
    first, relayed = answer(gw, body="Done.")
    fetch(links(relayed)[5], {"score": "5"})
    second, relayed = answer(gw, body="Try later.")
    fetch(links(relayed)[2], {"score": "2", "comment": "slow"})
    assert run(gw) == 1
    [review] = review_mails(gw, MIA)
    assert review.message["Subject"].startswith(f"[VB #{second.id}] ")

    clock.advance(**MONDAY_8_PARIS)
    report = weekly_report(gw, AGENT)
    assert f'[VB #{second.id}]  2/5  Sam Agent  "slow" (NOT REVIEWED)' in report
    assert f"[VB #{first.id}]  5/5  Sam Agent\r\n" in report  # no mark on a good one


def test_review_mail_can_be_turned_off(start_gateway):
    gw = start(start_gateway, ratings={"review_at_most": 0})
    _, relayed = answer(gw)
    fetch(links(relayed)[1], {"score": "1"})
    assert run(gw) == 0 and not review_mails(gw, MIA)


def weekly_report(gw, address) -> str:
    """This week's report as `address` receives it on Monday."""
    assert gw.gw.jobs.run("weekly-report") >= 1
    gw.settle()
    [report] = [m for m in gw.sink.to(address) if "Weekly report" in m.message["Subject"]]
    return report.text()
