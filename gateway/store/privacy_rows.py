"""Queries behind privacy: the raw copy kept after processing, a contact's data for export,
and erasure (the contact's data key destroyed, their address scrubbed from clear columns and
from the proof of permission requests they answered)."""

from __future__ import annotations

import json
import re
from datetime import datetime

from sqlalchemy import func, or_, update
from sqlmodel import Session, col, select

from gateway.store import erasure_copies, sealing
from gateway.store.tables import (
    Account,
    Approval,
    Attachment,
    Bouncing,
    Contact,
    Event,
    Inbound,
    Message,
    Outbox,
    Quarantine,
    Ticket,
)


def processed_raw(
    session: Session, row: Inbound, raw: bytes, contact_id: int | None, original_sha256: str
) -> dict:
    """The spool row's values once processed: the raw bytes as received replaced by the copy
    safe to keep, sealed under the sender's key (the company key for staff and unknown
    senders), even when unchanged, and the original's SHA-256 (`spool.finish_inbound` writes
    them with the row's status, in one statement)."""
    target = {"row_key": row.row_key, "contact_id": contact_id, "raw": raw}
    sealed = sealing.sealed_values(session, Inbound, target)["raw"]
    return {"raw": sealed, "contact_id": contact_id,
            "original_sha256": original_sha256}  # fmt: skip


def outbox_key_taken(session: Session, dedupe_key: str) -> bool:
    query = select(Outbox.id).where(Outbox.dedupe_key == dedupe_key)
    return session.exec(query).first() is not None


# Export -----------------------------------------------------------------------------------


def account_name(session: Session, account_id: int) -> str:
    account = session.get(Account, account_id)
    return account.name if account else ""


def requested_tickets(session: Session, contact_id: int) -> list[Ticket]:
    query = select(Ticket).where(Ticket.requester_id == contact_id).order_by(col(Ticket.id))
    return list(session.exec(query))


def authored_messages(session: Session, contact_id: int) -> list[Message]:
    """Public messages the contact wrote (never internal notes, never anyone else's)."""
    query = (
        select(Message)
        .where(Message.author_contact_id == contact_id, Message.visibility == "public")
        .order_by(col(Message.id))
    )
    return list(session.exec(query))


def permission_requests(session: Session, contact_id: int) -> list[Approval]:
    """Permission requests on the tickets the contact opened, and those they answered."""
    requested = select(Ticket.id).where(Ticket.requester_id == contact_id)
    query = (
        select(Approval)
        .where(
            or_(
                col(Approval.ticket_id).in_(requested),
                Approval.decided_by_contact_id == contact_id,
            )
        )
        .order_by(col(Approval.id))
    )
    return list(session.exec(query))


def inbound_raw(session: Session, inbound_id: int | None, contact_id: int) -> bytes | None:
    """The kept raw copy of a contact's message, if it is theirs and was processed."""
    row = session.get(Inbound, inbound_id) if inbound_id else None
    if row is None or row.contact_id != contact_id or not row.original_sha256:
        return None
    return row.raw or None  # forgotten (`store/retention.py`): rebuilt from what is left


def attachments_of(session: Session, message_id: int) -> list[tuple[Attachment, bytes]]:
    from gateway.store.tables import Blob

    rows = session.exec(select(Attachment).where(Attachment.message_id == message_id))
    return [(a, session.get(Blob, a.blob_id).data) for a in rows]


# Erasure ----------------------------------------------------------------------------------


def erase_contact(session: Session, contact: Contact, now: datetime) -> dict:
    """Destroy the contact's data key, so every value sealed under it (their name, address,
    tickets' subjects, messages, attachments, raw mail, mail sent to them) is unreadable in
    this database and in every copy of it; then scrub their address from clear columns."""
    address, name = contact.email, contact.name
    vault = sealing.vault_of(session)
    conn = session.connection()
    vault.destroy(conn, contact.key_id)
    contact.erased_at = now
    contact.email_hmac = f"erased:{contact.id}"  # the address may come back as a new contact
    session.add(contact)
    session.flush()
    counts = {"key_destroyed": contact.key_id, **_scrub(session, address, contact.id)}
    counts["approvals"] = _scrub_approvals(session, address, contact.id)
    counts |= erasure_copies.forget_in_others_tickets(session, contact.id, address, name)
    session.flush()
    session.expire_all()  # rows loaded before hold plain values the key no longer opens
    session.info["rewrite_file"] = True  # see Database.write
    return counts


