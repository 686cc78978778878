"""Saved replies: `/canned NAME` in a staff reply puts the text of `templates/canned/NAME.LANG.txt`
(the customer's language, else the company's) below the author's own words, written for that
customer: their name, the author's, the ticket's tag and subject, the company's name. The
operator writes them; their names are listed to anyone who asks for one that does not exist.
"""

from __future__ import annotations

from dataclasses import replace

from gateway.core import threads
from gateway.core.commands import CommandError, ParsedCommands
from gateway.store import repo
from gateway.store.tables import Staff, Ticket


def expand(session, notices, ticket: Ticket, staff: Staff, parsed: ParsedCommands):
    """`/canned NAME` lines: each saved reply, written for this customer in their language,
    goes below the author's own text; a name with no saved reply is an error line."""
    asked = [c for c in parsed.commands if c.verb == "canned"]
    if not asked:
        return parsed, []
    requester = repo.contact_by_id(session, ticket.requester_id)
    company = notices.company
    context = {
        "customer_name": requester.name if requester and not requester.erased_at else "",
        "staff_name": staff.name, "company": company.name, "subject": ticket.subject,
        "tag": threads.subject_tag(company.tag, ticket.id),
    }  # fmt: skip
    texts, errors = [], []
    for command in asked:
        try:
            texts.append(notices.renderer.canned(command.argument, ticket.language, context))
        except ValueError as error:
            errors.append(CommandError(command.line, str(error)))
    body = "\n\n".join(part for part in (parsed.body.strip(), *texts) if part)
    rest = tuple(c for c in parsed.commands if c.verb != "canned")
    return replace(parsed, commands=rest, body=body), errors
