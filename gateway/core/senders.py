"""Is this mail from a machine? RFC 3834 and the headers auto-responders really send.

Nothing automatic is ever answered: not auto-replies, bounces (null sender), list or bulk
mail, nor anything carrying our own loop header.
"""

from __future__ import annotations

import re

from gateway.core.model import Envelope, ParsedMail

_BOUNCE_LOCALS = ("mailer-daemon", "postmaster")
_OOO_SUBJECT = re.compile(
    r"^\s*(auto(matic)?[ -]?(reply|response)|out of (the )?office|absence|absent|"
    r"r[ée]ponse automatique|abwesenheit|fuera de la oficina|vacation)\b",
    re.IGNORECASE,
)


def away_signal(mail: ParsedMail) -> str | None:
    """What says this mail is an out-of-office or vacation answer, whatever its envelope (a
    Sieve vacation answer comes from the null sender): a list, a loop or a bounce is not one."""
    auto = mail.auto
    if auto.list_id or auto.loop_header or auto.precedence in ("bulk", "junk", "list"):
        return None
    if auto.auto_submitted.split(";")[0].strip() == "auto-replied":
        return "auto-submitted:auto-replied"
    if auto.x_autoreply:
        return "x-autoreply"
    if auto.precedence == "auto_reply":
        return "precedence:auto_reply"
    if _OOO_SUBJECT.search(mail.subject):
        return "out-of-office-subject"
    return None


def automatic_reason(mail: ParsedMail, envelope: Envelope) -> str | None:
    """Why this message must never be answered, or None for mail written by a person."""
    auto = mail.auto
    if envelope.mail_from in ("", "<>"):
        return "null-sender"
    if envelope.mail_from.partition("@")[0].lower() in _BOUNCE_LOCALS:
        return "bounce"
    if auto.loop_header:
        return "own-loop-header"
    if auto.auto_submitted and auto.auto_submitted != "no":
        return f"auto-submitted:{auto.auto_submitted.split(';')[0]}"
    if auto.precedence in ("bulk", "junk", "list", "auto_reply"):
        return f"precedence:{auto.precedence}"
    if auto.list_id:
        return "list-id"
    if auto.x_autoreply:
        return "x-autoreply"
    if auto.auto_response_suppress and any(
        word in auto.auto_response_suppress for word in ("all", "oof", "autoreply")
    ):
        return "auto-response-suppress"
    if _OOO_SUBJECT.search(mail.subject):
        return "out-of-office-subject"
    return None
