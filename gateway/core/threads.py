"""Which ticket a message belongs to: reply token, then references, then subject tag, then
the same words the sender wrote within a day (a resent request, a careless auto-responder).

The store looks up each clue; this module decides which clue counts for this sender. Only a
participant of a ticket can attach to it by references or by tag, so a stranger quoting a
ticket number (zammad#5064) or another customer's Message-ID gets nothing appended.
"""

from __future__ import annotations

import re

from gateway.core import permissions
from gateway.core.model import Candidates, ParsedMail, Sender, ThreadKeys, ThreadMatch, TicketInfo

_TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"


def subject_tag(tag: str, number: int) -> str:
    return f"[{tag} #{number}]"


def tag_number(subject: str, tag: str) -> int | None:
    match = re.search(rf"\[\s*{re.escape(tag)}\s*#\s*(\d{{1,12}})\s*\]", subject, re.IGNORECASE)
    return int(match.group(1)) if match else None


def token_address(support_address: str, token: str) -> str:
    local, _, domain = support_address.partition("@")
    return f"{local}+{token}@{domain}"


def token_from_recipients(rcpt_tos: tuple[str, ...], support_address: str) -> str | None:
    """The reply token of the first `support+<token>@domain` recipient, if any."""
    local, _, domain = support_address.lower().partition("@")
    for rcpt in rcpt_tos:
        r_local, _, r_domain = rcpt.lower().partition("@")
        if r_domain != domain or not r_local.startswith(local + "+"):
            continue
        token = r_local[len(local) + 1 :]
        if 20 <= len(token) <= 64 and all(c in _TOKEN_ALPHABET for c in token):
            return token
    return None


def keys_for(
    mail: ParsedMail, rcpt_tos: tuple[str, ...], support_address: str, tag: str
) -> ThreadKeys:
    references = tuple(dict.fromkeys(mail.in_reply_to + tuple(reversed(mail.references))))
    return ThreadKeys(
        token=token_from_recipients(rcpt_tos, support_address),
        references=references,
        tag_number=tag_number(mail.subject, tag),
    )


# Shorter texts ("Thanks!", an empty body under an attachment) say too little to be a repeat.
REPEAT_MIN_CHARACTERS = 20


def repeat_text(text: str) -> str | None:
    """The words of a mail as compared with the sender's mail of the last day: case and
    spacing set aside; None when too short to tell a repeat from a coincidence."""
    words = " ".join(text.split()).casefold()
    return words if len(words) >= REPEAT_MIN_CHARACTERS else None


def is_participant(sender: Sender, ticket: TicketInfo) -> bool:
    """Whoever may reply to the ticket (`permissions`): its requester and contacts in copy,
    and the owners and admins of its account or reseller; staff rules come with staff mail."""
    return permissions.may(permissions.Action.REPLY, sender.contact, ticket, verified=False)


def match(sender: Sender, candidates: Candidates) -> ThreadMatch | None:
    """First clue that holds for this sender wins; a clue for someone else's ticket is ignored."""
    for via, ticket in (
        ("token", candidates.by_token),
        ("reference", candidates.by_reference),
        ("tag", candidates.by_tag),
        ("repeat", candidates.by_repeat),
    ):
        if ticket is not None and is_participant(sender, ticket):
            return ThreadMatch(ticket=ticket, via=via)
    return None
