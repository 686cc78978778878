"""Complaints to management: take each new complaint in, escalate it while no manager has
answered the customer, and point out customer mail that reads like a complaint.

Taking in happens at once (the processor wakes the jobs after each batch): the customer gets a
written confirmation naming the manager in charge, and that manager (from the rota, or round
robin among managers) gets the whole history. Without a public manager answer within the
configured time, the next level is told, each step once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.core import complaints as rules
from gateway.staff_commands import involved_staff
from gateway.staff_notices import StaffNotices
from gateway.store import repo, staffing, timed
from gateway.store.db import Database
from gateway.store.tables import Complaint, Staff, Ticket
from gateway.timed_mail import TimedMail

SUGGESTION_WINDOW = timedelta(days=1)
# Customer mail is read for complaint words once: each run reads only what the runs before did
# not, looking this far behind the last run for mail stamped before it but committed after.
LATE_COMMIT = timedelta(minutes=10)


@dataclass(frozen=True)
class ComplaintSettings:
    answer_within: timedelta = timedelta(hours=4)
    levels: tuple[str, ...] = ()  # staff addresses after the manager in charge
    rota: tuple[rules.RotaEntry, ...] = ()
    keywords: tuple[str, ...] = ()


class ComplaintDesk:
    def __init__(self, notices: StaffNotices, mail: TimedMail, settings: ComplaintSettings):
        self.notices, self.mail, self.settings = notices, mail, settings
        self._last_read: datetime | None = None  # when suggest last read customer mail
        self._read_ids: set[int] = set()  # what it read from `_last_read - LATE_COMMIT` on

    def run(self, db: Database, now: datetime) -> int:
        return self.take_in(db, now) + self.escalate(db, now) + self.suggest(db, now)

    # Taking in ------------------------------------------------------------------------------

    def take_in(self, db: Database, now: datetime) -> int:
        with db.read() as session:
            ids = timed.complaints_to_take_in(session)
        return timed.for_each_ticket(db, ids, lambda s, t: self._take_in(s, t, now))

    def _take_in(self, session, ticket: Ticket, now: datetime) -> bool:
        if ticket.category != "complaint" or timed.complaint(session, ticket.id) is not None:
            return False
        manager = self._manager_on_duty(session, ticket, now)
        if not timed.claim(
            session, f"complaint:ticket:{ticket.id}", now, "complaint-taken-in",
            ticket_id=ticket.id, detail={"manager": manager.email if manager else None},
        ):  # fmt: skip
            return False
        session.add(Complaint(ticket_id=ticket.id, opened_at=now, escalated_at=now,
                              manager_id=manager.id if manager else None))  # fmt: skip
        requester = repo.contact_by_id(session, ticket.requester_id)
        if requester is not None and getattr(requester, "erased_at", None) is None:
            self.mail.complaint_confirmation(session, ticket, requester, manager, now)
        if manager is not None:
            hours = self._hours()
            self._escalate_to(
                session, ticket, manager, now,
                f"Complaint: you are in charge. A manager must answer the customer publicly "
                f"(reply to this mail) within {hours} hours, or it goes to the next level.",
            )  # fmt: skip
        return True

    def _manager_on_duty(self, session, ticket: Ticket, now: datetime) -> Staff | None:
        address = rules.on_duty(self.settings.rota, now)
        if address and (member := timed.staff_by_email(session, address)) is not None:
            return member
        local, everyone = timed.managers(session, ticket.department_id), timed.managers(session)
        # the department's managers who are in, else any who is in; everyone away: as before
        managers = staffing.here(local) or staffing.here(everyone) or local or everyone
        last = timed.last_complaint_taken(session, [m.id for m in managers])
        chosen = rules.round_robin([(m.id, last.get(m.id)) for m in managers])
        return next((m for m in managers if m.id == chosen), None)

    # Escalating -----------------------------------------------------------------------------

    def escalate(self, db: Database, now: datetime) -> int:
        if not self.settings.levels:
            return 0
        with db.read() as session:
            ids = timed.complaints_waiting(
                session, now - self.settings.answer_within, len(self.settings.levels)
            )
        return timed.for_each_ticket(db, ids, lambda s, t: self._escalate(s, t, now))

    def _escalate(self, session, ticket: Ticket, now: datetime) -> bool:
        complaint = timed.complaint(session, ticket.id)
        level = complaint.level + 1 if complaint else 0
        if (
            complaint is None
            or ticket.status in ("resolved", "closed")
            or now < complaint.escalated_at + self.settings.answer_within
            or level > len(self.settings.levels)
            or timed.manager_answer_at(session, ticket.id, complaint.opened_at) is not None
        ):
            return False
        address = self.settings.levels[level - 1]
        if not timed.claim(
            session, f"complaint-escalation:ticket:{ticket.id}:level:{level}", now,
            "complaint-escalated", ticket_id=ticket.id, detail={"level": level, "to": address},
        ):  # fmt: skip
            return False
        complaint.level, complaint.escalated_at = level, now
        session.add(complaint)
        member = timed.staff_by_email(session, address)
        if member is None:  # told in the event; the chain goes on at the next step
            repo.add_event(
                session, now, "complaint-escalation-undeliverable", ticket_id=ticket.id,
                detail={"to": address, "why": "not an active staff member"},
            )  # fmt: skip
            return True
        in_charge = staffing.staff_by_id(session, complaint.manager_id)
        self._escalate_to(
            session, ticket, member, now,
            f"Complaint escalated to you (level {level}): no manager has answered the customer "
            f"publicly within {self._hours()} hours. In charge: "
            f"{in_charge.name if in_charge else 'nobody'}. Reply to this mail to answer them.",
        )  # fmt: skip
        return True

    def _escalate_to(self, session, ticket: Ticket, member: Staff, now, headline: str) -> None:
        staffing.set_watch(session, ticket.id, member.id, True)  # follow-ups reach them too
        self.notices.notify_staff(
            session, ticket, [member], headline=headline, text="",
            kind="complaint-escalation", now=now, full_history=True,
        )  # fmt: skip

    def _hours(self) -> str:
        return f"{self.settings.answer_within.total_seconds() / 3600:g}"

    # Suggesting -----------------------------------------------------------------------------

    def suggest(self, db: Database, now: datetime) -> int:
        """A keyword match tells the staff involved, once per ticket; it decides nothing."""
        if not self.settings.keywords:
            return 0
        since = now - SUGGESTION_WINDOW
        if self._last_read is not None:
            since = max(since, self._last_read - LATE_COMMIT)
        with db.read() as session:
            stored = timed.customer_message_ids(session, since)
            unread = [i for i in stored if i not in self._read_ids]
            found: dict[int, str] = {}
            for ticket_id, text in timed.message_texts(session, unread):
                word = rules.keyword_match(text, self.settings.keywords)
                if word and ticket_id not in found:
                    found[ticket_id] = word
            taken = timed.taken_keys(session, [_suggestion_key(t) for t in found])
        ids = [t for t in found if _suggestion_key(t) not in taken]
        done = timed.for_each_ticket(db, ids, lambda s, t: self._suggest(s, t, found[t.id], now))
        self._last_read, self._read_ids = now, set(stored)  # not before: a failed run reads again
        return done

    def _suggest(self, session, ticket: Ticket, word: str, now: datetime) -> bool:
        if ticket.category == "complaint" or not timed.claim(
            session, _suggestion_key(ticket.id), now, "complaint-suggested",
            ticket_id=ticket.id, detail={"keyword": word},
        ):  # fmt: skip
            return False
        self.notices.notify_staff(
            session, ticket, involved_staff(session, ticket),
            headline=f"This ticket may be a complaint: the customer wrote \"{word}\". If it is, "
            "reply with /complaint on the first line to hand it to management; otherwise "
            "nothing changes.",
            text="", kind="complaint-suggestion", now=now,
        )  # fmt: skip
        return True


def _suggestion_key(ticket_id: int) -> str:
    return f"complaint-suggestion:ticket:{ticket_id}"
