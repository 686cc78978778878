"""The SQLModel tables: the one source of truth for the schema (`schema.sql` is generated).

Times are timezone-aware and stored as UTC. Status and kind columns hold short lowercase words whose
allowed values are listed beside them. Columns marked "sealed" hold AES-GCM ciphertext bound to
the row's `row_key` (see `store/vault.py` and `store/sealing.py`); code outside `gateway/store`
sees them as plain values.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import Column, Index, LargeBinary, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel


def new_row_key() -> str:
    """A random key naming a row in its ciphertexts' associated data (known before insert)."""
    return secrets.token_hex(8)


def _sealed(default=""):
    return Field(default=default, sa_column=Column(LargeBinary, nullable=False))


class DataKey(SQLModel, table=True):
    """A data key, wrapped by a master key from the key file; `wrapped` is NULL once destroyed.

    purpose: company (staff-written text, unknown senders' mail) | index (keyed lookups) |
    contact (one per contact: everything that contact wrote or is about them)."""

    id: int | None = Field(default=None, primary_key=True)
    purpose: str = Field(max_length=10, index=True)
    row_key: str = Field(max_length=16, unique=True)
    master_key_id: str = Field(max_length=16, index=True)
    wrapped: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    created_at: datetime
    destroyed_at: datetime | None = None


class Account(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=200)
    parent_id: int | None = Field(default=None, foreign_key="account.id")  # reseller
    created_at: datetime


