"""Which desk a parsed mail goes to: bounces, staff mail, answers to permission requests,
ratings, or the customer desk with the core's decision on it (open, add, hold, or refuse a
mail over the limits). Each desk applies what it decides inside the caller's transaction.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from gateway import history_mail, ratings
from gateway.approvals import ApprovalDesk
from gateway.bounce_desk import BounceDesk
from gateway.core import approvals as approval_rules
from gateway.core import limits, threads
from gateway.core.decide import decide
from gateway.core.model import (
    AddToTicket,
    AutoMailHistory,
    Candidates,
    DecisionInput,
    Envelope,
    OpenTicket,
    ParsedMail,
    Sender,
    SenderKind,
    Verdict,
)
from gateway.core.quotes import new_text
from gateway.customer_desk import CustomerDesk
from gateway.staff_desk import StaffDesk
from gateway.store import accounts, repeats, repo, staffing
from gateway.store.tables import Inbound

HOUR = timedelta(hours=1)
# A contact's mail repeating word for word what they wrote this long ago joins that ticket.
REPEAT_WINDOW = timedelta(hours=24)

if TYPE_CHECKING:
    from gateway.process import Settings


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        bounce_desk: BounceDesk,
        staff_desk: StaffDesk,
        customers: CustomerDesk,
        approvals: ApprovalDesk | None,
    ):
        self.settings, self.bounce_desk, self.staff_desk = settings, bounce_desk, staff_desk
        self.customers, self.approvals = customers, approvals

    def handle(self, session, row: Inbound, mail: ParsedMail, now: datetime,
               verdict: Verdict, message_id_reused: bool) -> int:  # fmt: skip
        envelope = envelope_of(row)
        bounced = self.bounce_desk.handle(session, row, mail, envelope, now)
        if bounced is not None:
            return bounced
        sender = self.sender(session, mail)
        too_much = limits.violation(mail, self.settings.mail_limits)
        if too_much is not None:
            return self.customers.refuse(session, row, sender, mail, too_much, now)
        keys = threads.keys_for(
            mail, envelope.rcpt_tos, self.settings.support_address, self.settings.tag
        )
        if sender.kind is SenderKind.STAFF:
            return self.staff_desk.handle(
                session, row, mail, envelope, sender.staff, keys, now, verdict
            )
        # A token names a ticket or a permission request, never both (each is drawn at
        # random): the request is looked for only when no ticket has it.
        by_token = repo.ticket_by_token(session, keys.token)
        request = None
        if by_token is None and self.approvals is not None:
            request = self.approvals.request_for(session, keys.token)
        answer = approval_rules.read_answer(new_text(mail.text, mail.html)) if request else None
        if answer is not None:
            return self.approvals.answer_by_mail(
                session, row, mail, envelope, sender, verdict, request, answer, now
            )
        if by_token is None and request is not None:  # a reply to a permission request
            by_token = repo.ticket_by_id(session, request.ticket_id)
        seen: dict = {}  # the clues of a reply usually all name the same ticket
        candidates = Candidates(
            by_token=self._surviving(session, by_token, seen),
            by_reference=self._surviving(
                session, repo.ticket_by_references(session, keys.references), seen
            ),
            by_tag=self._surviving(session, repo.ticket_by_id(session, keys.tag_number), seen),
        )
        if sender.contact is not None and threads.match(sender, candidates) is None:
            repeated = repeats.ticket_repeated(session, sender.contact.id,
                                               repeats.text_digest(session, mail.text),
                                               now - REPEAT_WINDOW)  # fmt: skip
            by_repeat = self._surviving(session, repo.ticket_by_id(session, repeated), seen)
            candidates = replace(candidates, by_repeat=by_repeat)
        flags = list(mail.defects)
        if message_id_reused:
            flags.append("message-id-reused")
        decision = decide(
            DecisionInput(
                mail=mail,
                envelope=envelope,
                sender=sender,
                keys=keys,
                candidates=candidates,
                history=self._history(session, sender, envelope.mail_from, now),
                policy=self.settings.policy,
                now=now,
                recipients_complaints=self.settings.complaints_address.lower()
                in (r.lower() for r in envelope.rcpt_tos),
                flags=tuple(flags),
                verdict=verdict,
            )
        )
        if not verdict.verified:
            flags.append("unverified")
        if mail.removed_headers:  # forged A-R or X-Gateway-* arriving from outside
            flags.append("foreign-headers-removed")
        if ratings.record_by_mail(session, mail, decision, sender, now):
            return 0  # a digit answering a satisfaction request: a rating, not a follow-up
        if history_mail.asked(mail, sender, decision):  # asks the gateway, not a person
            return history_mail.answer(session, self.customers.notices, row, sender, decision, now)
        if isinstance(decision, OpenTicket):
            return self.customers.open(session, row, mail, decision, flags, now, verdict)
        if isinstance(decision, AddToTicket):
            return self.customers.add(session, row, mail, decision, flags, now, verdict)
        return self.customers.hold(session, row, mail, decision, now)

    @staticmethod
    def _surviving(session, found, seen: dict):
        """A merged ticket's mail goes to the ticket it was merged into; `seen` keeps what was
        already looked up for this mail, by ticket id."""
        if found is None:
            return None
        if found.id not in seen:
            ticket = staffing.resolve_merged(session, repo.get_ticket(session, found.id))
            seen[found.id] = accounts.ticket_access(session, ticket) if ticket is not None else None
        return seen[found.id]

    def sender(self, session, mail: ParsedMail) -> Sender:
        author = mail.sender
        if author is None:
            return Sender(SenderKind.STRANGER, "")
        staff = repo.find_staff(session, author.email)
        if staff is not None:
            return Sender(SenderKind.STAFF, author.email, staff=staff)
        contact = repo.find_contact(session, author.email)
        if contact is not None and contact.active:
            return Sender(SenderKind.CONTACT, author.email, contact=contact)
        return Sender(SenderKind.STRANGER, author.email, contact=contact)  # deactivated, or None

    def _history(self, session, sender: Sender, return_path: str, now) -> AutoMailHistory:
        if not sender.email:
            return AutoMailHistory()
        hour, day = repo.auto_mail_counts(session, sender.email, now)
        last, everyone = None, 0
        if sender.kind is not SenderKind.CONTACT and return_path:  # a stranger's notice goes
            last = repo.last_event_at(session, "stranger-notice", return_path)  # to Return-Path
            everyone = repo.count_events_since(session, "stranger-notice", now - HOUR)
        return AutoMailHistory(last_hour=hour, last_day=day, last_stranger_notice=last,
                               stranger_notices_last_hour=everyone)  # fmt: skip


def envelope_of(row: Inbound) -> Envelope:
    return Envelope(row.mail_from, tuple(json.loads(row.rcpt_tos)), row.peer, row.source)
