"""`gateway privacy export|erase|correct` and `gateway keys rotate|status`.

Every command that shows or changes personal data writes an audit-log event naming the OS user
who ran it (`os:<user>`), when and what; `audit` is also called by the `tickets` and `contacts`
commands.
"""

from __future__ import annotations

import getpass
import json
import os
import sys

from gateway import privacy
from gateway.cli_values import one_line
from gateway.store import directory

LANGUAGES = ("en", "fr")


def add_commands(sub, command) -> None:
    group = sub.add_parser("privacy", help="a contact's data: export, correct, erase")
    group = group.add_subparsers()
    p = command("export", _export, "write a contact's data to a zip archive", group)
    p.add_argument("email")
    p.add_argument("--output", required=True, help="FILE.zip (created owner-readable only)")
    p = command("erase", _erase, "erase a contact: their data key is destroyed", group)
    p.add_argument("email")
    p = command("correct", _correct, "correct a contact's name or language", group)
    p.add_argument("email")
    p.add_argument("--name", type=one_line)
    p.add_argument("--language", choices=LANGUAGES)

    group = sub.add_parser("keys", help="the master keys that wrap the data keys")
    group = group.add_subparsers()
    command("rotate", _rotate, "add a master key, re-wrap every data key, retire the old", group)
    command("status", _status, "master keys and the data keys each wraps", group).add_argument(
        "--json", action="store_true"
    )


def os_actor() -> str:
    try:
        return f"os:{getpass.getuser()}"
    except (KeyError, OSError):
        return f"os:uid-{os.getuid()}"


def audit(gw, what: str, **detail) -> None:
    """Record that the person at the command line looked at personal data."""
    with gw.db.write() as session:
        privacy.audit(session, gw.clock(), os_actor(), what, **detail)


def _contact(session, email: str):
    contact = directory.contact_by_email(session, email)
    if contact is None or contact.erased_at is not None:
        print(f"no contact {email}", file=sys.stderr)
        return None
    return contact


def _export(gw, args) -> int:
    now = gw.clock()
    with gw.db.write() as session:
        contact = _contact(session, args.email)
        if contact is None:
            return 1
        archive = privacy.export_archive(session, contact, now)
        privacy.audit(session, now, os_actor(), "export", contact_id=contact.id)
    fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(archive)
    print(f"exported {args.email} to {args.output} ({len(archive)} bytes)")
    return 0


def _erase(gw, args) -> int:
    with gw.db.write() as session:
        contact = _contact(session, args.email)
        if contact is None:
            return 1
        done = privacy.erase(session, contact, gw.clock(), os_actor())
    print(
        f"erased {args.email}: data key destroyed; {done['events']} audit entries, "
        f"{done['outbox_cancelled']} unsent mails and {done['outbox']} sent mails de-identified"
    )
    return 0


def _correct(gw, args) -> int:
    changes = [(f, v) for f, v in (("name", args.name), ("language", args.language)) if v]
    if not changes:
        print("nothing to correct: give --name and/or --language", file=sys.stderr)
        return 2
    with gw.db.write() as session:
        contact = _contact(session, args.email)
        if contact is None:
            return 1
        for field, value in changes:
            privacy.correct(session, contact, field, value, gw.clock(), os_actor())
    print(f"corrected {', '.join(f for f, _ in changes)} of {args.email}")
    return 0


def _rotate(gw, args) -> int:
    """Online: running gateways pick up the new key file at their next use of it; data keys
    stay readable under either key until the re-wrap is complete, then the old are retired."""
    vault = gw.db.vault
    old = vault.keys.ids()
    new = vault.keys.add()
    moved = _rewrap_all(gw)
    retired = vault.keys.retire_others()
    moved += _rewrap_all(gw)  # any key wrapped by a process that had not yet seen the new one
    audit(gw, "keys rotate", new=new, retired=retired)
    print(f"new master key {new}; {moved} data keys re-wrapped; retired {', '.join(old)}")
    return 0


def _rewrap_all(gw) -> int:
    moved = 0
    while True:
        with gw.db.write() as session:
            count = gw.db.vault.rewrap(session.connection())
        moved += count
        if count == 0:
            return moved


def _status(gw, args) -> int:
    vault = gw.db.vault
    with gw.db.read() as session:
        counts = vault.keys_under(session.connection())
    current = vault.keys.current()[0]
    document = {
        "key_file": str(vault.keys.path),
        "current": current,
        "master_keys": {k: counts.get(k, 0) for k in vault.keys.ids()},
        "data_keys_under_missing_master_keys": {
            k: n for k, n in counts.items() if k not in vault.keys.ids()
        },
    }
    if getattr(args, "json", False):
        print(json.dumps(document, indent=2))
    else:
        for key_id, count in document["master_keys"].items():
            mark = " (current)" if key_id == current else ""
            print(f"{key_id}{mark}: wraps {count} data keys")
    return 0
