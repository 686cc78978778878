"""The same words from the same contact within a day: a keyed digest of each customer message's
text, and the ticket a repeat of it belongs to. Keyed (an installation secret, like the
addresses' digests), so the column confirms no guess at what a customer wrote."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlmodel import Session

from gateway.core.threads import repeat_text
from gateway.store import mailflow
from gateway.store.tables import Message

# Asked of every contact's mail that names no ticket: one Core statement, built once.
_MESSAGE = Message.__table__.c
_REPEATED = (
    select(_MESSAGE.ticket_id)
    .where(_MESSAGE.author_contact_id == bindparam("contact_id"),
           _MESSAGE.text_digest == bindparam("digest"),
           _MESSAGE.created_at >= bindparam("since", type_=_MESSAGE.created_at.type))
    .order_by(_MESSAGE.id.desc())
    .limit(1)
)  # fmt: skip


def text_digest(session: Session, text: str) -> str:
    """The digest a repeat is found by; "" for a text too short to tell."""
    words = repeat_text(text)
    if words is None:
        return ""
    key = mailflow.installation_secret(session, "repeat")
    return hmac.new(key, words.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()


def ticket_repeated(session: Session, contact_id: int, digest: str, since: datetime) -> int | None:
    """The ticket of this contact's latest message since `since` with this digest."""
    if not digest:
        return None
    values = {"contact_id": contact_id, "digest": digest, "since": since}
    return session.execute(_REPEATED, values).scalar()
