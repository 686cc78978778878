"""Poorly rated replies go to a manager for review, at once rather than on Monday.

A rating at or below `ratings.review_at_most` sends the managers of the ticket's department
(else every manager; never the rated author when someone else can look) the score, the
customer's comment, the reply and the ticket's whole history. Their answer to that mail is an
internal note on the ticket (the alert is one of the staff-only kinds) and is the review: an
event `rating-reviewed`, which the weekly report shows beside each poor rating.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from gateway.store import ratings, repo, staffing, timed
from gateway.store.tables import Message, Staff, Ticket

KIND = "staff-rating-review"
WINDOW = timedelta(days=14)  # a poor rating older than this, unseen until now, is left alone


def key(rating_id: int) -> str:
    return f"rating-review:rating:{rating_id}"


def send(db, now: datetime, ctx) -> int:
    """The job: one review mail per poor rating, however many times it runs."""
    at_most = ctx.settings.review_at_most
    if at_most < 1:
        return 0
    with db.read() as session:
        found = ratings.poor_ratings(session, at_most, now - WINDOW)
        taken = timed.taken_keys(session, [key(rating_id) for rating_id, _ in found])
    waiting: dict[int, list[int]] = {}
    for rating_id, ticket_id in found:
        if key(rating_id) not in taken:
            waiting.setdefault(ticket_id, []).append(rating_id)
    return timed.for_each_ticket(
        db, list(waiting), lambda s, t: _ask(s, t, waiting[t.id], now, ctx)
    )


def _ask(session, ticket: Ticket, rating_ids: list[int], now: datetime, ctx) -> bool:
    asked = False
    for rating in ratings.by_ids(session, rating_ids):
        if rating.score > ctx.settings.review_at_most:
            continue  # changed for the better since it was found
        members = _reviewers(session, ticket, rating.staff_id)
        detail = {"rating_id": rating.id, "score": rating.score,
                  "to": [m.email for m in members]}  # fmt: skip
        if not timed.claim(session, key(rating.id), now, "rating-review-asked",
                           ticket_id=ticket.id, detail=detail):  # fmt: skip
            continue
        contact = repo.contact_by_id(session, rating.contact_id)
        author = staffing.staff_by_id(session, rating.staff_id)
        who = contact.email if contact is not None and not contact.erased_at else "a customer"
        headline = (
            f"A reply by {author.name if author else 'staff'} was rated {rating.score}/5 by "
            f"{who}: please review this ticket. Your reply to this mail is kept as an internal "
            "note on it, and counts as the review in the weekly report."
        )
        reply = session.get(Message, rating.message_id)
        text = _text(rating.comment, reply.body_text if reply else "")
        ctx.notices.notify_staff(session, ticket, members, headline=headline, text=text,
                                 kind=KIND, now=now, full_history=True)  # fmt: skip
        asked = True
    return asked


def _reviewers(session, ticket: Ticket, author_id: int | None) -> list[Staff]:
    managers = timed.managers(session, ticket.department_id) or timed.managers(session)
    others = [m for m in managers if m.id != author_id]
    return others or managers or staffing.active_staff(session, ticket.department_id)


def _text(comment: str, reply: str) -> str:
    said = f"The customer's comment:\n{comment.strip()}" if comment.strip() else "No comment."
    return f"{said}\n\nThe rated reply:\n{reply.strip()}"


def reviewed(session, ticket: Ticket, author: Staff, now: datetime) -> None:
    """A staff answer to a review mail: the review of the ticket's ratings sent for one, with
    who wrote it (a rating changed since stays reviewed: the review names it)."""
    asked = ratings.review_asked(session, ticket.id)
    repo.add_event(session, now, "rating-reviewed", ticket_id=ticket.id, actor=author.email,
                   detail={"staff_id": author.id, "rating_ids": asked})  # fmt: skip
