"""Held mail and contacts handled by mail, as staff work: a manager answers the daily list of
held mail with `/contact add ADDRESS [ROLE] [LANGUAGE] ACCOUNT` to register a sender and
`/release N` to have their mail processed again, and writes `/contact deactivate|activate
ADDRESS` when someone leaves a customer, as `gateway contacts import|deactivate|activate` and
`gateway held release` do from a shell.

Managers only: a contact may open tickets for an account and, as its owner or admin, approve
changes on its servers. The mail must be verified like every staff command (the staff desk
checks that first), and the commands are all or nothing, confirmed by a receipt.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway.core import lookalike
from gateway.core.commands import DESK_VERBS, Command, CommandError, ParsedCommands
from gateway.store import accounts, directory, repo, spool
from gateway.store.tables import Inbound, Quarantine, Staff


@dataclass(frozen=True)
class Step:
    command: Command
    held: Quarantine | None = None
    inbound: Inbound | None = None
    account_id: int | None = None


def wanted(parsed: ParsedCommands) -> bool:
    """Whether a staff mail naming no ticket is a list of held-mail commands."""
    return bool(parsed.actions) and all(c.verb in DESK_VERBS for c in parsed.actions)


def plan(session, author: Staff, actions) -> tuple[list[Step], list[CommandError]]:
    if author.role != "manager":
        refused = "only a manager may register or deactivate contacts and release held mail"
        return [], [CommandError(c.line, refused) for c in actions]
    steps, errors = [], []
    for command in actions:
        found, error = (_plan_release if command.verb == "release" else _plan_contact)(
            session, command
        )
        if error:
            errors.append(CommandError(command.line, error))
        else:
            steps += found
    return steps, errors


def _plan_release(session, command: Command) -> tuple[list[Step], str | None]:
    steps = []
    for number in command.argument.split():
        found = spool.held_mail(session, int(number))
        if found is None:  # never held, released already, or forgotten
            return [], f"there is no held mail #{number} (released already, or forgotten?)"
        steps.append(Step(command, held=found[0], inbound=found[1]))
    return steps, None


def _plan_contact(session, command: Command) -> tuple[list[Step], str | None]:
    address = command.argument
    existing = directory.contact_by_email(session, address)
    if command.option != "add":
        return ([Step(command)], None) if existing else ([], f"{address} is not a contact")
    if existing is not None:
        return [], f"{address} is already a contact"
    if lookalike.ascii_form(address) is not None:
        return [], (
            f"{lookalike.shown(address)} has letters outside ASCII that may imitate another "
            "address; if it is right, add it with `gateway contacts import`"
        )
    if repo.find_staff(session, address) is not None:
        return [], f"{address} is a staff member"
    name = command.value.split(" ", 2)[2]
    account = accounts.account_by_name(session, name)
    if account is None:
        return [], f"there is no customer account named {name!r}"
    return [Step(command, account_id=account.id)], None


def apply(session, steps: list[Step], author: Staff, language: str, now: datetime) -> list[str]:
    """Contacts first, so a mail released in the same list finds its sender registered;
    returns what was recorded, in words for the receipt."""
    recorded = []
    for step in sorted(steps, key=lambda s: s.command.verb != "contact"):
        if step.command.verb == "contact" and step.command.option != "add":
            recorded.append(_set_active(session, step.command, author, now))
        elif step.command.verb == "contact":
            role, chosen, _ = step.command.value.split(" ", 2)
            contact, _ = directory.upsert_contact(
                session, email=step.command.argument, name="", account_id=step.account_id,
                role=role, language=chosen or language, now=now,
            )  # fmt: skip
            repo.add_event(session, now, "contact-added", actor=author.email,
                           detail={"contact_id": contact.id, "by": "mail"})  # fmt: skip
            recorded.append(f"{step.command.argument} registered ({role})")
        else:
            release(session, step.held, step.inbound, author.email, now)
            recorded.append(f"held mail #{step.held.id} released: it is processed again")
    return recorded


def release(session, held: Quarantine, inbound: Inbound, actor: str, now: datetime) -> None:
    """Held mail back to pending, with the event saying who released it and why it had been
    held: the one way, by mail and by `gateway held release`."""
    detail = {"inbound_id": inbound.id, "reason": held.reason, "held_at": held.created_at}
    spool.release_held(session, held, inbound)
    repo.add_event(session, now, "held-released", actor=actor, detail=detail)


def set_contact_active(session, email: str, active: bool, actor: str, now: datetime, **detail):
    """A contact on or off, with its event: the one way, by mail and by `gateway contacts`.
    Returns the contact (None if unknown) and the tickets they opened, not closed."""
    contact, opened = directory.set_contact_active(session, email, active)
    if contact is not None:
        repo.add_event(session, now, "contact-activated" if active else "contact-deactivated",
                       actor=actor, detail={"contact_id": contact.id, **detail})  # fmt: skip
    return contact, opened


def _set_active(session, command: Command, author: Staff, now: datetime) -> str:
    """As `gateway contacts deactivate|activate`: a contact who left holds nothing more."""
    active = command.option == "activate"
    _, opened = set_contact_active(session, command.argument, active, author.email, now, by="mail")
    if active:
        return f"{command.argument} active again"
    still = f"; tickets they opened, not closed: {opened}" if opened else ""
    return f"{command.argument} deactivated: their mail is held, none is sent to them{still}"
