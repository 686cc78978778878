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

from gateway import cli_held, cli_mail, cli_privacy, cli_timed, cli_trust
from gateway import config as config_module
from gateway.app import Gateway, utc_now
from gateway.app_serving import ROLES, SPLIT
from gateway.cli_output import emit
from gateway.contacts_import import read_contacts
from gateway.edges import children
from gateway.store import db as store_db
from gateway.store import directory, repo


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
    except store_db.UpgradeRefused as error:
        print(f"gateway: cannot upgrade the database: {error}", file=sys.stderr)
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
        choices=(SPLIT, *ROLES),
        default=SPLIT,
        help="split (default): the listener (SMTP, IMAP, web) in this process, the processor "
        "(processing, scheduler) and the delivery (sending the outbox) in child processes; "
        "all: everything in one process; listener, processor or delivery: that part only; "
        "smtp: an extra SMTP listener, which `smtp.processes` starts",
    )
    # A child of `gateway serve`: stopped by its stdin closing (edges/children.py).
    serve.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    command("schema", _schema, "print the SQL schema generated from the models")

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

    cli_mail.add_commands(sub, command)
    cli_held.add_commands(sub, command)
    cli_timed.add_commands(sub, command)
    cli_trust.add_commands(sub, command)
    cli_privacy.add_commands(sub, command)
    return parser


def _init(gw: Gateway, args) -> int:
    gw.init()
    print(f"database ready: {gw.config.database_url}")
    return 0


def _serve(gw: Gateway, args) -> int:
    gw.init()
    if args.child:
        gw.serve_forever(args.role, as_child=True)
        return 0
    role, companion, deliverer = args.role, None, None
    if role == SPLIT:
        role = "listener"
        deliverer = children.Child("delivery", _child_command(args, "delivery"))
        companion = children.Child("processor", _child_command(args, "processor"),
                                   on_output=deliverer.wake)  # fmt: skip
    listeners = []
    if role in ("all", "listener"):  # this process is the first of `smtp.processes`
        listeners = [
            children.Child(f"smtp listener {n}", _child_command(args, "smtp"),
                           on_output=gw.mail_committed)
            for n in range(1, gw.config.smtp.processes)
        ]  # fmt: skip
    gw.serve_forever(role, companion=companion, listeners=listeners, deliverer=deliverer)
    return 0


def _child_command(args, role: str) -> list[str]:
    """This same program in another role, as a child of this one."""
    config = _config_path(args.config)
    command = [sys.executable, "-m", "gateway.cli"]
    if config is not None:
        command += ["--config", str(config.resolve())]
    return [*command, "serve", "--role", role, "--child"]


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
    emit(args, rows, ["id", "name"])
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
    emit(args, rows, ["email", "name", "role", "department_id"])
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
    emit(args, rows, ["email", "name", "account", "role", "language"])
    return 0


def _tickets_list(gw: Gateway, args) -> int:
    with gw.db.read() as session:
        rows = [
            {"number": t.id, "status": t.status, "category": t.category, "requester": email,
             "subject": t.subject, "created_at": t.created_at, "sla_due_at": t.sla_due_at}
            for t, email in repo.list_tickets(session, args.status, args.limit)
        ]  # fmt: skip
    cli_privacy.audit(gw, "tickets list", rows=len(rows))
    emit(args, rows, ["number", "status", "category", "requester", "subject", "created_at"])
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


if __name__ == "__main__":
    raise SystemExit(main())
