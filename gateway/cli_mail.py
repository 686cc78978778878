"""Commands about mail in and out: status, the inbound spool, the outbox, bounces, and
`explain` / `replay` for looking at one message or feeding many through intake."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path

from gateway.app import Gateway, utc_now
from gateway.cli_output import emit
from gateway.edges.imap_mailbox import mailbox_name
from gateway.store import health, outbox_rows, repo, spool


def add_commands(sub, command) -> None:
    p = command("explain", _explain, "show how a message would be handled, changing nothing")
    p.add_argument("file")
    p.add_argument("--mail-from", default="", help="envelope sender (default: the From)")
    p.add_argument("--to", default="", help="envelope recipient (default: support address)")
    p.add_argument("--json", action="store_true")
    p = command("replay", _replay, "feed an .eml file, a Maildir or an mbox through intake")
    p.add_argument("path")
    p.add_argument("--to", default="", help="envelope recipient (default: support address)")
    p.add_argument("--process", action="store_true", help="process the messages here too")

    p = command("status", _status, "what waits and what failed; exit 1 when it needs a look")
    p.add_argument("--json", action="store_true")

    group = sub.add_parser("inbound", help="the inbound spool").add_subparsers()
    p = command("list", _inbound_list, "list received mail with its status", group)
    p.add_argument("--status", choices=["pending", "done", "failed"])
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--json", action="store_true")
    p = command("retry", _inbound_retry, "put failed messages back to pending", group)
    p.add_argument("ids", nargs="*", type=int)

    group = sub.add_parser("outbox", help="outgoing mail").add_subparsers()
    p = command("list", _outbox_list, "list outgoing mail with its status", group)
    p.add_argument("--status", choices=["pending", "sent", "failed"])
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--json", action="store_true")
    p = command("retry", _outbox_retry, "send failed mail again, with a new lifetime", group)
    p.add_argument("ids", nargs="*", type=int)

    group = sub.add_parser("bounces", help="addresses whose mail bounced").add_subparsers()
    command("list", _bounces_list, "addresses automatic mail is stopped for", group).add_argument(
        "--json", action="store_true"
    )
    command("clear", _bounces_clear, "resume automatic mail to an address", group).add_argument(
        "address"
    )


# Mail waiting longer than this means the part that should take it is not running.
INBOUND_LATE = timedelta(minutes=5)
OUTBOX_LATE = timedelta(minutes=15)
# A flood of mail from unknown senders needs a look while it lasts and a while after.
NOTICES_CAPPED_RECENTLY = timedelta(hours=2)


def _status(gw: Gateway, args) -> int:
    """The spool and the outbox in figures, and what an operator should look at (for a
    monitoring check: exit 1 when that list is not empty)."""
    now = gw.clock()
    with gw.db.read() as session:
        mailboxes = tuple(mailbox_name(a.username, a.host) for a in gw.config.imap.accounts)
        found = health.figures(session, now, mailboxes)
    attention = []
    if found.inbound["failed"]:
        attention.append(
            f"{found.inbound['failed']} received message(s) failed to process: "
            "gateway inbound list --status failed, then gateway inbound retry"
        )
    waiting = found.oldest_pending_inbound
    if waiting and now - waiting > INBOUND_LATE:
        attention.append(f"received mail waits since {waiting:%Y-%m-%d %H:%M} UTC: "
                         "is the processor of gateway serve running?")  # fmt: skip
    due = found.oldest_due_outbox
    if due and now - due > OUTBOX_LATE:
        attention.append(f"outgoing mail due since {due:%Y-%m-%d %H:%M} UTC is not sent: "
                         "is the delivery of gateway serve running?")  # fmt: skip
    capped = found.notices_capped_at
    if capped and now - capped < NOTICES_CAPPED_RECENTLY:
        attention.append(f"at {capped:%Y-%m-%d %H:%M} UTC notices to unknown senders reached "
                         "limits.stranger_notices_per_hour: mail in forged names? It is held "
                         "unanswered: gateway held list")  # fmt: skip
    for mailbox, (since, why) in sorted(found.imap_down.items()):
        attention.append(f"IMAP mailbox {mailbox} cannot be read since "
                         f"{since:%Y-%m-%d %H:%M} UTC ({why}): mail sent there waits "
                         "unread; check the server, the login or the token")  # fmt: skip
    document = {**asdict(found), "attention": attention}
    if getattr(args, "json", False):
        print(json.dumps(document, indent=2, default=str))
    else:
        inbound, outbox = found.inbound, found.outbox
        print(
            f"inbound  {inbound['pending']} pending, {inbound['done']} done, "
            f"{inbound['failed']} failed; {found.held} held"
        )
        print(f"outbox   {outbox['pending']} pending, {outbox['sent']} sent, "
              f"{outbox['failed']} given up")  # fmt: skip
        print("\n".join(f"attention: {line}" for line in attention) or "nothing needs a look")
    return 1 if attention else 0


def _inbound_list(gw: Gateway, args) -> int:
    with gw.db.read() as session:
        rows = [
            {"id": r.id, "received_at": r.received_at, "source": r.source,
             "mail_from": r.mail_from, "message_id": r.message_id, "size": r.size,
             "status": r.status, "error": r.error}
            for r in spool.list_inbound(session, args.status, args.limit)
        ]  # fmt: skip
    emit(args, rows, ["id", "received_at", "source", "mail_from", "size", "status", "error"])
    return 0


def _inbound_retry(gw: Gateway, args) -> int:
    with gw.db.write() as session:
        count = spool.retry_failed_inbound(session, args.ids)
    print(f"{count} message(s) put back for processing")
    return 0


def _outbox_list(gw: Gateway, args) -> int:
    with gw.db.read() as session:
        rows = [
            {"id": o.id, "created_at": o.created_at, "kind": o.kind, "ticket": o.ticket_id,
             "to": ", ".join(json.loads(o.rcpt_to)), "status": o.status,
             "attempts": o.attempts, "next_attempt_at": o.next_attempt_at,
             "last_error": o.last_error, "message_id": o.message_id}
            for o in outbox_rows.list_rows(session, args.status, args.limit)
        ]  # fmt: skip
    emit(args, rows, ["id", "created_at", "kind", "ticket", "to", "status", "attempts"])
    return 0


def _outbox_retry(gw: Gateway, args) -> int:
    """Failed rows back to pending, due now; each put back is an event on its ticket."""
    now = gw.clock()
    with gw.db.write() as session:
        rows = outbox_rows.retry_failed(session, args.ids, now)
        for row in rows:
            detail = {"outbox_id": row.id, "to": json.loads(row.rcpt_to)}
            repo.add_event(session, now, "delivery-retried", ticket_id=row.ticket_id,
                           detail=detail)  # fmt: skip
    print(f"{len(rows)} mail(s) put back for delivery")
    return 0


def _bounces_list(gw: Gateway, args) -> int:
    from gateway.store import mailflow

    with gw.db.read() as session:
        rows = [
            {"address": b.address, "since": b.since, "status": b.status,
             "diagnostic": b.diagnostic, "outbox_id": b.outbox_id}
            for b in mailflow.list_bouncing(session)
        ]  # fmt: skip
    emit(args, rows, ["address", "since", "status", "diagnostic"])
    return 0


def _bounces_clear(gw: Gateway, args) -> int:
    from gateway.store import mailflow

    with gw.db.write() as session:
        cleared = mailflow.clear_bouncing(session, args.address, utc_now())
        if cleared:
            repo.add_event(session, utc_now(), "bounce-cleared", actor=args.address)
    print(f"{args.address}: {'automatic mail resumed' if cleared else 'was not bouncing'}")
    return 0 if cleared else 1


def _explain(gw: Gateway, args) -> int:
    from gateway.explain import explain, render
    from gateway.replay import envelope_sender

    raw = Path(args.file).read_bytes()
    to = args.to or gw.config.company.support_address
    report = explain(gw.processor, raw, args.mail_from or envelope_sender(raw), to)
    if args.json:
        print(json.dumps(report, indent=2, default=str, ensure_ascii=False))
    else:
        print(render(report))
    return 0


def _replay(gw: Gateway, args) -> int:
    from gateway.replay import replay

    gw.init()
    to = args.to or gw.config.company.support_address
    stored, duplicates = replay(gw.db, Path(args.path), to, gw.config.company.domain, utc_now)
    print(f"{stored} stored, {duplicates} already known")
    if args.process:
        while gw.processor.run_once()[0]:
            pass
        print("processed; outgoing mail is queued for `gateway serve` to deliver")
    return 0
