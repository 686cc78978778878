"""From what we know about one inbound message to what should happen: a `Decision`.

Pure: the caller gathers the sender, the threading candidates and the auto-mail history, and
passes `now`. Nothing here reads the clock, the database or the configuration.
"""

from __future__ import annotations

from datetime import timedelta

from gateway.core import senders, sla, threads
from gateway.core.model import (
    AddToTicket,
    AutoMailHistory,
    Decision,
    DecisionInput,
    Hold,
    OpenTicket,
    Policy,
    SenderKind,
)

REOPENING_STATUSES = ("resolved", "closed")


def decide(inp: DecisionInput) -> Decision:
    """The decision for customer and stranger mail (staff mail goes to the staff desk)."""
    auto_reason = senders.automatic_reason(inp.mail, inp.envelope)
    sender = inp.sender
    verdict = inp.verdict
    if verdict.result == "fail" and verdict.policy in ("quarantine", "reject"):
        # The domain asks receivers not to accept such mail (RFC 7489 6.3): held, no notice
        # (the From is likely forged, so a notice would go to a victim).
        return Hold(reason="dmarc-fail", detail=str(verdict))
    if sender.kind is SenderKind.CONTACT and sender.contact is not None:
        found = threads.match(sender, inp.candidates)
        if found is not None:
            return AddToTicket(
                ticket=found.ticket,
                via=found.via,
                reopen=found.ticket.status in REOPENING_STATUSES and auto_reason is None,
                automatic=auto_reason is not None,
                reply_due_at=None if auto_reason else _response_due(inp),
            )
        if auto_reason is not None:
            return Hold(reason="automatic", detail=f"automatic mail opens no ticket: {auto_reason}")
        withheld = _auto_mail_blocked(inp.history, inp.policy)
        return OpenTicket(
            contact=sender.contact,
            subject=inp.mail.subject or "(no subject)",
            category="complaint" if inp.recipients_complaints else "request",
            sla_due_at=_response_due(inp),
            confirm=withheld is None,
            withheld_reason=withheld or "",
        )
    if not sender.email:
        detail = "From names no address or several"
        if "ambiguous-from" in inp.mail.defects:
            detail = "From is read differently by different mail programs"
        return Hold(reason="no-single-sender", detail=detail)
    notify = auto_reason is None and _stranger_notice_due(inp)
    capped = notify and _stranger_notices_capped(inp)
    reason, detail = "unknown-sender", "sender is not a registered contact"
    if sender.contact is not None and not sender.contact.active:
        reason, detail = "contact-deactivated", "sender's contact was deactivated"
    if auto_reason is not None:  # nobody wrote it: no one need look (the held list skips it)
        reason, detail = "automatic", f"{detail}; automatic mail ({auto_reason}), not answered"
    if capped:
        detail += "; not answered: the hourly cap on notices to unknown senders was reached"
    return Hold(reason=reason, detail=detail, notify_stranger=notify and not capped,
                notices_capped=capped)  # fmt: skip


def _response_due(inp: DecisionInput):
    """Every customer message is answered within the SLA, a follow-up as a first request."""
    return sla.first_response_due(inp.now, inp.policy.first_response_minutes, inp.policy.calendar)


def _auto_mail_blocked(history: AutoMailHistory, policy: Policy) -> str | None:
    if history.last_hour >= policy.auto_per_hour:
        return f"rate limit: {history.last_hour} automatic mails in the last hour"
    if history.last_day >= policy.auto_per_day:
        return f"rate limit: {history.last_day} automatic mails in the last day"
    return None


def _stranger_notice_due(inp: DecisionInput) -> bool:
    if _auto_mail_blocked(inp.history, inp.policy) is not None:
        return False
    last = inp.history.last_stranger_notice
    window = timedelta(hours=inp.policy.stranger_notice_hours)
    return last is None or inp.now - last >= window


def _stranger_notices_capped(inp: DecisionInput) -> bool:
    """A flood of mail in forged names would make the gateway mail bomb their owners, one
    notice each (research case 30): past a cap an hour, all of them together, none is sent."""
    return inp.history.stranger_notices_last_hour >= inp.policy.stranger_notices_per_hour
