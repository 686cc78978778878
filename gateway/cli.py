"""The `gateway` command: set-up, serving and looking at what the gateway recorded.

List and show commands print readable tables, or one JSON document with `--json`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from gateway import cli_privacy, cli_timed, cli_trust
from gateway import config as config_module
from gateway.app import ROLES, Gateway, utc_now
from gateway.contacts_import import read_contacts
from gateway.store import db as store_db
from gateway.store import directory, outbox_rows, repo


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "handler", None):
        parser.print_help()
        return 2
    logging.basicConfig(
        level=os.environ.get("GATEWAY_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if args.handler is _schema:
        return _schema(None, args)
    try:
        cfg = config_module.load(_config_path(args.config))
    except config_module.ConfigError as error:
        print(f"gateway: configuration error: {error}", file=sys.stderr)
        return 2
    gateway = Gateway(cfg)
    try:
        return args.handler(gateway, args) or 0
    except store_db.StoreUnavailable as error:
        print(f"gateway: database unavailable: {error}", file=sys.stderr)
        return 1
    finally:
        gateway.db.dispose()


def _config_path(explicit: str | None) -> Path | None:
    if explicit:
        return Path(explicit)
    default = Path("config.toml")
    return default if default.exists() else None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description=__doc__)
    parser.add_argument("--config", help="path to config.toml (default: ./config.toml)")
    sub = parser.add_subparsers(title="commands")

    def command(name, handler, help_text, parent=sub):
        p = parent.add_parser(name, help=help_text)
        p.set_defaults(handler=handler)
        return p

    command("init", _init, "create the database and the outbound Maildir")
    serve = command("serve", _serve, "run the SMTP listener, processor, delivery and scheduler")
    serve.add_argument(
        "--role",
        choices=ROLES,
        default="all",
        help="run only the listener (SMTP, IMAP) or only the processor (processing, delivery, "
        "scheduler), to use two cores with one of each; default: all in one process",
    )
    command("schema", _schema, "print the SQL schema generated from the models")
    p = command("explain", _explain, "show how a message would be handled, changing nothing")
    p.add_argument("file")
    p.add_argument("--mail-from", default="", help="envelope sender (default: the From)")
    p.add_argument("--to", default="", help="envelope recipient (default: support address)")
    p.add_argument("--json", action="store_true")
    p = command("replay", _replay, "feed an .eml file, a Maildir or an mbox through intake")
    p.add_argument("path")
    p.add_argument("--to", default="", help="envelope recipient (default: support address)")
    p.add_argument("--process", action="store_true", help="process the messages here too")

    group = sub.add_parser("departments", help="departments").add_subparsers()
    command("add", _department_add, "add a department", group).add_argument("name")
    command("list", _department_list, "list departments", group).add_argument(
        "--json", action="store_true"
    )

    group = sub.add_parser("staff", help="staff members").add_subparsers()
    p = command("add", _staff_add, "add a staff member", group)
    p.add_argument("email")
    p.add_argument("--name", required=True)
    p.add_argument("--department")
    p.add_argument("--manager", action="store_true")
    command("list", _staff_list, "list staff", group).add_argument("--json", action="store_true")

    group = sub.add_parser("contacts", help="customer contacts").add_subparsers()
    command("import", _contacts_import, "import contacts from CSV", group).add_argument("file")
    command("list", _contacts_list, "list contacts", group).add_argument(
        "--json", action="store_true"
    )

    group = sub.add_parser("tickets", help="tickets").add_subparsers()
    p = command("list", _tickets_list, "list tickets", group)
    p.add_argument("--status")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--json", action="store_true")
    p = command("show", _tickets_show, "show one ticket with its whole thread", group)
    p.add_argument("number", type=int)
    p.add_argument("--json", action="store_true")

    group = sub.add_parser("held", help="held (quarantined) mail").add_subparsers()
    p = command("list", _held_list, "list held mail with the reason", group)
    p.add_argument("--limit", type=int, default=100)
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

    group = sub.add_parser("bounces", help="addresses whose mail bounced").add_subparsers()
    command("list", _bounces_list, "addresses automatic mail is stopped for", group).add_argument(
        "--json", action="store_true"
    )
    command("clear", _bounces_clear, "resume automatic mail to an address", group).add_argument(
        "address"
    )
    cli_timed.add_commands(sub, command)
    cli_trust.add_commands(sub, command)
    cli_privacy.add_commands(sub, command)
    return parser


def _emit(args, rows: list[dict], columns: list[str], document=None) -> None:
    if getattr(args, "json", False):
        print(json.dumps(rows if document is None else document, indent=2, default=str))
        return
    if not rows:
        print("(none)")
        return
    table = [
        [str(row.get(c, "") if row.get(c) is not None else "") for c in columns] for row in rows
    ]
    widths = [max(len(c), *(len(r[i][:60]) for r in table)) for i, c in enumerate(columns)]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in table:
        print("  ".join(v[:60].ljust(w) for v, w in zip(row, widths, strict=True)))


def _init(gw: Gateway, args) -> int:
    gw.init()
    print(f"database ready: {gw.config.database_url}")
    return 0


def _serve(gw: Gateway, args) -> int:
    gw.init()
    gw.serve_forever(args.role)
    return 0


def _schema(gw, args) -> int:
    sys.stdout.write(store_db.schema_sql())
    return 0


def _department_add(gw: Gateway, args) -> int:
    with gw.db.write() as session:
        if directory.department_by_name(session, args.name):
            print(f"department {args.name!r} already exists", file=sys.stderr)
            return 1
        directory.add_department(session, args.name, utc_now())
    print(f"department {args.name} added")
    return 0


def _department_list(gw: Gateway, args) -> int:
    with gw.db.read() as session:
        rows = [{"id": d.id, "name": d.name} for d in directory.list_departments(session)]
    _emit(args, rows, ["id", "name"])
    return 0


def _staff_add(gw: Gateway, args) -> int:
    with gw.db.write() as session:
        department_id = None
        if args.department:
            department = directory.department_by_name(session, args.department)
            if department is None:
                print(f"no department named {args.department!r}", file=sys.stderr)
                return 1
            department_id = department.id
        if repo.find_staff(session, args.email):
            print(f"staff {args.email} already exists", file=sys.stderr)
            return 1
        directory.add_staff(
            session,
            email=args.email,
            name=args.name,
            department_id=department_id,
            role="manager" if args.manager else "agent",
            now=utc_now(),
        )
    print(f"staff {args.email} added")
    return 0


def _staff_list(gw: Gateway, args) -> int:
    with gw.db.read() as session:
        rows = [
            {"email": s.email, "name": s.name, "role": s.role, "department_id": s.department_id}
            for s in directory.list_staff(session)
        ]
    _emit(args, rows, ["email", "name", "role", "department_id"])
    return 0


def _contacts_import(gw: Gateway, args) -> int:
    try:
        text = Path(args.file).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        print(f"cannot read {args.file}: {error}", file=sys.stderr)
        return 1
    rows, errors = read_contacts(text)
    if errors:
        for error in errors:
            print(f"{args.file}: {error}", file=sys.stderr)
        print("nothing imported", file=sys.stderr)
        return 1
    now, created = utc_now(), 0
    with gw.db.write() as session:
        for row in rows:
            parent = None
            if row.reseller:
                parent = directory.get_or_create_account(session, row.reseller, now).id
            account = directory.get_or_create_account(session, row.account, now, parent)
            _, new = directory.upsert_contact(
                session,
                email=row.email,
                name=row.name,
                account_id=account.id,
                role=row.role,
                language=row.language,
                now=now,
            )
            created += new
    print(f"imported {len(rows)} contacts ({created} new, {len(rows) - created} updated)")
    return 0


def _contacts_list(gw: Gateway, args) -> int:
    with gw.db.read() as session:
        rows = [
            {"email": c.email, "name": c.name, "account": account, "role": c.role,
             "language": c.language}
            for c, account in directory.list_contacts(session)
        ]  # fmt: skip
    cli_privacy.audit(gw, "contacts list", rows=len(rows))
    _emit(args, rows, ["email", "name", "account", "role", "language"])
    return 0


def _tickets_list(gw: Gateway, args) -> int:
    with gw.db.read() as session:
        rows = [
            {"number": t.id, "status": t.status, "category": t.category, "requester": email,
             "subject": t.subject, "created_at": t.created_at, "sla_due_at": t.sla_due_at}
            for t, email in repo.list_tickets(session, args.status, args.limit)
        ]  # fmt: skip
    cli_privacy.audit(gw, "tickets list", rows=len(rows))
    _emit(args, rows, ["number", "status", "category", "requester", "subject", "created_at"])
    return 0


def _tickets_show(gw: Gateway, args) -> int:
    from gateway.ticket_view import print_ticket, ticket_document

    with gw.db.read() as session:
        document = ticket_document(session, args.number)
    if document is None:
        print(f"no ticket #{args.number}", file=sys.stderr)
        return 1
    cli_privacy.audit(gw, "tickets show", ticket_id=args.number)
    if args.json:
        print(json.dumps(document, indent=2, default=str, ensure_ascii=False))
    else:
        print_ticket(document, gw.config.company.tag)
    return 0


def _held_list(gw: Gateway, args) -> int:
    with gw.db.read() as session:
        rows = [
            {"id": q.id, "inbound_id": q.inbound_id, "created_at": q.created_at,
             "sender": q.sender, "reason": q.reason, "detail": q.detail}
            for q in repo.list_quarantine(session, args.limit)
        ]  # fmt: skip
    _emit(args, rows, ["id", "inbound_id", "created_at", "sender", "reason", "detail"])
    return 0


def _inbound_list(gw: Gateway, args) -> int:
    with gw.db.read() as session:
        rows = [
            {"id": r.id, "received_at": r.received_at, "source": r.source,
             "mail_from": r.mail_from, "message_id": r.message_id, "size": r.size,
             "status": r.status, "error": r.error}
            for r in repo.list_inbound(session, args.status, args.limit)
        ]  # fmt: skip
    _emit(args, rows, ["id", "received_at", "source", "mail_from", "size", "status", "error"])
    return 0


def _inbound_retry(gw: Gateway, args) -> int:
    with gw.db.write() as session:
        count = repo.retry_failed_inbound(session, args.ids)
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
    _emit(args, rows, ["id", "created_at", "kind", "ticket", "to", "status", "attempts"])
    return 0


def _bounces_list(gw: Gateway, args) -> int:
    from gateway.store import mailflow

    with gw.db.read() as session:
        rows = [
            {"address": b.address, "since": b.since, "status": b.status,
             "diagnostic": b.diagnostic, "outbox_id": b.outbox_id}
            for b in mailflow.list_bouncing(session)
        ]  # fmt: skip
    _emit(args, rows, ["address", "since", "status", "diagnostic"])
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


if __name__ == "__main__":
    raise SystemExit(main())
