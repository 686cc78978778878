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

from gateway import cli_directory, cli_held, cli_mail, cli_privacy, cli_timed, cli_trust
from gateway import config as config_module
from gateway.app import Gateway
from gateway.app_serving import ROLES, SPLIT
from gateway.cli_output import emit
from gateway.edges import children
from gateway.store import accounts, directory, repo
from gateway.store import db as store_db


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

    group = sub.add_parser("tickets", help="tickets").add_subparsers()
    p = command("list", _tickets_list, "list tickets", group)
    p.add_argument("--status")
    p.add_argument("--requester", metavar="EMAIL", help="only the tickets this contact opened")
    p.add_argument("--account", metavar="NAME", help="only this customer account's tickets")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--json", action="store_true")
    p = command("show", _tickets_show, "show one ticket with its whole thread", group)
    p.add_argument("number", type=int)
    p.add_argument("--json", action="store_true")

    cli_directory.add_commands(sub, command)
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


def _tickets_list(gw: Gateway, args) -> int:
    """Latest first; `--requester` and `--account` give a customer's whole history."""
    with gw.db.read() as session:
        where = {}
        if args.requester:
            contact = directory.contact_by_email(session, args.requester)
            where["requester_id"] = contact.id if contact else 0
        if args.account:
            account = accounts.account_by_name(session, args.account)
            if account is None:
                print(f"no account named {args.account!r}", file=sys.stderr)
                return 1
            where["account_id"] = account.id
        rows = [
            {"number": t.id, "status": t.status, "category": t.category, "requester": email,
             "subject": t.subject, "created_at": t.created_at, "sla_due_at": t.sla_due_at}
            for t, email in repo.list_tickets(session, args.status, args.limit, **where)
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
