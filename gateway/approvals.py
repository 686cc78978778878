"""Written permission: ask the customer, count only a valid answer, keep the proof.

Staff write `/ask-permission <what and why>`; each contact who may approve (owner or admin of
the ticket's account or of its reseller) gets the request with a reply address tied to it and
two personal signed links. An answer counts only from such a contact, by verified mail or a
valid link, before the request expires. The proof kept: the request's exact text, who asked,
the answering Message-ID, its verdict, the SHA-256 of its raw bytes, and the time. Anything
else changes nothing: the sender is told why and staff are notified.

`answer_by_link` and `describe_link` are what the web endpoint calls for the links.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway import outbox
from gateway.approval_mail import WHEN, ApprovalMail
from gateway.core import approvals as rules
from gateway.core import permissions, senders, threads
from gateway.core.model import Envelope, ParsedMail, Sender, Verdict
from gateway.core.quotes import new_text
from gateway.notices import Company
from gateway.staff_commands import Outcome
from gateway.staff_notices import StaffNotices
from gateway.store import accounts, mailflow, repo, spool, timed
from gateway.store import approvals as store
from gateway.store.db import Database
from gateway.store.tables import Approval, Inbound, Staff, Ticket


@dataclass(frozen=True)
class LinkOutcome:
    counted: bool
    detail: str  # what happened, in words, for the page
    ticket_id: int | None = None
    refusal: permissions.Refusal | None = None  # why it did not count, for the page's words


def _default_key(session) -> bytes:
    return mailflow.installation_secret(session, "approval-links")


class ApprovalDesk:
    def __init__(
        self,
        renderer: outbox.Renderer,
        company: Company,
        staff_notices: StaffNotices,
        *,
        base_url: str,
        expire_after: timedelta = timedelta(days=7),
        link_key: Callable[[object], bytes] = _default_key,
    ):
        self.company, self.expire_after = company, expire_after
        self.mail = ApprovalMail(renderer, company, staff_notices, base_url)
        self.link_key = link_key

    # Asking ---------------------------------------------------------------------------------

    def ask(self, session, ticket: Ticket, staff: Staff, question: str, outcome: Outcome, now):
        approval = store.add_request(
            session,
            ticket_id=ticket.id,
            question=question,
            staff_id=staff.id,
            staff_email=staff.email,
            now=now,
            expires_at=now + self.expire_after,
        )
        key = self.link_key(session)
        sent = [
            self.mail.request(session, ticket, staff, approval, contact, key, now)
            for contact in accounts.approvers(session, ticket)
        ]
        outcome.sent += [s for s in sent if s.message_id]
        outcome.customer_told = True
        names = ", ".join(s.to for s in sent)
        outcome.recorded.append(
            f"permission request #{approval.id} sent to {names}; it expires on "
            f"{approval.expires_at.strftime(WHEN)}"
        )
        repo.add_event(
            session,
            now,
            "permission-requested",
            ticket_id=ticket.id,
            actor=staff.email,
            detail={"approval": approval.id, "to": names, "question": question},
        )

    # Answers by mail ------------------------------------------------------------------------

    def request_for(self, session, token: str | None) -> Approval | None:
        return store.by_token(session, token)

    def answer_by_mail(
        self,
        session,
        row: Inbound,
        mail: ParsedMail,
        envelope: Envelope,
        sender: Sender,
        verdict: Verdict,
        approval: Approval,
        answer: str,
        now: datetime,
    ) -> int:
        """Count the answer or refuse it; returns the number of mails queued."""
        ticket = repo.get_ticket(session, approval.ticket_id)
        evidence = {"inbound_id": row.id, "rcpt": list(envelope.rcpt_tos)}
        reason = self._why_not(session, approval, sender.contact, ticket, verdict.verified, now)
        digest = hashlib.sha256(row.raw).hexdigest()
        if reason is not None:
            automatic = senders.automatic_reason(mail, envelope) is not None
            return self._refuse(
                session,
                row.id,
                ticket,
                approval,
                sender.email,
                reason,
                str(verdict),
                digest,
                tell=not automatic,
                now=now,
            )
        store.record_decision(
            session,
            approval,
            decision=answer,
            contact_id=sender.contact.id,
            contact_email=sender.email,
            via="mail",
            at=now,
            message_id=mail.message_id,
            verdict=str(verdict),
            sha256=digest,
            detail=evidence,
        )
        self._store_answer(session, row, mail, ticket, sender, verdict, now)
        return self._decided(session, ticket, approval, sender.contact, now)

    def _why_not(
        self, session, approval, contact, ticket, verified: bool, now
    ) -> permissions.Refusal | None:
        late = approval.status == "pending" and now >= timed.aware(approval.expires_at)
        if approval.status == "expired" or late:
            expires = approval.expires_at.strftime(WHEN)
            return permissions.Refusal(
                "expired", f"this request expired on {expires}", (("expires", expires),)
            )
        if approval.status != "pending":
            return permissions.Refusal(
                "already-answered",
                f"this request was already answered ({approval.status})",
                (("status", approval.status),),
            )
        info = accounts.ticket_access(session, ticket)
        return permissions.check(permissions.Action.APPROVE, contact, info, verified)

    def _store_answer(self, session, row, mail, ticket, sender, verdict, now) -> None:
        message_id = mail.message_id
        if repo.message_id_taken(session, message_id):
            message_id = f"<{row.content_digest[:32]}.reused@{self.company.domain}>"
        repo.add_message(
            session,
            ticket_id=ticket.id,
            inbound_id=row.id,
            direction="in",
            visibility="public",
            author_contact_id=sender.contact.id,
            author_email=sender.email,
            message_id=message_id,
            header_message_id=mail.message_id,
            subject=mail.subject,
            body_text=mail.text,
            new_text=new_text(mail.text, mail.html),
            auth_verdict=str(verdict)[:200],
            flags="permission-answer",
            created_at=now,
        )

    # Answers by link ------------------------------------------------------------------------

    def describe_link(self, db: Database, token: str, now: datetime) -> dict | None:
        """What a link would answer (for a page asking to confirm), or None if invalid."""
        with db.read() as session:
            claim, _ = rules.check_link(self.link_key(session), token, now)
            approval = store.by_id(session, claim.approval_id) if claim else None
            if approval is None:
                return None
            tag = threads.subject_tag(self.company.tag, approval.ticket_id)
            return {
                "ticket": tag,
                "question": approval.question,
                "decision": claim.decision,
                "asked_by": approval.asked_by,
                "status": approval.status,
            }

    def answer_by_link(self, db: Database, token: str, now: datetime, remote: str = ""):
        """Record the answer a signed link carries (call it on POST, not on GET: mail
        scanners fetch links). Returns a `LinkOutcome`; nothing changes unless it counts."""
        with db.write() as session:
            claim, problem = rules.check_link(self.link_key(session), token, now)
            approval = store.by_id(session, claim.approval_id) if claim else None
            if approval is None:
                repo.add_event(
                    session,
                    now,
                    "approval-link-refused",
                    actor=remote[:320],
                    detail={"problem": problem or "unknown request", "token_sha256": _sha(token)},
                )
                return LinkOutcome(False, problem or "unknown request")
            return self._link_answer(session, approval, claim, token, remote, now)

    def _link_answer(self, session, approval, claim, token, remote, now) -> LinkOutcome:
        ticket = repo.get_ticket(session, approval.ticket_id)
        row = repo.contact_by_id(session, claim.contact_id)
        contact = repo.contact_info(row) if row is not None else None
        reason = self._why_not(session, approval, contact, ticket, True, now)
        address = contact.email if contact else ""
        verdict = f"pass (valid signed link mailed to {address})"
        if reason is not None:
            self._refuse(
                session,
                None,
                ticket,
                approval,
                address,
                reason,
                verdict,
                _sha(token),
                tell=False,
                now=now,
            )
            return LinkOutcome(False, str(reason), ticket.id, reason)
        store.record_decision(
            session,
            approval,
            decision=claim.decision,
            contact_id=contact.id,
            contact_email=address,
            via="link",
            at=now,
            verdict=verdict,
            sha256=_sha(token),
            detail={"remote": remote, "token_sha256": _sha(token)},
        )
        self._decided(session, ticket, approval, contact, now)
        return LinkOutcome(True, f"recorded: {approval.status}", ticket.id)

    def refusal_words(self, refusal: permissions.Refusal, language: str) -> str:
        """Why an answer did not count, in `language` (for the links' page)."""
        context = {"reason": refusal.code, "facts": dict(refusal.facts), "why": refusal.detail}
        return self.mail.renderer.phrase("permission_refusal", language, context)

    # Outcomes -------------------------------------------------------------------------------

    def _decided(self, session, ticket: Ticket, approval: Approval, contact, now) -> int:
        detail = {
            "approval": approval.id,
            "via": approval.via,
            "message_id": approval.evidence_message_id,
            "sha256": approval.evidence_sha256,
        }
        repo.add_event(
            session,
            now,
            f"permission-{approval.status}",
            ticket_id=ticket.id,
            actor=contact.email,
            detail=detail,
        )
        return self.mail.decided(session, ticket, approval, contact, now)

    def _refuse(
        self,
        session,
        inbound_id,
        ticket,
        approval,
        address,
        reason,
        verdict,
        digest,
        *,
        tell: bool,
        now,
    ) -> int:
        if inbound_id is not None:
            spool.add_quarantine(
                session, inbound_id, now, "approval-not-counted", str(reason), address
            )
        detail = {
            "approval": approval.id,
            "reason": str(reason),
            "verdict": verdict,
            "sha256": digest,
            "inbound_id": inbound_id,
        }
        repo.add_event(
            session,
            now,
            "permission-answer-refused",
            ticket_id=ticket.id,
            actor=address,
            detail=detail,
        )
        return self.mail.refused(
            session, ticket, approval, address, reason, verdict, tell=tell, now=now
        )


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
