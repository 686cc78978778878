"""Who is who: accounts, contacts, departments and staff (set up from the CLI)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from gateway.store import sealing, staffing
from gateway.store.tables import Account, Contact, Department, Staff, Ticket


def get_or_create_account(
    session: Session, name: str, now: datetime, parent_id: int | None = None
) -> Account:
    row = session.exec(select(Account).where(Account.name == name)).first()
    if row is None:
        row = Account(name=name, created_at=now, parent_id=parent_id)
        session.add(row)
        session.flush()
    return row


def contact_by_email(session: Session, email: str) -> Contact | None:
    key = sealing.email_index(session, email)
    return session.exec(select(Contact).where(Contact.email_hmac == key)).first()


def upsert_contact(
    session: Session,
    *,
    email: str,
    name: str,
    account_id: int,
    role: str,
    language: str,
    now: datetime,
) -> tuple[Contact, bool]:
    """Create or update a contact; returns (row, created)."""
    row = contact_by_email(session, email)
    created = row is None
    if row is None:
        row = Contact(email=email.lower(), created_at=now, account_id=account_id)
    row.name, row.account_id, row.role, row.language = name, account_id, role, language
    session.add(row)
    session.flush()
    return row, created


def department_by_name(session: Session, name: str) -> Department | None:
    query = select(Department).where(Department.name == name)
    return session.exec(query).first()


def add_department(session: Session, name: str, now: datetime) -> Department:
    row = Department(name=name, created_at=now)
    session.add(row)
    session.flush()
    return row


def add_staff(
    session: Session,
    *,
    email: str,
    name: str,
    department_id: int | None,
    role: str,
    now: datetime,
) -> Staff:
    row = Staff(
        email=email.lower(), name=name, department_id=department_id, role=role, created_at=now
    )
    session.add(row)
    session.flush()
    session.info.pop(staffing.ACTIVE_STAFF, None)  # read again with the new member
    return row


def set_staff_active(session: Session, email: str, active: bool) -> tuple[Staff | None, list[int]]:
    """A staff member on or off duty for good (left the company, back again); off, their tickets
    not closed lose their assignee, so the department hears of them again. Returns the member
    (None if unknown) and the numbers of those tickets."""
    member = session.exec(select(Staff).where(Staff.email == email.lower())).first()
    if member is None:
        return None, []
    member.active = active
    session.add(member)
    released: list[int] = []
    if not active:
        query = select(Ticket).where(Ticket.assignee_id == member.id, Ticket.status != "closed")
        for ticket in session.exec(query):
            ticket.assignee_id = None
            session.add(ticket)
            released.append(ticket.id)
    session.flush()
    session.info.pop(staffing.ACTIVE_STAFF, None)  # read again without (or with) them
    return member, released


def set_contact_active(
    session: Session, email: str, active: bool
) -> tuple[Contact | None, list[int]]:
    """A contact who left their company (or came back). Returns the contact (None if unknown)
    and the tickets not closed that they opened, which no longer reach anyone at the customer
    while they are off: staff may copy a colleague of theirs."""
    contact = contact_by_email(session, email)
    if contact is None:
        return None, []
    contact.active = active
    session.add(contact)
    session.flush()
    query = select(Ticket.id).where(Ticket.requester_id == contact.id, Ticket.status != "closed")
    return contact, sorted(session.exec(query))


def list_departments(session: Session) -> list[Department]:
    return list(session.exec(select(Department).order_by(col(Department.name))))


def list_staff(session: Session) -> list[Staff]:
    return list(session.exec(select(Staff).order_by(col(Staff.email))))


def list_contacts(session: Session) -> list[tuple[Contact, str]]:
    """Contacts by address (sorted here: the database holds addresses sealed)."""
    query = select(Contact, Account.name).join(Account, col(Account.id) == col(Contact.account_id))
    return sorted(session.exec(query).all(), key=lambda row: row[0].email)
