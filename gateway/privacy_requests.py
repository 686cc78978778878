"""Privacy requests by mail: recognise them, and carry out what staff approve.

A customer may ask by mail for a copy of their data, a correction (name, language) or erasure
(`core/privacy_request.py` recognises the phrasings). The mail opens or joins a ticket as usual;
the gateway records a `privacy-request` event and tells the staff involved what to do. A copy of
one's own data asked for in a verified mail is mailed at once to the address on file (only its
holder can send verified mail from it, and only it receives the copy). Nothing else is changed or
erased on the mail alone: a From line proves nothing, and an erasure cannot be undone, so a staff
member verifies the requester first, then approves on the ticket with
`/privacy export|erase ADDRESS` or `/privacy correct ADDRESS name NEW NAME|language fr`, where
ADDRESS must be the ticket's requester. The result is mailed only to the address on file.
"""

from __future__ import annotations

from datetime import datetime

from gateway import compose, outbox, privacy
from gateway.core import threads
from gateway.store import privacy_rows, repo, spool, staffing

HOW_TO = (
    "The gateway recognised a {kind} request (its From line is not proof of identity: "
    "sender verification said {verdict}). Verify that {address} really asks this, for example "
    "by calling back on a number you already know. Then reply to this mail with one of:\n"
    "  /privacy export {address}\n  /privacy erase {address}\n"
    "  /privacy correct {address} name NEW NAME\n  /privacy correct {address} language en|fr\n"
    "The result is mailed only to {address}. Nothing happens until you do."
)
SELF_SERVED = (
    "The request asked for a copy of the requester's own data, in a mail verified as sent from "
    "{address} ({verdict}), so the copy was mailed to that address, the one on file, by itself "
    "({sent} mail; none when one went out already today). Nothing else was done; for a "
    "correction or an erasure they must ask again, and you verify and approve as usual."
)
SELF_SERVICE = "self-service:verified-mail"  # the audit log's actor for such an export
PLAIN = {"export": "a copy of", "erase": "the erasure of", "correct": "a correction of"}


def settle(session, notices, staff_notices, row, kind: str | None, verified: bool,
           now: datetime) -> int:  # fmt: skip
    """After a customer's mail was applied: if it is a privacy request (`kind`, found as the
    mail was read: `core.reading`), say so to staff. A copy of one's own data asked for in a
    verified mail is mailed at once (self-service): it goes only to the address on file, which
    the verified sender holds; correction and erasure still wait for staff."""
    if kind is None:
        return 0
    message = repo.message_for_inbound(session, row.id)
    if message is None:
        _mark_held(session, row, kind, now)
        return 0
    if message.author_contact_id is None or "automatic" in message.flags:
        return 0
    if staffing.logged_by_staff(message):
        verified = False  # a staff member wrote it down: nothing proves the customer asked
    from gateway.staff_commands import involved_staff  # staff_commands imports this module

    ticket = repo.get_ticket(session, message.ticket_id)
    contact = repo.contact_by_id(session, message.author_contact_id)
    repo.add_event(session, now, "privacy-request", ticket_id=ticket.id, actor=contact.email,
                   detail={"kind": kind, "inbound_id": row.id})  # fmt: skip
    verdict = getattr(message, "auth_verdict", "none")
    if kind == "export" and verified:
        sent = _export_now(session, notices, ticket, contact, now)
        headline = f"Privacy request (export) from {contact.email}: answered by itself"
        text = SELF_SERVED.format(address=contact.email, verdict=verdict, sent=sent)
    else:
        sent = 0
        headline = f"Privacy request ({kind}) from {contact.email}: verify before approving"
        text = HOW_TO.format(kind=kind, verdict=verdict, address=contact.email)
    told = staff_notices.notify_staff(
        session, ticket, involved_staff(session, ticket), headline=headline, text=text,
        kind="staff-privacy-request", now=now,
    )  # fmt: skip
    return sent + len(told)


def _mark_held(session, row, kind: str, now: datetime) -> None:
    """A contact who left the customer keeps their rights over their data, but their mail is
    held (it opens no ticket): the held mail says what it asks, so the morning list of held
    mail shows the managers a request the law gives a month to answer."""
    held = spool.quarantine_for(session, row.id)
    if held is None or held.reason != "contact-deactivated":
        return
    held.detail = (f"{held.detail}; it asks for {PLAIN.get(kind, 'something about')} their "
                   "personal data: verify them, then `gateway privacy export|erase|correct "
                   "ADDRESS`")  # fmt: skip
    session.add(held)
    repo.add_event(session, now, "privacy-request", actor=held.sender,
                   detail={"kind": kind, "inbound_id": row.id, "held": held.id})  # fmt: skip


