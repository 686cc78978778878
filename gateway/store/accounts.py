"""Accounts and resellers: who belongs where, and who may answer for a ticket's customer.

A reseller is an account with client accounts (`parent_id`); one level is followed, as in the
contacts CSV. Addresses are compared through `repo`/`directory`, never in SQL, because the
store may keep them sealed.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import bindparam, or_
from sqlmodel import Session, col, select

from gateway.core import permissions
from gateway.core.model import ContactInfo, TicketInfo
from gateway.store import repo, staffing
from gateway.store.tables import Account, Contact, Ticket, TicketCc


def account_by_name(session: Session, name: str) -> Account | None:
    return session.exec(select(Account).where(Account.name == name)).first()


def add_account(session: Session, name: str, reseller: str | None, now: datetime) -> str | None:
    """Create `name` (under `reseller`); returns an error in words, or None."""
    if account_by_name(session, name) is not None:
        return f"account {name!r} already exists"
    parent = None
    if reseller:
        parent = account_by_name(session, reseller)
        if parent is None:
            return f"no account named {reseller!r} (add the reseller first)"
        if parent.parent_id is not None:
            return f"{reseller!r} is itself a client of another account; resellers are one level"
    session.add(Account(name=name, parent_id=parent.id if parent else None, created_at=now))
    session.flush()
    return None


def contacts_of(session: Session, account_id: int) -> list[Contact]:
    rows = session.exec(select(Contact).where(Contact.account_id == account_id)).all()
    return sorted(rows, key=lambda c: (permissions.ROLES.index(c.role), c.email))


def clients_of(session: Session, account_id: int) -> list[Account]:
    query = select(Account).where(Account.parent_id == account_id).order_by(col(Account.name))
    return list(session.exec(query))


_PARENT = select(Account.__table__.c.parent_id).where(
    Account.__table__.c.id == bindparam("account_id")
)


def reseller_of(session: Session, account_id: int) -> int | None:
    """Asked for every reply: one column read, not the account loaded as a row."""
    return session.execute(_PARENT, {"account_id": account_id}).scalar()


def with_access(session: Session, info: TicketInfo | None) -> TicketInfo | None:
    """`info` completed with what permission checks need: its reseller and its copies."""
    if info is None:
        return None
    ccs = staffing.cc_ids(session, info.id)
    return replace(info, reseller_id=reseller_of(session, info.account_id), cc_ids=ccs)


def ticket_access(session: Session, ticket: Ticket) -> TicketInfo:
    return with_access(session, repo.ticket_info(ticket))


def approvers(session: Session, ticket: Ticket) -> list[ContactInfo]:
    """The contacts whose role may approve for this ticket: its account's and its reseller's
    owners and admins (a verified mail or a signed link is still needed to count)."""
    info = ticket_access(session, ticket)
    accounts = [a for a in (info.account_id, info.reseller_id) if a is not None]
    found = []
    for account_id in accounts:
        for row in contacts_of(session, account_id):
            contact = repo.contact_info(row)
            if getattr(row, "erased_at", None) is None and permissions.may(
                permissions.Action.APPROVE, contact, info, verified=True
            ):
                found.append(contact)
    return found


def visible_tickets(session: Session, contact: ContactInfo, limit: int) -> list[Ticket]:
    """The latest tickets a contact may read and answer: those they opened or are copied on,
    and for owners and admins every ticket of their account and of its clients."""
    mine = or_(
        col(Ticket.requester_id) == contact.id,
        col(Ticket.id).in_(select(TicketCc.ticket_id).where(TicketCc.contact_id == contact.id)),
    )
    if contact.role in permissions.MANAGERS:
        served = [contact.account_id, *(a.id for a in clients_of(session, contact.account_id))]
        mine = or_(mine, col(Ticket.account_id).in_(served))
    query = (
        select(Ticket)
        .where(mine, col(Ticket.merged_into_id).is_(None))
        .order_by(col(Ticket.id).desc())
        .limit(limit)
    )
    return list(session.exec(query))