class Contact(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = _sealed()  # lowercased
    email_hmac: str = Field(unique=True, max_length=64)  # keyed digest of the address, for lookup
    name: str = _sealed()
    key_id: int | None = Field(default=None, foreign_key="datakey.id")
    row_key: str = Field(default_factory=new_row_key, max_length=16)
    erased_at: datetime | None = None
    account_id: int = Field(foreign_key="account.id", index=True)
    role: str = Field(default="user", max_length=10)  # owner | admin | user
    language: str = Field(default="en", max_length=8)
    active: bool = True  # false: left the customer; their mail is a stranger's, none goes to them
    created_at: datetime


class Department(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=100)
    created_at: datetime


class Staff(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True, max_length=320)
    name: str = Field(max_length=200)
    department_id: int | None = Field(default=None, foreign_key="department.id")
    role: str = Field(default="agent", max_length=10)  # agent | manager
    active: bool = True
    created_at: datetime
    # Their out-of-office answered one of our mails: colleagues stand in (`staffing.present`)
    # until the next mail they write themselves.
    away_since: datetime | None = None


_PAUSED = text("pending_since IS NOT NULL")
_KEPT = text("forgotten_at IS NULL")


class Ticket(SQLModel, table=True):
    # Each index answers a timed job's question with all of its terms. Without statistics
    # SQLite takes any index that matches a term: one on status alone read every closed ticket
    # ever, one on category every complaint ever, one on pending_since (asked IS NULL) nearly
    # every ticket. Only paused tickets are in the pending_since index.
    __table_args__ = (
        Index("ix_ticket_status_sla_due_at", "status", "sla_due_at"),
        Index("ix_ticket_status_reply_due_at", "status", "reply_due_at"),
        Index("ix_ticket_status_resolved_at", "status", "resolved_at"),
        Index("ix_ticket_category_status", "category", "status"),
        Index("ix_ticket_paused", "pending_since", sqlite_where=_PAUSED, postgresql_where=_PAUSED),
        # Closed tickets still to empty when their retention period ends (`store/retention.py`).
        Index(
            "ix_ticket_unforgotten",
            "status",
            "resolved_at",
            sqlite_where=_KEPT,
            postgresql_where=_KEPT,
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    subject: str = _sealed()
    row_key: str = Field(default_factory=new_row_key, max_length=16)
    # status: new | open | pending | resolved | closed
    status: str = Field(default="new", max_length=10)
    category: str = Field(default="request", max_length=10)  # request | complaint
    priority: str = Field(default="normal", max_length=10)  # low|normal|high|urgent
    requester_id: int = Field(foreign_key="contact.id", index=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    department_id: int | None = Field(default=None, foreign_key="department.id")
    assignee_id: int | None = Field(default=None, foreign_key="staff.id")
    reply_token: str = Field(unique=True, max_length=64)
    language: str = Field(default="en", max_length=8)
    created_at: datetime
    updated_at: datetime
    sla_due_at: datetime | None = None
    first_response_at: datetime | None = None
    forgotten_at: datetime | None = None  # its words emptied after the retention period
    # After the first response: when the answer to the customer's latest unanswered message is
    # due (None: nothing awaits an answer). Before it, `sla_due_at` is that deadline.
    reply_due_at: datetime | None = None
    resolved_at: datetime | None = None
    merged_into_id: int | None = Field(default=None, foreign_key="ticket.id")
    pending_since: datetime | None = None  # set by the jobs


class Watch(SQLModel, table=True):
    """A staff member who asked for every notification of a ticket."""

    ticket_id: int = Field(foreign_key="ticket.id", primary_key=True)
    staff_id: int = Field(foreign_key="staff.id", primary_key=True)


class TicketCc(SQLModel, table=True):
    """A contact of the ticket's account copied on public replies."""

    ticket_id: int = Field(foreign_key="ticket.id", primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", primary_key=True)


class Inbound(SQLModel, table=True):
    """A raw message as received, before any decision: the durable spool."""

    __table_args__ = (UniqueConstraint("message_id", "content_digest"),)
    id: int | None = Field(default=None, primary_key=True)
    received_at: datetime
    source: str = Field(max_length=10)  # smtp | imap | pipe
    peer: str = Field(default="", max_length=200)
    mail_from: str = Field(default="", max_length=320)
    rcpt_tos: str = Field(sa_column=Column(Text, nullable=False))  # JSON list
    message_id: str = Field(max_length=998, index=True)  # header value or generated
    message_id_generated: bool = False
    content_digest: str = Field(max_length=64)
    raw: bytes = _sealed(b"")  # as received until processed, then the card-redacted copy
    size: int
    row_key: str = Field(default_factory=new_row_key, max_length=16)
    contact_id: int | None = Field(default=None, foreign_key="contact.id", index=True)  # sender
    original_sha256: str = Field(default="", max_length=64)  # set when `raw` is replaced
    status: str = Field(default="pending", max_length=10, index=True)  # pending|done|failed
    attempts: int = 0
    error: str | None = Field(default=None, sa_column=Column(Text))
    processed_at: datetime | None = None


class Message(SQLModel, table=True):
    # "Did this contact write these same words today?" (a resent request, an auto-responder).
    __table_args__ = (Index("ix_message_author_repeat", "author_contact_id", "text_digest"),)
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    inbound_id: int | None = Field(default=None, foreign_key="inbound.id", index=True)
    direction: str = Field(max_length=3)  # in | out
    visibility: str = Field(default="public", max_length=10)  # public | internal
    author_contact_id: int | None = Field(default=None, foreign_key="contact.id")
    author_staff_id: int | None = Field(default=None, foreign_key="staff.id")
    author_email: str = _sealed()
    message_id: str = Field(unique=True, max_length=998)
    header_message_id: str = Field(default="", max_length=998, index=True)  # threads replies
    subject: str = _sealed()
    body_text: str = _sealed()  # full text
    new_text: str = _sealed()  # quotes removed
    row_key: str = Field(default_factory=new_row_key, max_length=16)
    auth_verdict: str = Field(default="none", max_length=200)
    flags: str = Field(default="", max_length=500)  # comma-separated defects and notes
    created_at: datetime = Field(index=True)  # the last day's mail, read for suggestions
    text_digest: str = Field(default="", max_length=64)  # customer mail: store/repeats.py


class Blob(SQLModel, table=True):
    """Attachment bytes, stored once per owner's data key and content (id: a keyed digest)."""

    id: str = Field(primary_key=True, max_length=64)
    key_id: int = Field(foreign_key="datakey.id")
    size: int
    data: bytes = _sealed(b"")


class Attachment(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id", index=True)
    blob_id: str = Field(foreign_key="blob.id", max_length=64)
    filename: str = _sealed()
    row_key: str = Field(default_factory=new_row_key, max_length=16)
    content_type: str = Field(default="application/octet-stream", max_length=200)
    size: int
    content_id: str = _sealed()  # cleaned Content-ID, "" when none (it may name the file)
    inline: bool = False  # sent inline (Content-Disposition, or a Content-ID with none)


class Outbox(SQLModel, table=True):
    """One outgoing mail, rendered to final bytes in the transaction that caused it."""

    # Automatic mail to one address in the last day is counted for every mail: read through
    # this, not through everything ever sent to that address.
    __table_args__ = (Index("ix_outbox_recipient_recent", "recipient_key", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime
    kind: str = Field(max_length=40)
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", index=True)
    automatic: bool = True
    mail_from: str = Field(max_length=320)
    rcpt_to: str = Field(sa_column=Column(Text, nullable=False))  # JSON list
    recipient_key: str = Field(default="", max_length=320, index=True)  # first recipient
    message_id: str = Field(unique=True, max_length=998)
    raw: bytes = _sealed(b"")
    row_key: str = Field(default_factory=new_row_key, max_length=16)
    status: str = Field(default="pending", max_length=10, index=True)  # pending|sent|failed
    attempts: int = 0
    next_attempt_at: datetime
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    sent_at: datetime | None = None
    dedupe_key: str | None = Field(default=None, unique=True, max_length=200)
    # Put back by hand (`gateway outbox retry`) after it was given up: its lifetime counts
    # from here, not from when it was queued.
    retried_at: datetime | None = None


class Event(SQLModel, table=True):
    """The audit log: every change, with a unique key for actions that must happen once."""

    # "When was this address last sent a notice?" is asked of every stranger's mail: read
    # through this, not through every event of that kind ever written (and erasure finds an
    # address's events by it).
    # "How many notices to strangers this hour?" (a cap on them all) and the like: by kind
    # and time.
    __table_args__ = (
        Index("ix_event_actor_kind_at", "actor", "kind", "at"),
        Index("ix_event_kind_at", "kind", "at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    at: datetime
    ticket_id: int | None = Field(default=None, foreign_key="ticket.id", index=True)
    kind: str = Field(max_length=60)
    actor: str = Field(default="", max_length=320)
    detail: str = Field(default="{}", sa_column=Column(Text, nullable=False))  # JSON
    dedupe_key: str | None = Field(default=None, unique=True, max_length=200)


class Quarantine(SQLModel, table=True):
    """Inbound mail held instead of ticketed, with the reason."""

    id: int | None = Field(default=None, primary_key=True)
    inbound_id: int = Field(foreign_key="inbound.id", unique=True)
    created_at: datetime = Field(index=True)  # held mail is forgotten after some days
    reason: str = Field(max_length=60)
    detail: str = Field(default="", sa_column=Column(Text, nullable=False))
    sender: str = Field(default="", max_length=320, index=True)
    released_at: datetime | None = None


class InstallationSecret(SQLModel, table=True):
    """Random keys made on first use (VERP return paths); never leave the database."""

    name: str = Field(primary_key=True, max_length=40)
    value: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class Bouncing(SQLModel, table=True):
    """An address whose mail bounced for good: automatic mail to it stops until cleared."""

    address: str = Field(primary_key=True, max_length=320)
    since: datetime
    status: str = Field(default="", max_length=20)
    diagnostic: str = Field(default="", sa_column=Column(Text, nullable=False))
    outbox_id: int | None = Field(default=None, foreign_key="outbox.id")
    cleared_at: datetime | None = None


class Complaint(SQLModel, table=True):
    """A ticket taken in as a complaint: who is in charge, how far it was escalated."""

    ticket_id: int = Field(foreign_key="ticket.id", primary_key=True)
    opened_at: datetime
    manager_id: int | None = Field(default=None, foreign_key="staff.id", index=True)  # in charge
    level: int = 0  # escalation steps taken beyond the manager in charge
    escalated_at: datetime  # when the last step was taken


class Rating(SQLModel, table=True):
    """A customer's rating of one staff reply: one per reply and contact, the last one wins."""

    __table_args__ = (UniqueConstraint("message_id", "contact_id"),)
    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(foreign_key="message.id")  # the staff reply
    contact_id: int = Field(foreign_key="contact.id", index=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    staff_id: int | None = Field(default=None, foreign_key="staff.id")  # the reply's author
    score: int  # 1 (poor) to 5 (excellent)
    comment: str = _sealed()  # the customer's words: sealed under their key
    row_key: str = Field(default_factory=new_row_key, max_length=16)
    source: str = Field(default="web", max_length=10)  # web | mail
    created_at: datetime
    updated_at: datetime = Field(index=True)


class Approval(SQLModel, table=True):
    """A written permission request to a customer, and the proof of its answer."""

    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int = Field(foreign_key="ticket.id", index=True)
    question: str = Field(sa_column=Column(Text, nullable=False))  # the exact text asked
    asked_by_staff_id: int | None = Field(default=None, foreign_key="staff.id")
    asked_by: str = Field(default="", max_length=320)
    asked_at: datetime
    expires_at: datetime
    token: str = Field(unique=True, max_length=64)  # reply address support+<token>@
    # pending | approved | denied | expired (`approval_expiry`: nobody answered in time)
    status: str = Field(default="pending", max_length=10, index=True)
    decided_at: datetime | None = None
    decided_by_contact_id: int | None = Field(default=None, foreign_key="contact.id")
    decided_by: str = Field(default="", max_length=320)
    via: str = Field(default="", max_length=10)  # mail | link
    evidence_message_id: str = Field(default="", max_length=998)  # the answer's Message-ID
    evidence_verdict: str = Field(default="", max_length=200)  # its authentication verdict
    evidence_sha256: str = Field(default="", max_length=64)  # of its raw bytes as received
    evidence_detail: str = Field(default="{}", sa_column=Column(Text, nullable=False))  # JSON


# Indexes an earlier version made that no question needs now (upgrade drops them).
RETIRED_INDEXES = (
    "ix_ticket_status", "ix_ticket_category", "ix_ticket_sla_due_at", "ix_ticket_pending_since",
    "ix_event_kind",  # ix_event_kind_at reads by kind alone as well
)  # fmt: skip

ALL_TABLES = [
    DataKey,
    Account,
    Contact,
    Department,
    Staff,
    Ticket,
    Watch,
    TicketCc,
    Inbound,
    Message,
    Blob,
    Attachment,
    Outbox,
    Event,
    Quarantine,
    Approval,
    InstallationSecret,
    Bouncing,
    Complaint,
    Rating,
]
