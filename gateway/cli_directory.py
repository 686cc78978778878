"""Who the gateway knows: departments, staff members (added, on and off duty) and customer
contacts (imported from CSV)."""

from __future__ import annotations

import sys
from pathlib import Path

from gateway import cli_privacy, held_commands
from gateway.app import Gateway, utc_now
from gateway.cli_output import emit
from gateway.cli_values import address, one_line
from gateway.contacts_import import read_contacts
from gateway.store import directory, repo


def add_commands(sub, command) -> None:
    group = sub.add_parser("departments", help="departments").add_subparsers()
    command("add", _department_add, "add a department", group).add_argument("name", type=one_line)
    command("list", _department_list, "list departments", group).add_argument(
        "--json", action="store_true"
    )

    group = sub.add_parser("staff", help="staff members").add_subparsers()
    p = command("add", _staff_add, "add a staff member", group)
    p.add_argument("email", type=address)
    p.add_argument("--name", required=True, type=one_line)
    p.add_argument("--department")
    p.add_argument("--manager", action="store_true")
    command("list", _staff_list, "list staff", group).add_argument("--json", action="store_true")
    command("deactivate", _staff_deactivate, "a member who left: no mail, no commands, their "
            "tickets back to the department", group).add_argument("email")  # fmt: skip
    command("activate", _staff_activate, "a member back on duty", group).add_argument("email")

    group = sub.add_parser("contacts", help="customer contacts").add_subparsers()
    command("import", _contacts_import, "import contacts from CSV", group).add_argument("file")
    command("list", _contacts_list, "list contacts", group).add_argument(
        "--json", action="store_true"
    )
    command("deactivate", _contacts_deactivate, "a contact who left the customer: mail held, "
            "none sent to them, no approvals", group).add_argument("email")  # fmt: skip
    command("activate", _contacts_activate, "a contact back again", group).add_argument("email")


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
            {"email": s.email, "name": s.name, "role": s.role, "department_id": s.department_id,
             "active": s.active, "away_since": s.away_since}
            for s in directory.list_staff(session)
        ]  # fmt: skip
    emit(args, rows, ["email", "name", "role", "department_id", "active", "away_since"])
    return 0


def _staff_deactivate(gw: Gateway, args) -> int:
    """Their mail is then a stranger's (no command runs, nothing is relayed), they are told of
    nothing, and each ticket they held, not closed, goes back to its department unassigned
    (an event on it says why): the next mail on it reaches the department."""
    return _staff_set_active(gw, args.email, False)


def _staff_activate(gw: Gateway, args) -> int:
    return _staff_set_active(gw, args.email, True)


def _staff_set_active(gw: Gateway, email: str, active: bool) -> int:
    now, actor = gw.clock(), cli_privacy.os_actor()
    with gw.db.write() as session:
        member, released = directory.set_staff_active(session, email, active)
        if member is None:
            print(f"no staff member {email}", file=sys.stderr)
            return 1
        repo.add_event(session, now, "staff-activated" if active else "staff-deactivated",
                       actor=actor, detail={"staff": member.email})  # fmt: skip
        for number in released:
            repo.add_event(session, now, "unassigned", ticket_id=number, actor=actor,
                           detail={"staff": member.email, "why": "staff deactivated"})  # fmt: skip
    unassigned = f"; tickets unassigned: {released}" if released else ""
    print(f"staff {member.email} {'active' if active else 'deactivated'}{unassigned}")
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
             "language": c.language, "active": c.active}
            for c, account in directory.list_contacts(session)
        ]  # fmt: skip
    cli_privacy.audit(gw, "contacts list", rows=len(rows))
    emit(args, rows, ["email", "name", "account", "role", "language", "active"])
    return 0


def _contacts_deactivate(gw: Gateway, args) -> int:
    """Their mail is then held as a stranger's (reason `contact-deactivated`), no mail of the
    customer's tickets is sent to them (each withheld mail leaves an event), and they may no
    longer approve a permission request, by mail or by link. Their history stays (erasure is
    `gateway privacy erase`)."""
    return _contacts_set_active(gw, args.email, False)


def _contacts_activate(gw: Gateway, args) -> int:
    return _contacts_set_active(gw, args.email, True)


def _contacts_set_active(gw: Gateway, email: str, active: bool) -> int:
    now, actor = gw.clock(), cli_privacy.os_actor()
    with gw.db.write() as session:
        contact, opened = held_commands.set_contact_active(session, email, active, actor, now)
        if contact is None:
            print(f"no contact {email}", file=sys.stderr)
            return 1
    print(f"contact {email.lower()} {'active' if active else 'deactivated'}")
    if opened and not active:
        print(f"tickets they opened, not closed (replies reach only those in copy): {opened}")
    return 0
