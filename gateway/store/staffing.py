"""Queries behind the staff workflow: who is involved in a ticket, and what a reply answers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, func
from sqlmodel import Session, col, select

from gateway.store.remembered import remembered
from gateway.store.tables import (
    Contact,
    Department,
    Message,
    Outbox,
    Staff,
    Ticket,
    TicketCc,
    Watch,
)

ACTIVE_STAFF = remembered("active_staff")  # session.info key


def staff_by_id(session: Session, staff_id: int | None) -> Staff | None:
    return session.get(Staff, staff_id) if staff_id else None


def active_staff(session: Session, department_id: int | None = None) -> list[Staff]:
    staff = _active_staff(session)
    if department_id is None:
        return list(staff)
    return [member for member in staff if member.department_id == department_id]


def all_staff_emails(session: Session) -> list[str]:
    """Every staff address, those who left included."""
    return list(session.exec(select(Staff.email)))


# The flag of a request a staff member logged for a customer (`staff_opening`): the
# customer's message, written down from the staff member's mail.
LOGGED_BY_STAFF = "opened-by-staff"


def logged_by_staff(message: Message) -> bool:
    return LOGGED_BY_STAFF in message.flags.split(",")


def mark_away(session: Session, member: Staff, now: datetime, reason: str) -> None:
    """Their out-of-office answered us (`reason`): away until they write themselves."""
    if member.away_since is not None:
        return
    member.away_since = now
    session.add(member)
    from gateway.store import repo  # repo reads staff through this module

    repo.add_event(session, now, "staff-away", actor=member.email, detail={"reason": reason})


def here(members: list[Staff]) -> list[Staff]:
    """Those not away (their out-of-office has not answered us since they last wrote)."""
    return [m for m in members if m.away_since is None]


def present(members: list[Staff]) -> list[Staff]:
    """Those not away, or all of them when everyone is: someone must be told."""
    return here(members) or members


def active_staff_by_email(session: Session, email: str) -> Staff | None:
    email = email.lower()
    return next((member for member in _active_staff(session) if member.email == email), None)


def _active_staff(session: Session) -> list[Staff]:
    """Active staff by id, read once per session (one session is one transaction): each
    message asks twice (is its sender staff? whom to tell?), and staff are added only from the
    command line, in a transaction of their own (`directory.add_staff` forgets the list)."""
    staff = session.info.get(ACTIVE_STAFF)
    if staff is None:
        query = select(Staff).where(col(Staff.active).is_(True)).order_by(col(Staff.id))
        staff = session.info[ACTIVE_STAFF] = list(session.exec(query))
    return staff


def find_staff_by_name_or_email(session: Session, value: str) -> list[Staff]:
    """Staff matching an address, a full name, or a unique first name (case-insensitive)."""
    value = value.strip().lower()
    staff = active_staff(session)
    exact = [s for s in staff if s.email == value or s.name.lower() == value]
    if exact:
        return exact
    return [s for s in staff if s.name.lower().split(" ")[0] == value]


def department_by_name(session: Session, name: str) -> Department | None:
    query = select(Department).where(func.lower(Department.name) == name.strip().lower())
    return session.exec(query).first()


def department(session: Session, department_id: int | None) -> Department | None:
    return session.get(Department, department_id) if department_id else None


def all_departments(session: Session) -> list[Department]:
    return list(session.exec(select(Department).order_by(col(Department.name))))


def watchers(session: Session, ticket_id: int) -> list[Staff]:
    if not _active_staff(session):
        return []  # only active staff are told, and there are none
    query = (
        select(Staff)
        .join(Watch, col(Watch.staff_id) == col(Staff.id))
        .where(Watch.ticket_id == ticket_id, col(Staff.active).is_(True))
    )
    return list(session.exec(query))


def set_watch(session: Session, ticket_id: int, staff_id: int, on: bool) -> None:
    row = session.get(Watch, (ticket_id, staff_id))
    if on and row is None:
        session.add(Watch(ticket_id=ticket_id, staff_id=staff_id))
    elif not on and row is not None:
        session.delete(row)


_CCS = (  # asked for each reply: built once
    select(Contact)
    .join(TicketCc, col(TicketCc.contact_id) == col(Contact.id))
    .where(TicketCc.ticket_id == bindparam("ticket_id"))
)


def ccs(session: Session, ticket_id: int) -> list[Contact]:
    rows = session.exec(_CCS, params={"ticket_id": ticket_id})
    return sorted(rows, key=lambda contact: contact.email)  # sealed in the database


_CC_IDS = select(TicketCc.__table__.c.contact_id).where(
    TicketCc.__table__.c.ticket_id == bindparam("ticket_id")
)


def cc_ids(session: Session, ticket_id: int) -> tuple[int, ...]:
    """The ids of the contacts in copy: what permission checks ask of every reply, without
    loading (and opening) the contacts themselves."""
    return tuple(sorted(session.execute(_CC_IDS, {"ticket_id": ticket_id}).scalars()))


def set_cc(session: Session, ticket_id: int, contact_id: int, on: bool) -> None:
    row = session.get(TicketCc, (ticket_id, contact_id))
    if on and row is None:
        session.add(TicketCc(ticket_id=ticket_id, contact_id=contact_id))
    elif not on and row is not None:
        session.delete(row)


def outbox_kind_for(session: Session, message_ids: tuple[str, ...]) -> tuple[int, str] | None:
    """(ticket id, kind) of the first of our sent mails among `message_ids`."""
    if not message_ids:
        return None
    rows = session.exec(
        select(Outbox.message_id, Outbox.ticket_id, Outbox.kind).where(
            col(Outbox.message_id).in_(list(message_ids[:50])), col(Outbox.ticket_id).is_not(None)
        )
    ).all()
    found = {mid: (tid, kind) for mid, tid, kind in rows}
    for message_id in message_ids:
        if message_id in found:
            return found[message_id]
    return None


def outbox_id_by_message_id(session: Session, message_id: str) -> int | None:
    return session.exec(select(Outbox.id).where(Outbox.message_id == message_id)).first()


def staff_message_seen(session: Session, header_message_id: str) -> bool:
    """Whether a staff mail with this Message-ID was already executed (replay guard): a
    reply or note, or a request logged for a customer (`staff_opening`)."""
    query = select(Message.id).where(
        Message.header_message_id == header_message_id,
        col(Message.author_staff_id).is_not(None) | col(Message.flags).contains(LOGGED_BY_STAFF),
    )
    return session.exec(query).first() is not None


def last_customer_message(session: Session, ticket_id: int) -> Message | None:
    query = (
        select(Message)
        .where(Message.ticket_id == ticket_id, Message.direction == "in")
        .where(Message.visibility == "public", col(Message.author_contact_id).is_not(None))
        .order_by(col(Message.id).desc())
    )
    return session.exec(query).first()


def internal_texts(session: Session, ticket_id: int) -> list[str]:
    query = select(Message).where(Message.ticket_id == ticket_id, Message.visibility == "internal")
    return [note.new_text or note.body_text for note in session.exec(query)]


def public_message_ids(session: Session, ticket_id: int) -> list[str]:
    query = (
        select(Message.message_id)
        .where(Message.ticket_id == ticket_id, Message.visibility == "public")
        .order_by(col(Message.id))
    )
    return list(session.exec(query))


def move_messages(session: Session, source_id: int, target_id: int) -> int:
    rows = list(session.exec(select(Message).where(Message.ticket_id == source_id)))
    for row in rows:
        row.ticket_id = target_id
        session.add(row)
    return len(rows)


def resolve_merged(session: Session, ticket: Ticket | None) -> Ticket | None:
    """Follow merges (bounded) so mail to an old ticket lands in the surviving one."""
    for _ in range(10):
        if ticket is None or ticket.merged_into_id is None:
            return ticket
        ticket = session.get(Ticket, ticket.merged_into_id)
    return ticket
