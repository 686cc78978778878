"""A contact's rights over their data: export (one archive), correction, and erasure by
crypto-shredding; every access to personal data through these paths is written to the audit log.

Export holds the contact's own data only: their details, the tickets they opened, the permission
requests on those tickets or answered by them (with the proof of their own answers), and the
public messages they wrote as `.eml` files (the kept raw copy, card numbers masked; or rebuilt
from what was stored). Never internal notes, never what anyone else wrote. Erasure destroys the
contact's data key: their name, address, tickets' subjects, messages and attachments become
unreadable in the database and in every backup of it, while tickets keep their numbers, dates,
status and category (what complaint records must keep), shown as "erased contact"; permission
requests keep the proof that a decision was made, not who made it nor from where.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime

from gateway.store import privacy_rows, repo, staffing
from gateway.store.tables import Contact, Message

AUDIT_KIND = "personal-data-access"


def audit(session, now: datetime, actor: str, what: str, **detail) -> None:
    """One audit-log line: who (an OS user or a staff address), when, what."""
    repo.add_event(
        session, now, AUDIT_KIND, ticket_id=detail.pop("ticket_id", None), actor=actor,
        detail={"what": what, **detail},
    )  # fmt: skip


def export_archive(session, contact: Contact, now: datetime) -> bytes:
    """A zip: `contact.json` and `messages/NNNN-ticket-T.eml`, the contact's data only."""
    messages = privacy_rows.authored_messages(session, contact.id)
    listing, files = [], {}
    for number, message in enumerate(messages, 1):
        name = f"messages/{number:04d}-ticket-{message.ticket_id}.eml"
        # A request staff logged for them came in the staff member's mail: sealed under the
        # contact's key (it dies with it), but theirs only as it was recorded.
        logged = staffing.logged_by_staff(message)
        raw = None if logged else privacy_rows.inbound_raw(session, message.inbound_id, contact.id)
        files[name] = raw if raw is not None else _rebuilt(session, contact, message)
        listing.append(
            {"file": name, "ticket": message.ticket_id, "date": message.created_at,
             "subject": message.subject, "message_id": message.header_message_id or
             message.message_id}
        )  # fmt: skip
    document = {
        "exported_at": now,
        "contact": {
            "email": contact.email, "name": contact.name, "role": contact.role,
            "language": contact.language, "created_at": contact.created_at,
            "account": privacy_rows.account_name(session, contact.account_id),
        },
        "tickets": [_ticket(t) for t in privacy_rows.requested_tickets(session, contact.id)],
        "permission_requests": [_permission_request(a, contact.id)
                                for a in privacy_rows.permission_requests(session, contact.id)],
        "messages": listing,
    }  # fmt: skip
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        text = json.dumps(document, indent=2, ensure_ascii=False, default=str)
        archive.writestr("contact.json", text)
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _ticket(ticket) -> dict:
    return {
        "number": ticket.id, "subject": ticket.subject, "status": ticket.status,
        "category": ticket.category, "priority": ticket.priority, "language": ticket.language,
        "created_at": ticket.created_at, "updated_at": ticket.updated_at,
        "resolved_at": ticket.resolved_at,
    }  # fmt: skip


def _permission_request(approval, contact_id: int) -> dict:
    """A request with its answer; the proof (Message-ID, verdict, SHA-256, where from) only
    when the answer is the contact's own, as another contact's answer is that contact's data."""
    yours = approval.decided_by_contact_id == contact_id
    entry = {
        "request": approval.id, "ticket": approval.ticket_id, "question": approval.question,
        "asked_at": approval.asked_at, "expires_at": approval.expires_at,
        "status": approval.status, "decided_at": approval.decided_at, "via": approval.via,
        "answered_by": "you" if yours else "another contact" if approval.decided_at else None,
    }  # fmt: skip
    if yours:
        detail = json.loads(approval.evidence_detail or "{}")
        entry["evidence"] = {
            "message_id": approval.evidence_message_id, "verdict": approval.evidence_verdict,
            "sha256": approval.evidence_sha256,
            **({"remote": detail["remote"]} if detail.get("remote") else {}),
        }  # fmt: skip
    return entry


def _rebuilt(session, contact: Contact, message: Message) -> bytes:
    """An .eml from what was stored, for a message whose raw copy is not kept."""
    mail = EmailMessage(policy=SMTP)
    mail["From"] = contact.email
    mail["Subject"] = message.subject
    mail["Date"] = format_datetime(message.created_at)
    mail["Message-ID"] = message.header_message_id or message.message_id
    mail.set_content(message.body_text)
    for attachment, data in privacy_rows.attachments_of(session, message.id):
        maintype, _, subtype = attachment.content_type.partition("/")
        mail.add_attachment(
            data,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=attachment.filename,
        )
    return mail.as_bytes()


def erase(session, contact: Contact, now: datetime, actor: str) -> dict:
    """Crypto-shred the contact; returns what was done (counts, for the audit log)."""
    done = privacy_rows.erase_contact(session, contact, now)
    audit(session, now, actor, "erase", contact_id=contact.id, **done)
    return done


def correct(session, contact: Contact, field: str, value: str, now: datetime, actor: str) -> None:
    """Correct a contact's name or language (the two things a customer may ask to change)."""
    if field == "name":
        contact.name = value
    elif field == "language":
        contact.language = value
    else:
        raise ValueError(f"cannot correct {field!r}")
    session.add(contact)
    audit(session, now, actor, "correct", contact_id=contact.id, field=field)
