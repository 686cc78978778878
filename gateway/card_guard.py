"""Card numbers in inbound mail (invariant 7): mask them before anything is stored or echoed,
then, once the message is applied, keep only a masked raw copy and tell the people concerned.

The numbers are masked as the mail is read (`core.reading`, in the parser's process). The raw
bytes as received stay sealed in the spool only while the message waits to be processed
(or fails, for replay); once it is done they are replaced by the copy `card_mail.redacted_raw`
builds (unchanged bytes when no card number was found), sealed under the sender's key, and the
SHA-256 of the original is recorded. Staff see a `card-number-redacted` event; the customer gets
one notice per ticket saying the number was removed and must never be sent by mail, and one for
each mail whose attached PDF was not kept (they have to send it again).
"""

from __future__ import annotations

from datetime import datetime

from gateway import outbox
from gateway.core import threads
from gateway.core.reading import Reading
from gateway.store import privacy_rows, repo, staffing


def settle(session, notices, row, reading: Reading, now: datetime) -> tuple[int, dict]:
    """After a message was applied: the number of mails queued, and the spool row's values
    that keep the safe raw copy (`spool.finish_inbound` writes them)."""
    message = repo.message_for_inbound(session, row.id)
    author = message.author_contact_id if message is not None else None
    kept = reading.kept_raw if reading.found else row.raw
    # Held mail released is read again from its masked copy: the digest of the mail as
    # received, recorded the first time, stays.
    original = row.original_sha256 or reading.original_sha256
    values = privacy_rows.processed_raw(session, row, kept, author, original)
    if not reading.found:
        return 0, values
    ticket_id = message.ticket_id if message is not None else None
    repo.add_event(
        session, now, "card-number-redacted", ticket_id=ticket_id,
        detail={"inbound_id": row.id, "cards": reading.cards + reading.header_cards,
                "security_codes": reading.codes, "files_removed": reading.removed_files},
    )  # fmt: skip
    if message is None or author is None or "automatic" in message.flags:
        return 0, values  # staff, unknown senders and auto-replies get no notice
    if staffing.logged_by_staff(message):
        return 0, values  # a staff member's mail: they see the event, the customer sent nothing
    return _notice(session, notices, message, author, reading.removed_files, now), values


def _notice(session, notices, message, contact_id: int, removed: int, now: datetime) -> int:
    # One notice per ticket: a reply quoting the number is not told again. A file not kept is
    # told of each time, as the customer has to send it again.
    key = f"card-notice:ticket:{message.ticket_id}"
    if removed:
        key = f"card-notice:message:{message.id}"
    elif privacy_rows.outbox_key_taken(session, key):
        return 0
    ticket = repo.get_ticket(session, message.ticket_id)
    contact = repo.contact_by_id(session, contact_id)
    company, lang = notices.company, notices.language(contact.language)
    tag = threads.subject_tag(company.tag, ticket.id)
    # Nothing the mail said is repeated: the sender may not be who the From line claims.
    rendered = notices.renderer.render(
        "card_notice", lang, {"tag": tag, "company": company.name, "removed": removed}
    )
    draft = company.draft_to(
        contact.email,
        contact.name,
        rendered,
        lang,
        reply_to=threads.token_address(company.support_address, ticket.reply_token),
        in_reply_to=message.header_message_id,
    )
    queued = outbox.enqueue(
        session, draft, kind="card-notice", ticket_id=ticket.id,
        envelope_from=company.bounce_address, now=now, message_domain=company.domain,
        dedupe_key=key,
    )  # fmt: skip
    return 1 if queued else 0
