"""Queries behind the timed actions: what is due, and the claim that makes each action once.

A claim is an event row with a unique `dedupe_key`, inserted with ON CONFLICT DO NOTHING in
the same transaction as the action: of two schedulers sharing one PostgreSQL, the second waits
for the first to commit and then finds the key taken. Tickets are locked with SKIP LOCKED, so
a job never waits behind the processor (and cannot deadlock with it).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from sqlalchemy import exists
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from gateway.errors import without_message
from gateway.store.tables import Complaint, Event, Message, Rating, Staff, Ticket

log = logging.getLogger(__name__)

OPEN_STATUSES = ("new", "open")
# Not resolved or closed, named rather than excluded, so an index on status can find them.
LIVE_STATUSES = ("new", "open", "pending")


def aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def claim(
    session: Session,
    key: str,
    at: datetime,
    kind: str,
    *,
    ticket_id: int | None = None,
    actor: str = "",
    detail: dict | None = None,
) -> bool:
    """Record the event under `key`; False when some run already did."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(Event.__table__)
        .values(
            at=at,
            kind=kind,
            ticket_id=ticket_id,
            actor=actor,
            dedupe_key=key,
            detail=json.dumps(detail or {}, ensure_ascii=False, default=str),
        )  # fmt: skip
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(Event.__table__.c.id)  # rowcount is not reliable here; a returned row is
    )
    return session.execute(statement).first() is not None


def claimed(session: Session, key: str) -> Event | None:
    return session.exec(select(Event).where(Event.dedupe_key == key)).first()


def lock_ticket(session: Session, ticket_id: int) -> Ticket | None:
    """The ticket, unless another transaction holds it (then it waits for the next run)."""
    query = select(Ticket).where(Ticket.id == ticket_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, key_share=True)
    return session.exec(query).first()


def _ids(session: Session, query) -> list[int]:
    return list(session.exec(query.order_by(col(Ticket.id))))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # before any time the gateway writes


def _live():
    return col(Ticket.merged_into_id).is_(None)


def sla_due(session: Session, since: datetime, until: datetime) -> list[tuple[int, datetime]]:
    """(id, deadline) of running tickets awaiting an answer due in [since, until]: the first
    response, or the answer to a follow-up. Two queries, each through its own index."""
    found = []
    for due, awaiting in (
        (Ticket.sla_due_at, col(Ticket.first_response_at).is_(None)),
        (Ticket.reply_due_at, col(Ticket.first_response_at).is_not(None)),
    ):
        query = select(Ticket.id, due).where(
            col(Ticket.status).in_(OPEN_STATUSES), awaiting, col(Ticket.pending_since).is_(None),
            col(due) >= since, col(due) <= until, _live(),
        )  # fmt: skip
        found += session.exec(query)
    return sorted(found)


def live_tickets(session: Session) -> list[Ticket]:
    """Tickets not resolved or closed (merged ones live on in their target)."""
    query = select(Ticket).where(
        col(Ticket.status).in_(LIVE_STATUSES), col(Ticket.merged_into_id).is_(None)
    )
    return list(session.exec(query.order_by(col(Ticket.id))))


def awaited_due(ticket: Ticket) -> datetime | None:
    """When the answer the ticket awaits is due: the first response, then each follow-up's."""
    return ticket.sla_due_at if ticket.first_response_at is None else ticket.reply_due_at


def pending_changed(session: Session) -> list[int]:
    """Tickets that went pending, or came back from it, since the jobs last looked."""
    # Two queries, each read through an index (status; paused tickets), not one with OR: the
    # jobs ask after every batch of mail, and an OR of these terms reads every ticket. "Set"
    # is asked as a range, which SQLite searches (IS NOT NULL would read the index whole).
    went = select(Ticket.id).where(Ticket.status == "pending", col(Ticket.pending_since).is_(None))
    left = select(Ticket.id).where(col(Ticket.pending_since) > _EPOCH, Ticket.status != "pending")
    return sorted({*session.exec(went), *session.exec(left)})


def pending_since_before(session: Session, moment: datetime) -> list[tuple[int, datetime]]:
    """(id, pending since) of tickets pending since `moment` or earlier."""
    query = select(Ticket.id, Ticket.pending_since).where(
        Ticket.status == "pending", col(Ticket.pending_since) <= moment, _live()
    )
    return list(session.exec(query.order_by(col(Ticket.id))))


def resolved_before(session: Session, moment: datetime) -> list[int]:
    query = select(Ticket.id).where(
        Ticket.status == "resolved", col(Ticket.resolved_at) <= moment, _live()
    )
    return _ids(session, query)


def unrated_resolved(session: Session, since: datetime, until: datetime) -> list[int]:
    """Tickets resolved in [since, until] with a public staff reply and no rating at all."""
    replied = exists().where(
        Message.ticket_id == Ticket.id, Message.visibility == "public",
        col(Message.author_staff_id).is_not(None),
    )  # fmt: skip
    rated = exists().where(Rating.ticket_id == Ticket.id)
    query = select(Ticket.id).where(
        col(Ticket.status).in_(("resolved", "closed")), col(Ticket.resolved_at) >= since,
        col(Ticket.resolved_at) <= until, _live(), replied, ~rated,
    )  # fmt: skip
    return _ids(session, query)


