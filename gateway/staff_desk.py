"""Staff mail: verify the sender, find the ticket, then relay a reply, keep a note, run commands.

Unverified staff mail runs nothing and relays nothing: it is held and the real staff member is
alerted. Commands are all or nothing: every line is checked (`staff_commands.plan`) before any
is applied, and a single bad line sends the author an error quoting it, with nothing applied
and nothing relayed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway import (
    canned_replies,
    compose,
    held_commands,
    inline_relay,
    rating_reviews,
    relay_parts,
    staff_commands,
    staff_history,
    staff_opening,
)  # fmt: skip
from gateway.core import commands, senders, trust
from gateway.core.card_attachments import REMOVED_SUFFIX
from gateway.core.htmltext import html_to_text
from gateway.core.model import Envelope, ParsedMail, StaffInfo, ThreadKeys, Verdict
from gateway.core.quotes import new_text
from gateway.staff_notices import INTERNAL_KINDS, Sent, StaffNotices
from gateway.staff_opening import StaffOpening
from gateway.store import repo, spool, staffing
from gateway.store.tables import Inbound, Staff, Ticket
from gateway.urgency import Urgency


@dataclass(frozen=True)
class StaffSettings:
    trusted_authserv_ids: tuple[str, ...]
    insecure_trust_staff_from: bool
    max_reply_size: int = 26_214_400  # bytes on the wire (`outbound.max_message_size`)
    language: str = "en"  # of contacts registered by mail without one
    urgency: Urgency = Urgency()  # how soon `/priority urgent` makes the answer due


class StaffDesk:
    def __init__(self, notices: StaffNotices, settings: StaffSettings, approvals=None,
                 opening: StaffOpening | None = None):  # fmt: skip
        self.notices, self.settings, self.approvals = notices, settings, approvals
        self.opening = opening  # tickets staff open for a customer (`/open ADDRESS`)

    def handle(
        self,
        session,
        row: Inbound,
        mail: ParsedMail,
        envelope: Envelope,
        info: StaffInfo,
        keys: ThreadKeys,
        now: datetime,
        verdict: Verdict,
    ) -> int:
        """Apply one staff mail (`verdict`: the sender verdict); returns the mails queued."""
        staff = staffing.staff_by_id(session, info.id)
        verdict = trust.staff_verdict(
            verdict,
            staff.email.rpartition("@")[2],
            insecure_trust_from=self.settings.insecure_trust_staff_from,
        )
        if verdict.result != "pass":
            return self._hold_unverified(session, row, staff, str(verdict), now)
        if staffing.staff_message_seen(session, mail.message_id):
            spool.add_quarantine(
                session, row.id, now, "replayed-staff-mail",
                "this staff Message-ID was already executed once", staff.email,
            )  # fmt: skip
            return 0
        ticket, answered_kind = self._find_ticket(session, mail, keys)
        automatic = senders.automatic_reason(mail, envelope)
        if automatic is not None:
            return self._record_automatic(session, row, mail, staff, ticket, automatic, now)
        if staff.away_since is not None:  # they write again: back from wherever they were
            staff.away_since = None
            session.add(staff)
            repo.add_event(session, now, "staff-back", actor=staff.email)
        if ticket is None:
            parsed = commands.parse_commands(new_text(mail.text, mail.html), mail.subject)
            if held_commands.wanted(parsed):
                return self._held_commands(session, row, mail, staff, parsed, now)
            if staff_history.wanted(parsed):
                return staff_history.handle(self, session, row, mail, staff, parsed, now)
            if staff_opening.wanted(parsed) and self.opening is not None:
                return staff_opening.handle(self.opening, self, session, row, mail, staff,
                                            str(verdict), now)  # fmt: skip
            return self._no_ticket(session, row, mail, staff, now)
        text = new_text(mail.text, mail.html)
        parsed = commands.parse_commands(text, mail.subject)
        parsed, canned_errors = canned_replies.expand(session, self.notices, ticket, staff, parsed)
        replying = bool(parsed.body.strip() or mail.attachments) and not (
            parsed.internal or answered_kind in INTERNAL_KINDS
        )  # a manager may answer a complaint and resolve it in one mail
        steps, plan_errors = staff_commands.plan(
            session, ticket, staff, parsed.actions, public_reply=replying
        )
        errors = _in_line_order(text, [*parsed.errors, *canned_errors, *plan_errors])
        if errors:
            return self.reject(session, ticket, staff, mail, errors, now)
        internal = parsed.internal or answered_kind in INTERNAL_KINDS
        outcome = staff_commands.Outcome()
        body = parsed.body.strip()
        posting = bool(body or mail.attachments)
        if posting and not internal and ticket.status in ("resolved", "closed"):
            outcome.recorded.append(f"ticket reopened (it was {ticket.status})")
            outcome.reopened = True
            ticket.status, ticket.resolved_at = "open", None
        for step in steps:  # first, so a /cc add above a reply receives that reply
            staff_commands.apply(session, self.notices, ticket, staff, step, outcome, now,
                                 approvals=self.approvals)  # fmt: skip
        self.settings.urgency.after_commands(session, ticket, steps, outcome, now)
        if posting:
            self._post(session, row, mail, ticket, staff, body, internal, verdict, outcome, now)
            if answered_kind == rating_reviews.KIND:
                rating_reviews.reviewed(session, ticket, staff, now)
        session.add(ticket)
        told = outcome.reopened or outcome.withheld or outcome.unreached or outcome.files_not_sent
        if parsed.commands or told or not posting:
            self._receipt(session, ticket, staff, mail, internal, outcome, now)
        return len(outcome.sent) + 1

    def _find_ticket(self, session, mail: ParsedMail, keys: ThreadKeys):
        """Staff are participants of every ticket: references to our mail first, then the tag."""
        found = staffing.outbox_kind_for(session, keys.references)
        ticket = repo.get_ticket(session, found[0]) if found else None
        kind = found[1] if found else ""
        if ticket is None:
            reference = repo.ticket_by_references(session, keys.references)
            ticket = repo.get_ticket(session, reference.id) if reference else None
        if ticket is None and keys.tag_number:
            ticket = repo.get_ticket(session, keys.tag_number)
        return staffing.resolve_merged(session, ticket), kind

    def _post(self, session, row, mail, ticket: Ticket, staff: Staff, body, internal, verdict,
              outcome, now) -> None:  # fmt: skip
        """Store the staff message, then relay it to the customer or copy it to staff."""
        message = repo.add_message(
            session,
            ticket_id=ticket.id,
            inbound_id=row.id,
            direction="in" if internal else "out",
            visibility="internal" if internal else "public",
            author_staff_id=staff.id,
            author_email=staff.email,
            message_id=repo.unique_message_id(session, mail.message_id, row.content_digest),
            header_message_id=mail.message_id,
            subject=mail.subject,
            body_text=mail.text,
            new_text=body,
            auth_verdict=str(verdict)[:200],
            flags=",".join(mail.defects)[:500],
            created_at=now,
        )
        for item in mail.attachments:
            repo.add_attachment(session, message.id, item.filename, item.content_type, item.data,
                                content_id=item.content_id, inline=item.inline)  # fmt: skip
        ticket.updated_at = now
        html, attachments = (
            ("", ()) if internal else relay_parts.relayed_html(relay_parts.relayable(mail), body)
        )
        # the HTML relayed is checked too: it says no more than `body`, but guards do not assume
        if not internal and relay_parts.quotes_internal_note(
            session, ticket.id, body + html_to_text(html)
        ):
            internal = outcome.withheld = True
            message.visibility, message.direction = "internal", "in"
            outcome.recorded.append(
                "NOT sent to the customer: your reply quotes an internal note, so it was kept "
                "as an internal note. Remove the quoted note and send your reply again."
            )
        size = 0 if internal else compose.wire_size(body, html, attachments)
        if size > self.settings.max_reply_size:
            internal = outcome.withheld = True
            message.visibility, message.direction = "internal", "in"
            outcome.recorded.append(relay_parts.too_big(size, self.settings.max_reply_size))
        if internal:
            outcome.recorded.append("internal note (not sent to the customer)")
            members = staff_commands.involved_staff(session, ticket, exclude=staff.id)
            outcome.sent += self.notices.notify_staff(
                session, ticket, members, headline=f"Internal note from {staff.name}:",
                text=body, kind="staff-note", now=now, skip_message_id=message.id,
                attachments=() if size else inline_relay.files(mail.attachments), html=mail.html,
            )  # fmt: skip
            repo.add_event(session, now, "note-added", ticket_id=ticket.id, actor=staff.email)
            return
        relayed = self.notices.relay_reply(
            session, ticket, staff, body, html, attachments, now, reply_id=message.id
        )
        for item in mail.attachments:
            if item.removed:  # the customer would get a note meant for staff
                name = item.filename.removesuffix(REMOVED_SUFFIX)
                outcome.files_not_sent.append(name)
                outcome.recorded.append(
                    f"{name} was NOT sent: it holds what looks like a card number, which cannot "
                    "be masked inside it, so it was not kept. Send it again without the number."
                )
        outcome.sent += relayed
        outcome.unreached = _deactivated_readers(session, ticket)
        if relayed or not outcome.unreached:
            outcome.recorded.append("public reply relayed to the customer")
        else:
            outcome.recorded.append("public reply recorded, but sent to no one (see below)")
        outcome.customer_told = True
        if ticket.first_response_at is None:
            ticket.first_response_at = now
        ticket.reply_due_at = None  # the customer is answered: no reply awaits
        if ticket.status == "new":
            ticket.status = "open"
        repo.add_event(session, now, "staff-replied", ticket_id=ticket.id, actor=staff.email)

    def _receipt(self, session, ticket, staff, mail, internal, outcome, now) -> None:
        notified = sorted({s.to for s in outcome.sent if s.to != staff.email})
        not_notified = []
        if not outcome.customer_told:
            requester = repo.contact_by_id(session, ticket.requester_id)
            not_notified.append(f"the customer ({requester.email if requester else 'erased'})")
        not_notified += [f"{address}: a deactivated contact" for address in outcome.unreached]
        context = {
            "subject": ticket.subject,
            "ok": True,
            "recorded": outcome.recorded or ["nothing to record"],
            "notified": notified,
            "not_notified": not_notified,
            "errors": [],
        }
        self.notices.receipt(session, ticket, staff, context, now)

    def reject(self, session, ticket, staff, mail, errors, now) -> int:
        """Nothing applied; the author is told each bad line (`ticket` None: held mail's)."""
        subject = ticket.subject if ticket else mail.subject
        context = {"subject": subject, "ok": False, "errors": errors,
                   "recorded": [], "notified": [], "not_notified": []}  # fmt: skip
        self.notices.receipt(session, ticket, staff, context, now)
        repo.add_event(
            session, now, "commands-rejected", ticket_id=ticket.id if ticket else None,
            actor=staff.email,
            detail={"lines": [e.line for e in errors]},
        )  # fmt: skip
        return 1

    def _hold_unverified(self, session, row, staff: Staff, verdict: str, now) -> int:
        spool.add_quarantine(session, row.id, now, "unverified-staff", verdict, staff.email)
        held = spool.quarantine_for(session, row.id)
        self.notices.alert(session, staff, verdict, held.id, now)
        repo.add_event(session, now, "staff-spoof-held", actor=staff.email,
                       detail={"inbound_id": row.id, "verdict": verdict})  # fmt: skip
        return 1

    def _record_automatic(self, session, row, mail, staff, ticket, reason, now) -> int:
        """A staff out-of-office is never relayed; staff see it as an event on the ticket, and
        its author is away: their colleagues get what would have reached them alone."""
        away = senders.away_signal(mail)
        if away is not None:
            staffing.mark_away(session, staff, now, away)
        if ticket is None:
            spool.add_quarantine(session, row.id, now, "automatic", reason, staff.email)
            return 0
        repo.add_event(session, now, "staff-auto-reply", ticket_id=ticket.id, actor=staff.email,
                       detail={"reason": reason, "inbound_id": row.id})  # fmt: skip
        return 0

    def _held_commands(self, session, row, mail, staff, parsed, now) -> int:
        """A manager's answer to the list of held mail: register senders, release their mail.
        The mail itself is kept as held (`staff-commands`), as any staff mail naming no ticket."""
        steps, errors = held_commands.plan(session, staff, parsed.actions)
        errors = [*parsed.errors, *errors]
        spool.add_quarantine(session, row.id, now, "staff-commands",
                             "held mail commands by a staff member", staff.email)  # fmt: skip
        if errors:
            return self.reject(session, None, staff, mail, errors, now)
        recorded = held_commands.apply(session, steps, staff, self.settings.language, now)
        context = {"subject": mail.subject, "ok": True, "recorded": recorded, "errors": [],
                   "notified": [], "not_notified": []}  # fmt: skip
        self.notices.receipt(session, None, staff, context, now)
        return 1

    def _no_ticket(self, session, row, mail, staff, now) -> int:
        spool.add_quarantine(
            session, row.id, now, "staff-no-ticket",
            "staff mail names no ticket (no reference to our mail, no known tag)", staff.email,
        )  # fmt: skip
        error = commands.CommandError(
            mail.subject or "(no subject)",
            "no ticket found: reply to a ticket notification, or keep [TAG #N] in the subject",
        )
        context = {"subject": mail.subject, "ok": False, "errors": [error],
                   "recorded": [], "notified": [], "not_notified": []}  # fmt: skip
        self.notices.receipt(session, None, staff, context, now)
        return 1


def _in_line_order(text: str, errors: list) -> list:
    """Report every bad line at once, in the order the author wrote them."""
    return sorted(errors, key=lambda e: text.find(e.line) if e.line in text else len(text))


def _deactivated_readers(session, ticket) -> list[str]:
    """The ticket's requester and copies who left the customer: a public reply is withheld
    from them (`outbox.deactivated`), and the staff member is told who did not get it."""
    readers = [repo.contact_by_id(session, ticket.requester_id), *staffing.ccs(session, ticket.id)]
    return sorted({c.email for c in readers if c is not None and not c.active and not c.erased_at})


__all__ = ["StaffDesk", "StaffSettings", "Sent"]
