"""Ratings of staff replies, and the rows the weekly report is computed from."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import func
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from gateway.core import report
from gateway.store import sealing, timed
from gateway.store.tables import Complaint, Event, Message, Outbox, Rating, Staff, Ticket


def staff_reply(session: Session, message_id: int) -> Message | None:
    """The message if it is a public reply written by staff (the only thing one can rate)."""
    row = session.get(Message, message_id)
    if row is None or row.visibility != "public" or row.author_staff_id is None:
        return None
    return row


def record(
    session: Session, reply: Message, contact_id: int, score: int, comment: str, source: str,
    now: datetime,
) -> None:  # fmt: skip
    """One rating per reply and contact: a later one replaces the earlier (an upsert, so two
    clicks at once cannot make two rows)."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    values = {
        "message_id": reply.id, "contact_id": contact_id, "ticket_id": reply.ticket_id,
        "staff_id": reply.author_staff_id, "score": score, "comment": comment,
        "source": source, "created_at": now, "updated_at": now,
    }  # fmt: skip
    values = sealing.sealed_values(session, Rating, values)  # the comment, bound to row_key
    statement = dialect.insert(Rating.__table__).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["message_id", "contact_id"],
        set_={"score": score, "comment": values["comment"], "row_key": values["row_key"],
              "source": source, "updated_at": now},
    )  # fmt: skip
    session.execute(statement)


def answers_request(session: Session, mail, ticket_id: int) -> bool:
    """Whether the mail replies to a satisfaction request of this ticket."""
    refs = list(dict.fromkeys([*mail.in_reply_to, *mail.references]))[:50]
    if not refs:
        return False
    query = select(Outbox.id).where(
        col(Outbox.message_id).in_(refs), Outbox.ticket_id == ticket_id,
        Outbox.kind == "satisfaction-request",
    )  # fmt: skip
    return session.exec(query).first() is not None


def rating_of(session: Session, message_id: int, contact_id: int) -> Rating | None:
    query = select(Rating).where(Rating.message_id == message_id, Rating.contact_id == contact_id)
    return session.exec(query).first()


def poor_ratings(session: Session, at_most: int, since: datetime) -> list[tuple[int, int]]:
    """(rating id, ticket id) of ratings at or below `at_most` given since `since`."""
    query = select(Rating.id, Rating.ticket_id).where(
        Rating.score <= at_most, col(Rating.updated_at) >= since
    )
    # In the order of the index on updated_at: ordered by id, SQLite read the whole table.
    ordered = query.order_by(col(Rating.updated_at), col(Rating.id))
    return [(rating_id, ticket_id) for rating_id, ticket_id in session.exec(ordered)]


def by_ids(session: Session, rating_ids: list[int]) -> list[Rating]:
    query = select(Rating).where(col(Rating.id).in_(rating_ids)).order_by(col(Rating.id))
    return list(session.exec(query))


# Weekly report rows -------------------------------------------------------------------------


def report_tickets(session: Session, start: datetime, end: datetime) -> list[report.TicketRow]:
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    in_week = ((Ticket.created_at >= start) & (Ticket.created_at < end)) | (
        (col(Ticket.resolved_at) >= start) & (col(Ticket.resolved_at) < end)
    )
    query = select(Ticket).where(in_week, col(Ticket.merged_into_id).is_(None))
    return [
        report.TicketRow(t.id, t.created_at, t.first_response_at, t.resolved_at)
        for t in session.exec(query.order_by(col(Ticket.id)))
    ]


def report_messages(session: Session, start: datetime, end: datetime) -> list[report.MessageRow]:
    """The public messages of every ticket written to this week (their earlier ones too: a
    follow-up is one only after a staff reply), staff replies and customers' own mail."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    written = select(Message.ticket_id).where(
        col(Message.created_at) >= start, col(Message.created_at) < end
    )
    query = select(
        Message.ticket_id, Message.created_at, Message.author_staff_id, Message.flags
    ).where(
        col(Message.ticket_id).in_(written.distinct()), Message.visibility == "public",
        col(Message.author_staff_id).is_not(None) | col(Message.author_contact_id).is_not(None),
    )  # fmt: skip
    return [
        report.MessageRow(ticket_id, at, staff_id is not None)
        for ticket_id, at, staff_id, flags in session.exec(query)
        if staff_id is not None or not _NOT_A_REQUEST.intersection(flags.split(","))
    ]


_NOT_A_REQUEST = frozenset({"automatic", "permission-answer"})  # flags of mail awaiting no answer


def report_complaints(
    session: Session, start: datetime, end: datetime
) -> list[report.ComplaintRow]:
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    query = (
        select(Complaint, Staff.name)
        .join(Staff, col(Staff.id) == col(Complaint.manager_id), isouter=True)
        .where(col(Complaint.opened_at) >= start, col(Complaint.opened_at) < end)
        .order_by(col(Complaint.ticket_id))
    )
    return [
        report.ComplaintRow(
            c.ticket_id,
            c.opened_at,
            name or "",
            timed.manager_answer_at(session, c.ticket_id, c.opened_at),
        )  # fmt: skip
        for c, name in session.exec(query).all()
    ]


def report_ratings(session: Session, start: datetime, end: datetime) -> list[report.RatingRow]:
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    query = (
        select(Rating, func.coalesce(Staff.name, ""))
        .join(Staff, col(Staff.id) == col(Rating.staff_id), isouter=True)
        .where(col(Rating.updated_at) >= start, col(Rating.updated_at) < end)
        .order_by(col(Rating.id))
    )
    rows = session.exec(query).all()
    reviewers = _reviewers(session, sorted({r.ticket_id for r, _ in rows}))
    return [
        report.RatingRow(r.message_id, r.ticket_id, name, r.score, r.comment, r.updated_at,
                         reviewers.get(r.id, ""))
        for r, name in rows
    ]  # fmt: skip


def _reviewers(session: Session, ticket_ids: list[int]) -> dict[int, str]:
    """Who first reviewed each rating (`rating_reviews.reviewed` names the ratings a review
    answers), by rating id."""
    found: dict[int, str] = {}
    query = (
        select(Event.detail, func.coalesce(Staff.name, Event.actor))
        .join(Staff, col(Staff.email) == col(Event.actor), isouter=True)
        .where(Event.kind == "rating-reviewed", col(Event.ticket_id).in_(ticket_ids))
        .order_by(col(Event.at), col(Event.id))
    )
    for detail, who in session.exec(query):
        for rating_id in json.loads(detail).get("rating_ids", []):
            found.setdefault(rating_id, who)
    return found


def review_asked(session: Session, ticket_id: int) -> list[int]:
    """The ratings of this ticket sent to managers for review (`rating_reviews`)."""
    query = select(Event.detail).where(
        Event.ticket_id == ticket_id, Event.kind == "rating-review-asked"
    )
    return [json.loads(detail)["rating_id"] for detail in session.exec(query)]


def report_recipients(session: Session) -> list[Staff]:
    query = select(Staff).where(col(Staff.active).is_(True)).order_by(col(Staff.id))
    return list(session.exec(query))
