"""Permission requests nobody answered in time: each is marked `expired` once its date passes,
with an event, and the staff on the ticket and whoever asked are told at once, so nobody goes on
waiting for a go-ahead that can no longer come (an answer after that date never counted).
"""

from __future__ import annotations

from datetime import datetime

from gateway.store import approvals as store
from gateway.store import timed
from gateway.store.tables import Ticket

WHEN = "%Y-%m-%d %H:%M UTC"


def key(approval_id: int) -> str:
    return f"approval-expired:{approval_id}"


def send(db, now: datetime, ctx) -> int:
    """The job: every pending request past its date, once."""
    if ctx.approvals is None:
        return 0
    with db.read() as session:
        found = store.pending_expired(session, now)
    by_ticket: dict[int, list[int]] = {}
    for approval_id, ticket_id in found:
        by_ticket.setdefault(ticket_id, []).append(approval_id)
    return timed.for_each_ticket(
        db, list(by_ticket), lambda s, t: _expire(s, t, by_ticket[t.id], now, ctx)
    )


def _expire(session, ticket: Ticket, approval_ids: list[int], now: datetime, ctx) -> bool:
    expired = False
    for approval_id in approval_ids:
        approval = store.by_id(session, approval_id)
        if approval is None or approval.status != "pending":
            continue  # answered in the meantime, in time
        if not timed.claim(session, key(approval.id), now, "permission-expired",
                           ticket_id=ticket.id, detail={"approval_id": approval.id}):  # fmt: skip
            continue
        approval.status = "expired"
        session.add(approval)
        text = (
            f"Nobody who may approve answered before {timed.aware(approval.expires_at):{WHEN}}, "
            "so nothing may be done on the strength of this request. To ask again, reply to "
            "this mail with /ask-permission and the question.\n\n"
            f"Request: {approval.question}"
        )
        headline = f"Permission request #{approval.id} expired without an answer:"
        ctx.approvals.mail.tell_staff(session, ticket, approval, headline, text,
                                      "approval-notice", now)  # fmt: skip
        expired = True
    return expired
