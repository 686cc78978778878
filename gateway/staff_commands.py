"""Staff commands against the database: `plan` checks every line, `apply` carries one out.

`plan` resolves names, departments, tickets and addresses without changing anything, so a
mail with one bad line changes nothing. `apply` records an event for each change and notifies
whoever the change concerns (a new assignee or department gets the full history).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from gateway.core import commands, permissions
from gateway.core.commands import Command, CommandError
from gateway.staff_notices import Sent, StaffNotices
from gateway.store import accounts, directory, repo, staffing, timed
from gateway.store.tables import Staff, Ticket


@dataclass(frozen=True)
class Step:
    command: Command
    staff: Staff | None = None  # /assign target
    department_id: int | None = None  # /transfer target
    department_name: str = ""
    target: Ticket | None = None  # /merge target
    contact_id: int | None = None  # /cc


@dataclass
class Outcome:
    recorded: list[str] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)
    reopened: bool = False
    customer_told: bool = False
    withheld: bool = False  # a reply kept internal because it quoted an internal note
    unreached: list[str] = field(default_factory=list)  # deactivated contacts not sent a reply
    files_not_sent: list[str] = field(default_factory=list)  # they held a card number


def involved_staff(session, ticket: Ticket, exclude: int | None = None) -> list[Staff]:
    """The assignee (or else the department, or else everyone), plus watchers; an assignee
    who is away (their out-of-office answered us) is told too, and so is their department."""
    assignee = staffing.staff_by_id(session, ticket.assignee_id) if ticket.assignee_id else None
    if assignee is not None and assignee.away_since is None:
        base = [assignee]
    elif ticket.department_id:
        base = [assignee, *staffing.present(staffing.active_staff(session, ticket.department_id))]
    else:
        base = [assignee, *staffing.present(staffing.active_staff(session))]
    members: dict[int, Staff] = {}
    for member in [*base, *staffing.watchers(session, ticket.id)]:
        if member is not None and member.active and member.id != exclude:
            members[member.id] = member
    return list(members.values())


def plan(
    session, ticket: Ticket, author: Staff, actions: tuple[Command, ...], public_reply=False
) -> tuple[list[Step], list[CommandError]]:
    steps, errors = [], []
    for command in actions:
        step, error = _plan_one(session, ticket, author, command)
        if not error and _closes_unanswered_complaint(session, ticket, author, command,
                                                      public_reply):  # fmt: skip
            error = (
                "a complaint cannot be resolved or closed until a manager has answered the "
                "customer publicly; a manager can reply and set the status in the same mail"
            )
        if error:
            errors.append(CommandError(command.line, error))
        else:
            steps.append(step)
    return steps, errors


def _closes_unanswered_complaint(session, ticket, author, command, public_reply) -> bool:
    """Whether this command would end a complaint no manager has answered publicly yet."""
    if command.verb != "status" or command.argument not in ("resolved", "closed"):
        return False
    if ticket.category != "complaint" or (public_reply and author.role == "manager"):
        return False
    complaint = timed.complaint(session, ticket.id)
    since = complaint.opened_at if complaint else ticket.created_at
    return timed.manager_answer_at(session, ticket.id, since) is None


def _plan_one(session, ticket: Ticket, author: Staff, command: Command):
    verb, argument = command.verb, command.argument
    if verb in commands.DESK_VERBS:
        return None, (f"/{verb} is about held mail, not a ticket: send it in a mail of its own "
                      "(a reply to the daily list of held mail)")  # fmt: skip
    if verb == "canned":
        return None, "/canned works in a reply on a ticket, where it has a customer to write to"
    if verb in ("open", "history"):
        return None, (f"/{verb} is not about this ticket: send it in a new mail to the support "
                      "address")  # fmt: skip
    if verb == "assign":
        matches = (
            [author]
            if argument.lower() == "me"
            else staffing.find_staff_by_name_or_email(session, argument)
        )
        if len(matches) != 1:
            names = ", ".join(f"{s.name} <{s.email}>" for s in staffing.active_staff(session))
            problem = "no staff member" if not matches else "several staff members"
            return None, f"{problem} named {argument!r}; valid: me, {names}"
        return Step(command, staff=matches[0]), None
    if verb == "transfer":
        department = staffing.department_by_name(session, argument)
        if department is None:
            names = ", ".join(d.name for d in staffing.all_departments(session)) or "(none)"
            return None, f"no department named {argument!r}; valid: {names}"
        return Step(command, department_id=department.id, department_name=department.name), None
    if verb == "merge":
        target = staffing.resolve_merged(session, repo.get_ticket(session, int(argument)))
        if target is None:
            return None, f"there is no ticket #{argument}"
        if target.id == ticket.id:
            return None, "a ticket cannot be merged into itself"
        if target.account_id != ticket.account_id:
            return None, f"ticket #{target.id} belongs to another customer account"
        return Step(command, target=target), None
    if verb == "cc":
        contact = directory.contact_by_email(session, argument)
        if command.option == "add":
            info = accounts.ticket_access(session, ticket)
            contact_info = repo.contact_info(contact) if contact is not None else None
            why = permissions.check(permissions.Action.BE_CC, contact_info, info, verified=True)
            if why is not None and why.code == "deactivated":
                return None, f"{argument} is a deactivated contact"
            if why is not None:
                return None, (f"{argument} is not a contact of this ticket's customer account "
                              "or of its reseller")  # fmt: skip
            return Step(command, contact_id=contact.id), None
        if contact is None or contact.id not in {c.id for c in staffing.ccs(session, ticket.id)}:
            return None, f"{argument} is not in copy of this ticket"
        return Step(command, contact_id=contact.id), None
    if verb == "ask-permission" and not accounts.approvers(session, ticket):
        return None, ("nobody may approve for this customer: the account (or its reseller) "
                      "needs a contact with the role owner or admin")  # fmt: skip
    if verb == "privacy":
        from gateway import privacy_requests  # it imports this module

        contact_id, error = privacy_requests.check(session, ticket, command)
        return (None, error) if error else (Step(command, contact_id=contact_id), None)
    return Step(command), None


def apply(
    session,
    notices: StaffNotices,
    ticket: Ticket,
    author: Staff,
    step: Step,
    outcome: Outcome,
    now: datetime,
    approvals=None,  # the ApprovalDesk, for /ask-permission
) -> None:
    verb, argument = step.command.verb, step.command.argument
    detail: dict = {"command": step.command.line}
    if verb == "assign":
        ticket.assignee_id = step.staff.id
        outcome.recorded.append(f"assigned to {step.staff.name}")
        if step.staff.id != author.id:
            outcome.sent += _hand_over(session, notices, ticket, [step.staff], author, now)
    elif verb == "transfer":
        ticket.department_id, ticket.assignee_id = step.department_id, None
        outcome.recorded.append(f"transferred to {step.department_name} (unassigned)")
        members = [s for s in staffing.active_staff(session, step.department_id)
                   if s.id != author.id]  # fmt: skip
        outcome.sent += _hand_over(session, notices, ticket, members, author, now)
    elif verb == "status":
        ticket.status = argument
        ticket.resolved_at = now if argument in ("resolved", "closed") else None
        outcome.recorded.append(f"status set to {argument}")
    elif verb == "priority":
        ticket.priority = argument
        outcome.recorded.append(f"priority set to {argument}")
    elif verb == "complaint":
        ticket.category = "complaint"
        outcome.recorded.append("marked as a complaint")
    elif verb == "merge":
        _merge(session, notices, ticket, step.target, outcome, now)
        detail["into"] = step.target.id
    elif verb == "cc":
        staffing.set_cc(session, ticket.id, step.contact_id, step.command.option == "add")
        outcome.recorded.append(
            f"{argument} {'added to' if step.command.option == 'add' else 'removed from'} copy"
        )  # noqa: E501
    elif verb in ("watch", "unwatch"):
        staffing.set_watch(session, ticket.id, author.id, verb == "watch")
        outcome.recorded.append(
            "you now watch this ticket" if verb == "watch" else "you no longer watch this ticket"
        )  # noqa: E501
    elif verb == "show":
        outcome.sent += notices.notify_staff(
            session, ticket, [author], headline="The whole ticket, internal notes included:",
            text="", kind="staff-show", now=now, full_history=True,
        )  # fmt: skip
        outcome.recorded.append("whole ticket mailed to you")
    elif verb == "ask-permission":
        approvals.ask(session, ticket, author, argument, outcome, now)
    elif verb == "privacy":
        from gateway import privacy_requests  # it imports this module

        privacy_requests.carry_out(session, notices, ticket, author, step, outcome, now)
        detail["command"] = f"/privacy {step.command.option}"  # no address or name in the log
    ticket.updated_at = now
    repo.add_event(session, now, f"command-{verb}", ticket_id=ticket.id, actor=author.email,
                   detail=detail)  # fmt: skip


def _hand_over(session, notices, ticket, members, author, now) -> list[Sent]:
    headline = f"{author.name} handed this ticket to you. Full history below."
    return notices.notify_staff(
        session, ticket, members, headline=headline, text="",
        kind="staff-transfer", now=now, full_history=True,
    )  # fmt: skip


def _merge(session, notices, source: Ticket, target: Ticket, outcome: Outcome, now) -> None:
    moved = staffing.move_messages(session, source.id, target.id)
    for contact in staffing.ccs(session, source.id):
        staffing.set_cc(session, target.id, contact.id, True)
    source.status, source.merged_into_id, source.resolved_at = "closed", target.id, now
    target.updated_at = now
    session.add(target)
    repo.add_event(session, now, "ticket-merged-in", ticket_id=target.id,
                   detail={"from": source.id, "messages": moved})  # fmt: skip
    requesters = {source.requester_id, target.requester_id}
    for contact_id in sorted(requesters):
        contact = repo.contact_by_id(session, contact_id)
        if contact is not None:
            outcome.sent.append(notices.merge_notice(session, source, target, contact, now))
    outcome.customer_told = True
    outcome.recorded.append(f"merged into #{target.id} ({moved} messages moved); requesters told")
