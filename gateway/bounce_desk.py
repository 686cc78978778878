"""Bounces of our own mail: matched to the outbox row, never answered, never ticketed.

A permanent failure marks the recipient as bouncing (automatic mail to it stops until staff
clear it with `gateway bounces clear`) and tells the staff involved on the ticket.
"""

from __future__ import annotations

import json
from datetime import datetime

from gateway.core import bounces, senders
from gateway.core.model import Envelope, ParsedMail
from gateway.staff_commands import involved_staff
from gateway.staff_notices import StaffNotices
from gateway.store import mailflow, outbox_rows, repo, spool, staffing
from gateway.store.tables import Inbound


class BounceDesk:
    def __init__(self, notices: StaffNotices, bounce_base: str):
        self.notices, self.base = notices, bounce_base

    def handle(
        self, session, row: Inbound, mail: ParsedMail, envelope: Envelope, now
    ) -> int | None:
        """Mails queued, or None when the message is not a bounce of ours."""
        to_us = bounces.is_bounce_address(envelope.rcpt_tos, self.base)
        if not to_us and envelope.mail_from not in ("", "<>"):
            return None  # the usual case, settled without reading the mail again
        report = bounces.read_report(row.raw, mail.subject)
        if not to_us and report is None:
            return None
        key = mailflow.installation_secret(session, "verp")
        outbox_id = bounces.verp_outbox_id(envelope.rcpt_tos, self.base, key)
        if outbox_id is None and report is not None and report.original_message_id:
            outbox_id = staffing.outbox_id_by_message_id(session, report.original_message_id)
        original = outbox_rows.get(session, outbox_id) if outbox_id else None
        if original is None:
            reason = "forged or unmatched bounce" if to_us else "bounce for no mail of ours"
            spool.add_quarantine(session, row.id, now, "bounce", reason, envelope.mail_from)
            return 0
        detail = report.diagnostic if report else ""
        spool.add_quarantine(session, row.id, now, "bounce", f"outbox #{original.id}: {detail}",
                            envelope.mail_from)  # fmt: skip
        away = senders.away_signal(mail) if report is None else None
        member = staffing.active_staff_by_email(session, original.recipient_key) if away else None
        if member is not None:  # a vacation answer to the return path of our mail to them
            staffing.mark_away(session, member, now, away)
            return 0
        if report is None or not report.permanent:
            status = report.status if report else ""
            repo.add_event(session, now, "delivery-delayed", ticket_id=original.ticket_id,
                           detail={"outbox_id": original.id, "status": status})  # fmt: skip
            return 0
        return self._permanent(session, original, report, now)

    def _permanent(self, session, original, report: bounces.BounceReport, now: datetime) -> int:
        recipients = list(report.recipients) or json.loads(original.rcpt_to)
        for address in recipients:
            mailflow.mark_bouncing(session, address, now, report.status, report.diagnostic,
                                   original.id)  # fmt: skip
        repo.add_event(
            session, now, "delivery-bounced", ticket_id=original.ticket_id,
            detail={"outbox_id": original.id, "to": recipients, "status": report.status,
                    "diagnostic": report.diagnostic},
        )  # fmt: skip
        ticket = repo.get_ticket(session, original.ticket_id) if original.ticket_id else None
        if ticket is None:
            return 0
        headline = (
            f"Mail to {', '.join(recipients)} bounced ({report.status or 'permanent failure'}): "
            f"{report.diagnostic or 'no reason given'}. Automatic mail to this address is "
            "stopped until it is cleared with `gateway bounces clear ADDRESS`."
        )
        members = involved_staff(session, ticket)
        sent = self.notices.notify_staff(session, ticket, members, headline=headline, text="",
                                         kind="staff-bounce", now=now)  # fmt: skip
        return len(sent)
