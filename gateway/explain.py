"""`gateway explain FILE.eml`: the whole decision on one message, with nothing changed.

The message goes through the real processing path inside a transaction that is rolled back,
so the explanation cannot drift from what the gateway would really do. What the transaction
would have written (ticket, message, events, held reason, outgoing mail) is read back first.
"""

from __future__ import annotations

import json
from email import message_from_bytes, policy

from gateway.core import quotes, senders, threads
from gateway.core.model import Envelope
from gateway.intake import identify
from gateway.process import Processor
from gateway.store import inspect, repo, spool


def explain(
    processor: Processor, raw: bytes, mail_from: str, rcpt_to: str, held_id: int | None = None
) -> dict:
    """`held_id`: the mail is the held spool row with that id, as `gateway held release`
    would have it processed again."""
    settings = processor.settings
    message_id, generated, digest = identify(raw, settings.domain)
    envelope = Envelope(mail_from, (rcpt_to,), "explain", "explain")
    work = processor._authenticate(processor._parse(0, raw, message_id), raw, envelope)
    if work.mail is None:
        return {"parsed": {"message_id": message_id, "refused": work.error}}
    mail = work.mail
    keys = threads.keys_for(mail, envelope.rcpt_tos, settings.support_address, settings.tag)
    extracted = quotes.extract(mail.text, mail.html)
    report: dict = {
        "parsed": {
            "message_id": message_id + (" (generated: the mail had none)" if generated else ""),
            "from": [f"{a.name} <{a.email}>" for a in mail.from_addresses],
            "subject": mail.subject,
            "defects": list(mail.defects),
            "parts": _parts(raw),
            "attachments": [f"{a.filename} ({len(a.data)} bytes)" for a in mail.attachments],
        },
        "verdict": str(work.verdict),
        "automatic": senders.automatic_reason(mail, envelope) or "no: written by a person",
        "threading_clues": {
            "reply_token": keys.token or "none",
            "references": list(keys.references) or "none",
            "subject_tag": keys.tag_number or "none",
        },
        "new_text": {"strategy": extracted.strategy, "text": extracted.text},
    }
    with processor.db.write() as session:
        sender = processor.dispatcher.sender(session, mail)
        report["sender"] = {"kind": sender.kind.value, "address": sender.email or "none"}
        candidates = {
            "by_token": repo.ticket_by_token(session, keys.token),
            "by_reference": repo.ticket_by_references(session, keys.references),
            "by_tag": repo.ticket_by_id(session, keys.tag_number),
        }
        report["ticket_candidates"] = {k: v.id if v else None for k, v in candidates.items()}
        report["outcome"] = _dry_run(processor, session, raw, work, envelope, message_id, digest,
                                     held_id)  # fmt: skip
        session.rollback()
    return report


def _dry_run(processor, session, raw, work, envelope, message_id, digest, held_id) -> dict:
    """Apply the message for real, read back what changed; the caller rolls it all back."""
    found = spool.held_mail(session, held_id) if held_id is not None else None
    if found is not None:
        spool.release_held(session, *found)  # before the marks: its row's id may come again
    marks = inspect.high_water(session)
    if found is not None:
        row = found[1]
    else:
        row = inspect.add_inbound(
            session, received_at=processor.clock(), source="explain", peer="",
            mail_from=envelope.mail_from, rcpt_tos=json.dumps(list(envelope.rcpt_tos)),
            message_id=message_id, content_digest=digest, raw=raw,
        )  # fmt: skip
    reused = spool.earlier_inbound_with_message_id(session, row)
    processor.dispatcher.handle(session, row, work.mail, processor.clock(), work.verdict, reused)
    new = inspect.rows_since(session, marks)
    return {
        "held": [f"{q.reason}: {q.detail}" for q in new["quarantine"]] or "no",
        "stored_messages": [
            {"ticket": m.ticket_id, "visibility": m.visibility, "direction": m.direction}
            for m in new["message"]
        ],
        "events": [f"{e.kind} (ticket {e.ticket_id}) {e.detail}" for e in new["event"]],
        "would_send": [
            {"kind": o.kind, "to": json.loads(o.rcpt_to), "subject": _subject(o.raw)}
            for o in new["outbox"]
        ],
    }


def _subject(raw: bytes) -> str:
    return str(message_from_bytes(raw, policy=policy.default)["Subject"] or "")


def _parts(raw: bytes) -> list[str]:
    message = message_from_bytes(raw, policy=policy.compat32)
    found = []
    for part in message.walk():
        charset = part.get_content_charset() or ""
        found.append(part.get_content_type() + (f"; charset={charset}" if charset else ""))
        if len(found) >= 50:
            found.append("...")
            break
    return found


def render(report: dict, indent: int = 0) -> str:
    """Readable text for the terminal."""
    lines = []
    pad = "  " * indent
    for key, value in report.items():
        label = key.replace("_", " ")
        if isinstance(value, dict):
            lines.append(f"{pad}{label}:")
            lines.append(render(value, indent + 1))
        elif isinstance(value, list):
            lines.append(f"{pad}{label}:" + ("" if value else " none"))
            for item in value:
                lines.append(f"{pad}  - {item}")
        else:
            text = str(value)
            if "\n" in text:
                lines.append(f"{pad}{label}:")
                lines.extend(f"{pad}  | {line}" for line in text.splitlines())
            else:
                lines.append(f"{pad}{label}: {text}")
    return "\n".join(lines)
