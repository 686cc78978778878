"""`gateway held`: mail held instead of ticketed. `list` gives the reasons; `show` what a held
mail says and what releasing it would do now; `release` has it processed again once the cause
is mended (its sender registered as a contact since, a DNS record fixed)."""

from __future__ import annotations

import json
import sys

from gateway import cli_privacy, held_commands
from gateway.app import Gateway
from gateway.cli_output import emit
from gateway.core import lookalike
from gateway.store import spool


def add_commands(sub, command) -> None:
    group = sub.add_parser("held", help="held (quarantined) mail").add_subparsers()
    p = command("list", _list, "list held mail with the reason", group)
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--json", action="store_true")
    p = command("show", _show, "a held mail and what releasing it would do now", group)
    p.add_argument("id", type=int)
    p.add_argument("--json", action="store_true")
    p = command("release", _release, "process held mail again, as if just received", group)
    p.add_argument("ids", nargs="+", type=int)


def _list(gw: Gateway, args) -> int:
    with gw.db.read() as session:
        rows = [
            {"id": q.id, "inbound_id": q.inbound_id, "created_at": q.created_at,
             "sender": lookalike.shown(q.sender) if q.sender else "", "reason": q.reason,
             "detail": q.detail}
            for q in spool.list_quarantine(session, args.limit)
        ]  # fmt: skip
    emit(args, rows, ["id", "inbound_id", "created_at", "sender", "reason", "detail"])
    return 0


def _show(gw: Gateway, args) -> int:
    """The held row, and the real processing path run on its mail in a transaction rolled
    back (`gateway explain`): what a release would do with the contacts and tickets of now."""
    from gateway.explain import explain, render

    with gw.db.read() as session:
        found = spool.held_mail(session, args.id)
    if found is None:
        print(f"no held mail #{args.id}", file=sys.stderr)
        return 1
    held, inbound = found
    document = {
        "held": {"id": held.id, "inbound_id": held.inbound_id, "held_at": held.created_at,
                 "reason": held.reason, "detail": held.detail, "sender": held.sender,
                 "envelope_from": inbound.mail_from, "envelope_to": json.loads(inbound.rcpt_tos),
                 "received_at": inbound.received_at, "size": inbound.size},
    }  # fmt: skip
    rcpt_to = (json.loads(inbound.rcpt_tos) or [gw.config.company.support_address])[0]
    document["if_released"] = explain(gw.processor, inbound.raw, inbound.mail_from, rcpt_to,
                                      held_id=held.id)  # fmt: skip
    cli_privacy.audit(gw, "held show", held_id=held.id)
    if args.json:
        print(json.dumps(document, indent=2, default=str, ensure_ascii=False))
    else:
        print(render(document))
    return 0


def _release(gw: Gateway, args) -> int:
    """Each held mail back to the spool as pending; the processor takes it within its sweep,
    and a mail still not acceptable is held again with the reason of now. An event on the
    audit log says who released what, and why it had been held."""
    now, actor, failures = gw.clock(), cli_privacy.os_actor(), 0
    with gw.db.write() as session:
        for held_id in args.ids:
            found = spool.held_mail(session, held_id)
            if found is None:  # never held, released already, or forgotten
                print(f"#{held_id}: no such held mail", file=sys.stderr)
                failures += 1
                continue
            held_commands.release(session, *found, actor, now)
            print(f"#{held_id}: released; the processor takes it again (gateway inbound list)")
    return 1 if failures else 0
