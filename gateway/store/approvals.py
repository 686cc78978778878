"""Permission requests and their proof: create, find by reply token, record the decision."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import bindparam
from sqlmodel import Session, col, select

from gateway.store import repo
from gateway.store.tables import Approval


def add_request(
    session: Session,
    *,
    ticket_id: int,
    question: str,
    staff_id: int,
    staff_email: str,
    now: datetime,
    expires_at: datetime,
) -> Approval:
    row = Approval(
        ticket_id=ticket_id,
        question=question,
        asked_by_staff_id=staff_id,
        asked_by=staff_email,
        asked_at=now,
        expires_at=expires_at,
        token=repo.new_reply_token(),
    )
    session.add(row)
    session.flush()
    return row


_BY_TOKEN = select(Approval).where(Approval.token == bindparam("token"))  # asked for each reply


def by_token(session: Session, token: str | None) -> Approval | None:
    if not token:
        return None
    return session.exec(_BY_TOKEN, params={"token": token}).first()


def by_id(session: Session, approval_id: int) -> Approval | None:
    return session.get(Approval, approval_id)


def pending_expired(session: Session, now: datetime) -> list[tuple[int, int]]:
    """(approval id, ticket id) of requests still pending past their date."""
    query = select(Approval.id, Approval.ticket_id).where(
        Approval.status == "pending", col(Approval.expires_at) <= now
    )
    return list(session.exec(query.order_by(col(Approval.id))))


def for_ticket(session: Session, ticket_id: int) -> list[Approval]:
    query = select(Approval).where(Approval.ticket_id == ticket_id).order_by(col(Approval.id))
    return list(session.exec(query))


def record_decision(
    session: Session,
    row: Approval,
    *,
    decision: str,
    contact_id: int,
    contact_email: str,
    via: str,
    at: datetime,
    message_id: str = "",
    verdict: str = "",
    sha256: str = "",
    detail: dict | None = None,
) -> None:
    row.status = "approved" if decision == "approve" else "denied"
    row.decided_at, row.via = at, via
    row.decided_by_contact_id, row.decided_by = contact_id, contact_email
    row.evidence_message_id, row.evidence_verdict = message_id, verdict[:200]
    row.evidence_sha256 = sha256
    row.evidence_detail = json.dumps(detail or {}, ensure_ascii=False, default=str)
    session.add(row)
