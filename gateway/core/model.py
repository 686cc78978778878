"""Typed values that cross the core's boundary: parsed mail, who sent it, and decisions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from gateway.core.sla import Calendar


@dataclass(frozen=True)
class Envelope:
    """What the transport told us: SMTP MAIL FROM / RCPT TO, or the IMAP mailbox."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    peer: str = ""
    source: str = "smtp"


@dataclass(frozen=True)
class Address:
    name: str
    email: str  # lowercased addr-spec


@dataclass(frozen=True)
class ParsedAttachment:
    filename: str
    content_type: str
    data: bytes
    content_id: str = ""  # cleaned (inline.clean_content_id); "" when absent or unusable
    inline: bool = False  # Content-Disposition inline, or none given with a Content-ID
    removed: bool = False  # a stand-in for a file not kept (it held a card number)


@dataclass(frozen=True)
class AutoSignals:
    """Headers that mark a message as machine-sent (RFC 3834 and common practice)."""

    auto_submitted: str = ""
    precedence: str = ""
    list_id: str = ""
    x_autoreply: bool = False
    auto_response_suppress: str = ""
    loop_header: bool = False


@dataclass(frozen=True)
class ParsedMail:
    message_id: str
    from_addresses: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    subject: str
    date: datetime | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    text: str
    html: str
    attachments: tuple[ParsedAttachment, ...]
    auto: AutoSignals
    received_count: int
    defects: tuple[str, ...] = ()
    auth_results: tuple[str, ...] = ()  # Authentication-Results values, topmost first
    removed_headers: tuple[str, ...] = ()  # foreign A-R and X-Gateway-* removed at the border
    part_count: int = 1  # MIME parts, containers included
    depth: int = 1  # MIME nesting depth

    @property
    def sender(self) -> Address | None:
        """The one author, or None when From is missing or names several addresses."""
        return self.from_addresses[0] if len(self.from_addresses) == 1 else None


class SenderKind(Enum):
    CONTACT = "contact"
    STAFF = "staff"
    STRANGER = "stranger"


@dataclass(frozen=True)
class ContactInfo:
    id: int
    email: str
    name: str
    account_id: int
    role: str
    language: str
    active: bool = True


@dataclass(frozen=True)
class StaffInfo:
    id: int
    email: str
    name: str
    department_id: int | None
    role: str


@dataclass(frozen=True)
class Sender:
    kind: SenderKind
    email: str
    contact: ContactInfo | None = None  # a stranger's too, when a deactivated contact
    staff: StaffInfo | None = None


@dataclass(frozen=True)
class TicketInfo:
    id: int
    status: str
    requester_id: int
    account_id: int
    reply_token: str
    subject: str
    language: str
    reseller_id: int | None = None  # the parent account of the ticket's account
    cc_ids: tuple[int, ...] = ()  # contacts in copy


@dataclass(frozen=True)
class ThreadKeys:
    """The threading clues a message carries, strongest first."""

    token: str | None
    references: tuple[str, ...]
    tag_number: int | None


@dataclass(frozen=True)
class Candidates:
    """Tickets the store found for each clue (None where a clue matched nothing)."""

    by_token: TicketInfo | None = None
    by_reference: TicketInfo | None = None
    by_tag: TicketInfo | None = None
    by_repeat: TicketInfo | None = None  # the sender wrote the same words there in a day


@dataclass(frozen=True)
class ThreadMatch:
    ticket: TicketInfo
    via: str  # token | reference | tag | repeat


@dataclass(frozen=True)
class AutoMailHistory:
    """How much automatic mail one address received lately (for RFC 3834 rate limits)."""

    last_hour: int = 0
    last_day: int = 0
    last_stranger_notice: datetime | None = None
    stranger_notices_last_hour: int = 0  # to anyone: forged senders flood under many names


@dataclass(frozen=True)
class Policy:
    """The settings decisions depend on, taken from configuration by the caller."""

    first_response_minutes: int = 60
    auto_per_hour: int = 10
    auto_per_day: int = 40
    stranger_notice_hours: int = 24
    stranger_notices_per_hour: int = 100  # to all unknown addresses together
    calendar: Calendar = Calendar()  # opening hours of new tickets' first-response clock


# Decisions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenTicket:
    """A new ticket for a known contact, with its confirmation unless that must be withheld."""

    contact: ContactInfo
    subject: str
    category: str  # request | complaint
    sla_due_at: datetime
    confirm: bool
    withheld_reason: str = ""


@dataclass(frozen=True)
class AddToTicket:
    ticket: TicketInfo
    via: str
    reopen: bool
    automatic: bool  # an auto-reply recorded silently
    reply_due_at: datetime | None = None  # when an answer to it is due (not for auto-replies)


@dataclass(frozen=True)
class Hold:
    """Quarantine the message; optionally send the fixed stranger notice."""

    reason: str
    detail: str
    notify_stranger: bool = False
    notices_capped: bool = False  # a notice was due but the hourly cap on them was reached


Decision = OpenTicket | AddToTicket | Hold


@dataclass(frozen=True)
class Verdict:
    """Authentication verdict stored with each message (filled in by the trust layer)."""

    result: str = "none"  # pass | fail | none
    why: str = "not checked"
    domain: str = ""  # the From domain the verdict speaks for
    basis: str = ""  # what passed: dmarc | dkim | spf ("" unless result is pass)
    policy: str = ""  # the domain's published DMARC policy: none | quarantine | reject | ""
    checked: bool = False  # False when no authentication source is configured at all

    @property
    def verified(self) -> bool:
        return self.result == "pass"

    def __str__(self) -> str:
        return f"{self.result} ({self.why})"


@dataclass(frozen=True)
class DecisionInput:
    mail: ParsedMail
    envelope: Envelope
    sender: Sender
    keys: ThreadKeys
    candidates: Candidates
    history: AutoMailHistory
    policy: Policy
    now: datetime
    recipients_complaints: bool = False
    flags: tuple[str, ...] = field(default_factory=tuple)
    verdict: Verdict = field(default_factory=Verdict)
