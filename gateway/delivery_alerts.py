"""Staff hear of mail to a customer that could not be delivered: refused for good by the
smarthost, or given up after its lifetime. An event alone left a reply the customer never got
looking answered on the ticket; the staff involved are told on the ticket, with the reason and
the command that sends it again once the cause is mended. Bounces that arrive later by mail are
the bounce desk's (`bounce_desk.py`)."""

from __future__ import annotations

import json
from datetime import datetime

from gateway.staff_commands import involved_staff
from gateway.staff_notices import StaffNotices
from gateway.store import repo, staffing
from gateway.store.tables import Outbox


class DeliveryAlerts:
    def __init__(self, notices: StaffNotices):
        self.notices = notices

    def given_up(self, session, row: Outbox, reason: str, now: datetime) -> int:
        """Called in the transaction that parks `row`; the number of mails queued. Mail to
        staff themselves is not followed by more mail to them, which could fail alike."""
        if row.ticket_id is None:
            return 0
        recipients = json.loads(row.rcpt_to)
        outsiders = [a for a in recipients if staffing.active_staff_by_email(session, a) is None]
        ticket = repo.get_ticket(session, row.ticket_id)
        if not outsiders or ticket is None:
            return 0
        headline = (
            f"Our mail to {', '.join(outsiders)} ({row.kind}, outbox #{row.id}) could not be "
            f"delivered, and they have not received it: {reason}. Once the cause is mended "
            f"(a mistyped address, a full mailbox), `gateway outbox retry {row.id}` sends it "
            "again."
        )
        members = involved_staff(session, ticket)
        sent = self.notices.notify_staff(
            session, ticket, members, headline=headline, text="",
            kind="staff-undelivered", now=now,
        )  # fmt: skip
        return len(sent)