def _scrub(session: Session, address: str, contact_id: int) -> dict:
    """Columns that hold addresses in clear for routing, rate limits and the audit log."""
    tombstone = f"erased-contact-{contact_id}"
    address = address.lower()
    done = {}
    requested = select(Ticket.id).where(Ticket.requester_id == contact_id)
    statements = {
        "outbox_cancelled": update(Outbox)
        .where(Outbox.status == "pending")
        .where(or_(Outbox.recipient_key == address, col(Outbox.ticket_id).in_(requested)))
        .values(status="failed", last_error="not sent: the contact was erased"),
        "events": update(Event).where(Event.actor == address).values(actor=tombstone),
        "held": update(Quarantine).where(Quarantine.sender == address).values(sender=tombstone),
        "spool": update(Inbound).where(Inbound.mail_from == address).values(mail_from=""),
        "outbox": update(Outbox).where(Outbox.recipient_key == address)
        .values(recipient_key=tombstone),
    }  # fmt: skip
    for name, statement in statements.items():
        done[name] = session.execute(statement).rowcount or 0
    session.execute(update(Bouncing).where(Bouncing.address == address).values(address=tombstone))
    # Keyed digests of what they wrote, kept to spot a repeat: nothing to compare with now.
    session.execute(
        update(Message).where(Message.author_contact_id == contact_id).values(text_digest="")
    )
    like = f"%{address}%"
    spelled_any_way = re.compile(re.escape(address), re.IGNORECASE)
    rows = session.exec(
        select(Outbox).where(
            or_(col(Outbox.rcpt_to).like(like), col(Outbox.mail_from).like(like),
                func.lower(Outbox.last_error).like(like))  # a refusal names the address
        )
    ).all()  # fmt: skip
    for row in rows:
        row.rcpt_to = json.dumps([tombstone if r.lower() == address else r
                                  for r in json.loads(row.rcpt_to)])  # fmt: skip
        if row.last_error:
            row.last_error = _replaced(row.last_error, spelled_any_way, tombstone)
        session.add(row)
    for row in session.exec(select(Event).where(col(Event.detail).like(like))).all():
        row.detail = row.detail.replace(address, tombstone)
        session.add(row)
    for row in session.exec(select(Inbound).where(col(Inbound.rcpt_tos).like(like))).all():
        row.rcpt_tos = row.rcpt_tos.replace(address, tombstone)
        session.add(row)
    return done


def _scrub_approvals(session: Session, address: str, contact_id: int) -> int:
    """Permission requests keep the proof that a decision was made (the request, decision,
    time, channel, Message-ID, verdict, SHA-256), not who made it nor from where: the decider
    becomes the erased placeholder address, the remote address of a link answer is dropped and
    the contact's address is replaced wherever else it appears. Returns the answers scrubbed."""
    address = address.lower()
    pattern = re.compile(re.escape(address), re.IGNORECASE)
    like = f"%{address}%"
    query = select(Approval).where(
        or_(
            Approval.decided_by_contact_id == contact_id,
            func.lower(Approval.decided_by) == address,
            func.lower(Approval.question).like(like),
            func.lower(Approval.evidence_verdict).like(like),
            func.lower(Approval.evidence_detail).like(like),
        )
    )
    answered = 0
    for row in session.exec(query).all():
        theirs = row.decided_by_contact_id == contact_id or row.decided_by.lower() == address
        detail = json.loads(row.evidence_detail or "{}")
        if theirs:
            answered += 1
            row.decided_by = sealing.ERASED_ADDRESS
            detail.pop("remote", None)  # the IP address a link answer came from
        row.question = pattern.sub(sealing.ERASED_ADDRESS, row.question)
        row.evidence_verdict = pattern.sub(sealing.ERASED_ADDRESS, row.evidence_verdict)
        detail = _replaced(detail, pattern, sealing.ERASED_ADDRESS)
        row.evidence_detail = json.dumps(detail, ensure_ascii=False, default=str)
        session.add(row)
    return answered


def _replaced(value, pattern: re.Pattern, placeholder: str):
    """`value` (decoded JSON) with every match of `pattern` in its strings replaced."""
    if isinstance(value, str):
        return pattern.sub(placeholder, value)
    if isinstance(value, list):
        return [_replaced(v, pattern, placeholder) for v in value]
    if isinstance(value, dict):
        return {k: _replaced(v, pattern, placeholder) for k, v in value.items()}
    return value
