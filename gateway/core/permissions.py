"""Who may do what on a ticket: the one table every check in the gateway asks.

A contact relates to a ticket through its account: `own` (the ticket's account), `reseller`
(the account one level above it, whose clients' tickets it serves) or `none`. Its role is
`owner`, `admin` or `user`. Some actions also need the mail itself verified (DMARC pass, or
an aligned DKIM/SPF pass), because an unverified From line can be written by anyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from gateway.core.model import ContactInfo, TicketInfo

ROLES = ("owner", "admin", "user")
MANAGERS = ("owner", "admin")


class Action(Enum):
    OPEN = "open a ticket"
    REPLY = "reply to a ticket"
    BE_CC = "be copied on a ticket"
    SEE_ACCOUNT = "see and join every ticket of the account"
    APPROVE = "approve or deny a permission request"
    ADD_CC = "add a contact in copy"


@dataclass(frozen=True)
class Rule:
    roles: tuple[str, ...]  # roles allowed, on their own account's tickets
    reseller_roles: tuple[str, ...]  # roles allowed, on a client account's tickets
    verified: bool  # the mail must be verified
    own_tickets: bool = False  # limited to tickets one opened or is copied on (unless SEE_ACCOUNT)


TABLE: dict[Action, Rule] = {
    Action.OPEN: Rule(ROLES, (), verified=False),
    Action.REPLY: Rule(ROLES, ROLES, verified=False, own_tickets=True),
    Action.BE_CC: Rule(ROLES, ROLES, verified=False),
    Action.SEE_ACCOUNT: Rule(MANAGERS, MANAGERS, verified=False),
    Action.APPROVE: Rule(MANAGERS, MANAGERS, verified=True),
    Action.ADD_CC: Rule(ROLES, ROLES, verified=True, own_tickets=True),
}


@dataclass(frozen=True)
class Refusal:
    """Why something is not allowed: a code that each language's templates put in words, the
    figures those words need, and an English sentence for staff and the records."""

    code: str
    detail: str
    facts: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        return self.detail


def relation(contact: ContactInfo, ticket: TicketInfo) -> str:
    if contact.account_id == ticket.account_id:
        return "own"
    if ticket.reseller_id is not None and contact.account_id == ticket.reseller_id:
        return "reseller"
    return "none"


def check(
    action: Action, contact: ContactInfo | None, ticket: TicketInfo | None, verified: bool
) -> Refusal | None:
    """None when allowed, else why (told to the sender, in their language, and to staff)."""
    if contact is None:
        return Refusal("not-a-contact", "you are not a registered contact of this customer")
    if not contact.active:
        return Refusal(
            "deactivated", "your address is no longer an active contact of this customer"
        )
    rule = TABLE[action]
    if rule.verified and not verified:
        return Refusal(
            "unverified", "your mail could not be verified as really sent from your address (DMARC)"
        )
    where = relation(contact, ticket) if ticket is not None else "own"
    roles = {"own": rule.roles, "reseller": rule.reseller_roles}.get(where, ())
    if where == "none":
        return Refusal(
            "unrelated",
            "you are not a contact of this ticket's customer account or of its reseller",
        )
    if contact.role not in roles:
        return Refusal(
            "role",
            f"your role ({contact.role}) does not allow this ({action.value})",
            (("role", contact.role),),
        )
    if ticket is None:
        return None
    if rule.own_tickets and not (_involved(contact, ticket) or _sees_account(contact, where)):
        return Refusal("not-involved", "you did not open this ticket and are not in copy of it")
    return None


def may(
    action: Action, contact: ContactInfo | None, ticket: TicketInfo | None, verified: bool
) -> bool:
    return check(action, contact, ticket, verified) is None


def _sees_account(contact: ContactInfo, where: str) -> bool:
    rule = TABLE[Action.SEE_ACCOUNT]
    return contact.role in (rule.roles if where == "own" else rule.reseller_roles)


def _involved(contact: ContactInfo, ticket: TicketInfo) -> bool:
    return contact.id == ticket.requester_id or contact.id in ticket.cc_ids


def table_rows() -> list[tuple[str, str, str, str]]:
    """(action, on own account, on a client's ticket (reseller), verified mail) for docs."""
    rows = []
    for action, rule in TABLE.items():
        mine = ", ".join(rule.roles) + (" (own or copied tickets)" if rule.own_tickets else "")
        client = ", ".join(rule.reseller_roles) or "-"
        rows.append((action.value, mine, client, "yes" if rule.verified else "no"))
    return rows
