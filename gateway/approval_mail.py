"""The mails around a permission request: the request itself with its signed links, the
written confirmation of a decision, the notice that an answer did not count, and what staff
are told. Each is rendered and queued inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from gateway import outbox
from gateway.core import approvals as rules
from gateway.core import threads
from gateway.core.model import ContactInfo
from gateway.core.permissions import Refusal
from gateway.notices import Company
from gateway.staff_commands import involved_staff
from gateway.staff_notices import Sent, StaffNotices
from gateway.store import repo, staffing
from gateway.store.tables import Approval, Staff, Ticket

WHEN = "%Y-%m-%d %H:%M UTC"


class ApprovalMail:
    def __init__(self, renderer, company: Company, staff_notices: StaffNotices, base_url: str):
        self.renderer, self.company, self.staff_notices = renderer, company, staff_notices
        self.base_url = base_url.rstrip("/")

    def request(
        self,
        session,
        ticket: Ticket,
        staff: Staff,
        approval: Approval,
        contact: ContactInfo,
        key: bytes,
        now: datetime,
    ) -> Sent:
        """The request to one contact who may approve, with links signed for them alone."""

        def link(decision: str) -> str:
            claim = rules.LinkClaim(approval.id, contact.id, decision, approval.expires_at)
            return f"{self.base_url}/approval/{rules.sign_link(key, claim)}"

        context = {
            "contact_name": contact.name,
            "staff_name": staff.name,
            "question": approval.question,
            "approve_url": link(rules.APPROVE),
            "deny_url": link(rules.DENY),
            "expires": approval.expires_at.strftime(WHEN),
        }
        reply_to = threads.token_address(self.company.support_address, approval.token)
        message_id = self._mail(
            session, ticket, contact, "approval_request", context, reply_to, "approval-request", now
        )
        return Sent("approval-request", contact.email, message_id)

    def decided(
        self, session, ticket: Ticket, approval: Approval, contact: ContactInfo, now: datetime
    ) -> int:
        """Staff told; the answering contact and the requester get the written decision."""
        word = approval.status.upper()
        text = (
            f"Permission request #{approval.id} was {word} by {contact.email} "
            f"({approval.via}, verdict: {approval.evidence_verdict}).\n\n"
            f"Request: {approval.question}"
        )
        sent = self.tell_staff(
            session, ticket, approval, f"Permission {word}:", text, "approval-notice", now
        )
        context = {
            "approved": approval.status == "approved",
            "question": approval.question,
            "asked_by": approval.asked_by,
            "asked_at": approval.asked_at.strftime(WHEN),
            "decided_by": contact.email,
            "decided_at": now.strftime(WHEN),
            "via": approval.via,  # "mail" or "link", worded by each language's template
        }
        reply_to = threads.token_address(self.company.support_address, ticket.reply_token)
        readers = {contact.id: contact}
        requester = repo.contact_by_id(session, ticket.requester_id)
        if requester is not None:
            readers.setdefault(requester.id, repo.contact_info(requester))
        for reader in readers.values():
            self._mail(
                session,
                ticket,
                reader,
                "approval_decision",
                context,
                reply_to,
                "approval-decision",
                now,
            )
        return len(sent) + len(readers)

    def refused(
        self,
        session,
        ticket: Ticket,
        approval: Approval,
        address: str,
        reason: Refusal,
        verdict: str,
        *,
        tell: bool,
        now: datetime,
    ) -> int:
        """Staff told that an answer did not count; its sender told why (unless `tell` is
        false: automatic mail, or a link, whose page says it)."""
        text = (
            f"An answer to permission request #{approval.id} from {address or 'unknown'} "
            f"was NOT counted: {reason}.\nVerdict: {verdict}\n\nRequest: {approval.question}"
        )
        headline = "Permission answer refused:"
        queued = len(
            self.tell_staff(
                session, ticket, approval, headline, text, "approval-answer-refused", now
            )
        )
        if tell and address:
            contact = repo.find_contact(session, address) or ContactInfo(0, address, "", 0, "", "")
            self._mail(
                session,
                ticket,
                contact,
                "approval_refused",
                {"reason": reason.code, "facts": dict(reason.facts), "why": reason.detail},
                "",
                "approval-refused",
                now,
            )
            queued += 1
        return queued

    def tell_staff(self, session, ticket, approval, headline, text, kind, now) -> list[Sent]:
        """The staff involved in the ticket, and whoever asked (`kind`: `approval-notice` of a
        decision, whose reply answers the customer, or `approval-answer-refused`, internal)."""
        members = {m.id: m for m in involved_staff(session, ticket)}
        asker = staffing.staff_by_id(session, approval.asked_by_staff_id)
        if asker is not None and asker.active:
            members.setdefault(asker.id, asker)
        return self.staff_notices.notify_staff(
            session,
            ticket,
            list(members.values()),
            headline=headline,
            text=text,
            kind=kind,
            now=now,
        )

    def _mail(self, session, ticket, contact: ContactInfo, template, context, reply_to, kind, now):
        company = self.company
        lang = contact.language if contact.language in ("en", "fr") else company.language
        base = {
            "tag": threads.subject_tag(company.tag, ticket.id),
            "subject": ticket.subject,
            "company": company.name,
            "support_address": company.support_address,
        }
        rendered = self.renderer.render(template, lang, base | context)
        draft = company.draft_to(
            contact.email,
            contact.name,
            rendered,
            lang,
            reply_to=reply_to,
            auto_submitted="auto-generated",
        )
        return outbox.enqueue(
            session,
            draft,
            kind=kind,
            ticket_id=ticket.id,
            envelope_from=company.bounce_address,
            now=now,
            message_domain=company.domain,
        )
