"""A customer copies colleagues on a ticket by putting them in To or Cc of their mail.

Only with a verified mail (`permissions.Action.ADD_CC`): a forged From must not be able to add
an address that then receives the ticket's replies (the Zendesk 2024 CC bug). Only registered
contacts who may see the ticket are added; anything refused is recorded as an event.
"""

from __future__ import annotations

from datetime import datetime

from gateway.core import permissions
from gateway.core.model import ContactInfo, ParsedMail, Verdict
from gateway.store import accounts, repo, staffing
from gateway.store.tables import Ticket


def add_copies(
    session,
    ticket: Ticket,
    sender: ContactInfo,
    mail: ParsedMail,
    verdict: Verdict,
    now: datetime,
    own_domains: tuple[str, ...] = (),
) -> list[str]:
    """Copy the contacts `mail` names on `ticket` when allowed; returns the addresses added.
    Addresses in `own_domains` (the gateway's own, staff) are never a customer's copy: mail
    to them comes back to the gateway."""
    others = _other_contacts(session, ticket, sender, mail, own_domains)
    if not others:
        return []  # the usual case, settled without reading the ticket's copies and account
    info = accounts.ticket_access(session, ticket)
    wanted = [contact for contact in others if contact.id not in info.cc_ids]
    if not wanted:
        return []
    refused = permissions.check(permissions.Action.ADD_CC, sender, info, verdict.verified)
    added = []
    for contact in wanted:
        why = refused or permissions.check(permissions.Action.BE_CC, contact, info, True)
        if why is not None:
            repo.add_event(
                session,
                now,
                "cc-add-refused",
                ticket_id=ticket.id,
                actor=sender.email,
                detail={"address": contact.email, "reason": str(why)},
            )
            continue
        staffing.set_cc(session, ticket.id, contact.id, True)
        added.append(contact.email)
    if added:
        repo.add_event(
            session,
            now,
            "cc-added",
            ticket_id=ticket.id,
            actor=sender.email,
            detail={"added": added, "verdict": str(verdict)},
        )
    return added


def _other_contacts(session, ticket: Ticket, sender: ContactInfo, mail: ParsedMail,
                    own_domains: tuple[str, ...]):  # fmt: skip
    """The registered contacts `mail` names in To or Cc, other than the requester and sender."""
    found = []
    for address in dict.fromkeys(a.email for a in (*mail.to, *mail.cc)):
        if address.rpartition("@")[2].lower() in own_domains:
            continue  # the support address itself, nearly always: not even looked up
        contact = repo.find_contact(session, address)
        if contact is not None and contact.id not in (ticket.requester_id, sender.id):
            found.append(contact)
    return found