def _export_now(session, notices, ticket, contact, now: datetime) -> int:
    """One copy a day at most: a verified sender asking again gets nothing more that day."""
    key = f"privacy-export:{contact.id}:{now:%Y%m%d}"
    if privacy_rows.outbox_key_taken(session, key):
        return 0
    _mail_copy(session, notices, ticket, contact, SELF_SERVICE, _language(notices, contact), now,
               dedupe_key=key)  # fmt: skip
    return 1


def _mail_copy(session, notices, ticket, contact, actor: str, lang: str, now: datetime,
               dedupe_key: str | None = None) -> None:  # fmt: skip
    """The contact's data as a zip, to their address on file, with its audit-log line."""
    archive = privacy.export_archive(session, contact, now)
    privacy.audit(session, now, actor, "export", contact_id=contact.id, ticket_id=ticket.id)
    attachment = compose.OutgoingAttachment("personal-data.zip", "application/zip", archive)
    _mail(session, notices, ticket.id, ticket, contact.email, lang, "privacy_export", {},
          (attachment,), now, dedupe_key=dedupe_key)  # fmt: skip


def _language(notices, contact) -> str:
    return contact.language if contact.language in ("en", "fr") else notices.company.language


def check(session, ticket, command) -> tuple[int | None, str | None]:
    """(contact id, None) when `/privacy ...` may run on this ticket, else (None, the error)."""
    requester = repo.contact_by_id(session, ticket.requester_id)
    if requester is None or requester.erased_at is not None:
        return None, "this ticket's requester was erased"
    if command.argument != requester.email:
        return None, (
            f"{command.argument} is not this ticket's requester: /privacy acts only for the "
            "person who asked, on their own ticket"
        )
    return requester.id, None


def carry_out(session, notices, ticket, author, step, outcome, now: datetime) -> None:
    """Run an approved `/privacy` command; the customer hears only at their address on file."""
    contact = repo.contact_by_id(session, step.contact_id)
    action = step.command.option
    lang = _language(notices, contact)
    if action == "export":
        _mail_copy(session, notices, ticket, contact, author.email, lang, now)
        outcome.recorded.append(f"copy of the requester's data mailed to {contact.email}")
    elif action == "correct":
        field, value = step.command.value.split(" ", 1)
        privacy.correct(session, contact, field, value, now, author.email)
        lang = value if field == "language" else lang
        _mail(session, notices, ticket.id, ticket, contact.email, lang, "privacy_done",
              {"action": "correct", "field": field}, (), now)  # fmt: skip
        outcome.recorded.append(f"requester's {field} corrected; they were told")
    else:
        address = contact.email
        privacy.erase(session, contact, now, author.email)
        # After the erasure, sealed under the company key (no ticket): this mail must still go.
        _mail(session, notices, None, ticket, address, lang, "privacy_done",
              {"action": "erase", "field": ""}, (), now)  # fmt: skip
        outcome.recorded.append("requester erased (their data key destroyed); they were told")
    outcome.customer_told = True


def _mail(session, notices, ticket_id, ticket, address, lang, template, extra, attachments, now,
          dedupe_key: str | None = None):  # fmt: skip
    company = notices.company
    tag = threads.subject_tag(company.tag, ticket.id)
    rendered = notices.renderer.render(template, lang, {"tag": tag, "company": company.name,
                                                        **extra})  # fmt: skip
    draft = compose.Draft(
        from_name=company.name,
        from_address=company.support_address,
        to=(compose.Recipient(address),),
        subject=rendered.subject,
        text=rendered.text,
        reply_to=company.support_address,
        language=lang,
        loop_domain=company.domain,
        attachments=attachments,
    )
    outbox.enqueue(session, draft, kind=f"privacy-{extra.get('action', 'export')}",
                   ticket_id=ticket_id, envelope_from=company.bounce_address, now=now,
                   message_domain=company.domain, dedupe_key=dedupe_key)  # fmt: skip
