"""One ticket as a document (for `tickets show`): fields, the whole thread, events, mail sent."""

from __future__ import annotations

import json

from gateway.core.threads import subject_tag
from gateway.store import outbox_rows, repo
from gateway.store.sealing import ERASED_NAME, ERASED_TEXT


def ticket_document(session, number: int) -> dict | None:
    ticket = repo.get_ticket(session, number)
    if ticket is None:
        return None
    requester = repo.contact_by_id(session, ticket.requester_id)
    messages = []
    for message in repo.ticket_messages(session, ticket.id):
        attachments = repo.message_attachments(session, message.id)
        messages.append(
            {
                "id": message.id,
                "at": message.created_at,
                "direction": message.direction,
                "visibility": message.visibility,
                "author": _author(message),
                "message_id": message.message_id,
                "subject": message.subject,
                "body": _body(message),
                "auth_verdict": message.auth_verdict,
                "flags": [f for f in message.flags.split(",") if f],
                "attachments": [
                    {"filename": a.filename, "content_type": a.content_type, "size": a.size,
                     "blob": a.blob_id}
                    for a in attachments
                ],
            }
        )  # fmt: skip
    events = [
        {"at": e.at, "kind": e.kind, "actor": e.actor, "detail": json.loads(e.detail)}
        for e in repo.ticket_events(session, ticket.id)
    ]
    mail = [
        {"at": o.created_at, "kind": o.kind, "to": json.loads(o.rcpt_to), "status": o.status,
         "attempts": o.attempts, "sent_at": o.sent_at, "last_error": o.last_error,
         "message_id": o.message_id}
        for o in outbox_rows.for_ticket(session, ticket.id)
    ]  # fmt: skip
    return {
        "number": ticket.id,
        "subject": ticket.subject,
        "status": ticket.status,
        "category": ticket.category,
        "priority": ticket.priority,
        "requester": _person(requester),
        "language": ticket.language,
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "sla_due_at": ticket.sla_due_at,
        "first_response_at": ticket.first_response_at,
        "reply_due_at": ticket.reply_due_at,
        "messages": messages,
        "events": events,
        "mail": mail,  # what left for whom, and whether it was delivered
    }


def _person(contact) -> str | None:
    if contact is None:
        return None
    return ERASED_NAME if contact.erased_at is not None else contact.email


def _author(message) -> str:
    return ERASED_NAME if message.author_email == ERASED_TEXT else message.author_email


def _body(message) -> str:
    """A staff message's full text quotes the customer (sealed under their key); once they are
    erased, what the staff member wrote is still shown."""
    if message.body_text == ERASED_TEXT and message.new_text != ERASED_TEXT:
        return message.new_text
    return message.body_text


def print_ticket(document: dict, tag: str) -> None:
    print(f"{subject_tag(tag, document['number'])} {document['subject']}")
    print(
        f"status {document['status']} · {document['category']} · priority {document['priority']}"
        f" · requester {document['requester']} · opened {document['created_at']}"
        f" · first response due {document['sla_due_at']}"
        + (f" · answer due {document['reply_due_at']}" if document["reply_due_at"] else "")
    )
    for message in document["messages"]:
        arrow = "<-" if message["direction"] == "in" else "->"
        print()
        print(
            f"{arrow} {message['at']} {message['author']} [{message['visibility']}]"
            f" verdict: {message['auth_verdict']}"
            + (f" flags: {', '.join(message['flags'])}" if message["flags"] else "")
        )
        print(f"   Subject: {message['subject']}")
        for line in message["body"].splitlines() or [""]:
            print(f"   {line}")
        for attachment in message["attachments"]:
            print(f"   [attachment] {attachment['filename']} ({attachment['size']} bytes)")
    print()
    print("events:")
    for event in document["events"]:
        print(f"  {event['at']} {event['kind']} {event['actor']} {event['detail']}")
    print()
    print("mail sent:")
    for mail in document["mail"]:
        outcome = {"sent": f"delivered {mail['sent_at']}", "failed": "given up"}.get(
            mail["status"], f"waiting, {mail['attempts']} attempt(s)"
        )
        error = f": {mail['last_error']}" if mail["status"] != "sent" and mail["last_error"] else ""
        print(f"  {mail['at']} {mail['kind']} to {', '.join(mail['to'])} - {outcome}{error}")
