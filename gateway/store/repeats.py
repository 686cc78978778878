"""The same words from the same contact within a day: a keyed digest of each customer message's
text, and the ticket a repeat of it belongs to. Keyed (an installation secret, like the
addresses' digests), so the column confirms no guess at what a customer wrote."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from sqlmodel import Session, col, select

from gateway.core.threads import repeat_text
from gateway.store import mailflow
from gateway.store.tables import Message


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
    query = (
        select(Message.ticket_id)
        .where(Message.author_contact_id == contact_id, Message.text_digest == digest,
               Message.created_at >= since)
        .order_by(col(Message.id).desc())
        .limit(1)
    )  # fmt: skip
    return session.exec(query).first()