def last_staff_reply(session: Session, ticket_id: int) -> Message | None:
    query = (
        select(Message)
        .where(Message.ticket_id == ticket_id, Message.visibility == "public")
        .where(col(Message.author_staff_id).is_not(None))
        .order_by(col(Message.id).desc())
    )
    return session.exec(query).first()


# Complaints ---------------------------------------------------------------------------------


def complaints_to_take_in(session: Session) -> list[int]:
    """Complaint tickets still open that nobody took in yet."""
    taken = exists().where(Complaint.ticket_id == Ticket.id)
    query = select(Ticket.id).where(
        Ticket.category == "complaint", col(Ticket.status).in_(LIVE_STATUSES), _live(), ~taken,
    )  # fmt: skip
    return _ids(session, query)


def complaints_waiting(session: Session, escalated_before: datetime, levels: int) -> list[int]:
    """Live complaints with a level left, last escalated before the moment, that no manager
    has answered publicly since they were taken in."""
    answered = (
        exists()
        .where(Message.ticket_id == Complaint.ticket_id, Message.visibility == "public")
        .where(col(Message.created_at) >= Complaint.opened_at)
        .where(Staff.id == Message.author_staff_id, Staff.role == "manager")
    )
    query = (
        select(Complaint.ticket_id)
        .join(Ticket, col(Ticket.id) == col(Complaint.ticket_id))
        .where(col(Complaint.escalated_at) <= escalated_before, Complaint.level < levels)
        .where(Ticket.category == "complaint", _live(), ~answered)
        .where(col(Ticket.status).in_(LIVE_STATUSES))
        .order_by(col(Complaint.ticket_id))
    )
    return list(session.exec(query))


def complaint(session: Session, ticket_id: int) -> Complaint | None:
    return session.get(Complaint, ticket_id)


def manager_answer_at(session: Session, ticket_id: int, since: datetime) -> datetime | None:
    """When a manager first answered the customer publicly, from `since` on."""
    query = (
        select(Message.created_at)
        .join(Staff, col(Staff.id) == col(Message.author_staff_id))
        .where(Message.ticket_id == ticket_id, Message.visibility == "public")
        .where(Staff.role == "manager", col(Message.created_at) >= since)
        .order_by(col(Message.created_at))
    )
    return session.exec(query).first()


def managers(session: Session, department_id: int | None = None) -> list[Staff]:
    query = select(Staff).where(Staff.role == "manager", col(Staff.active).is_(True))
    if department_id is not None:
        query = query.where(Staff.department_id == department_id)
    return list(session.exec(query.order_by(col(Staff.id))))


def last_complaint_taken(session: Session, staff_ids: list[int]) -> dict[int, datetime]:
    """When each of these managers was last put in charge of a complaint."""
    from sqlalchemy import func

    query = (
        select(Complaint.manager_id, func.max(Complaint.opened_at))
        .where(col(Complaint.manager_id).in_(staff_ids))
        .group_by(col(Complaint.manager_id))
    )
    return dict(session.exec(query).all())


def staff_by_email(session: Session, email: str) -> Staff | None:
    query = select(Staff).where(Staff.email == email.lower(), col(Staff.active).is_(True))
    return session.exec(query).first()


def customer_message_ids(session: Session, since: datetime) -> list[int]:
    """Ids of customer messages stored since `since` on tickets not yet complaints."""
    query = (
        select(Message.id)
        .join(Ticket, col(Ticket.id) == col(Message.ticket_id))
        .where(col(Message.created_at) >= since, col(Message.author_contact_id).is_not(None))
        .where(Message.visibility == "public", Ticket.category != "complaint", _live())
    )  # not ordered by id in SQL: SQLite would then read every message in id order
    return sorted(session.exec(query))


def message_texts(session: Session, ids: list[int]) -> list[tuple[int, str]]:
    """(ticket id, text without quotes, else whole) of these messages, opened."""
    texts: list[tuple[int, str]] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        query = select(Message).where(col(Message.id).in_(chunk)).order_by(col(Message.id))
        texts += [(m.ticket_id, m.new_text or m.body_text) for m in session.exec(query)]
    return texts


def taken_keys(session: Session, keys: list[str]) -> set[str]:
    taken: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        taken.update(session.exec(select(Event.dedupe_key).where(col(Event.dedupe_key).in_(chunk))))
    return taken


def untaken(session: Session, keyed: dict[int, str]) -> list[int]:
    """The ticket ids whose action key no run has claimed yet (so done work is not redone)."""
    taken = taken_keys(session, list(keyed.values()))
    return [ticket_id for ticket_id, key in keyed.items() if key not in taken]


def for_each_ticket(db, ids: list[int], action) -> int:
    """Run `action(session, ticket)` on each ticket in one transaction, each in a savepoint
    (one bad ticket is logged and skipped, not a reason to stop the others); returns how
    many actions reported work done."""
    if not ids:
        return 0
    done = 0
    with db.write() as session:
        for ticket_id in ids:
            try:
                with session.begin_nested():
                    ticket = lock_ticket(session, ticket_id)
                    if ticket is not None and action(session, ticket):
                        done += 1
            except Exception as error:
                log.error("timed action on ticket %s failed: %s", ticket_id,
                          without_message(error))  # fmt: skip
    return done
