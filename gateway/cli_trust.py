"""`gateway accounts add|show` and `gateway approvals show`: resellers, roles and written proof.

`approvals show N` prints, for ticket N, each permission request with its exact text, who
asked, and the evidence of the answer (or of answers that were refused and why).
"""

from __future__ import annotations

import json
import sys

from gateway.cli_values import one_line
from gateway.core import permissions
from gateway.core.threads import subject_tag
from gateway.store import accounts, repo
from gateway.store import approvals as approval_store


def add_commands(sub, command) -> None:
    group = sub.add_parser("accounts", help="customer accounts and resellers").add_subparsers()
    p = command("add", _accounts_add, "add an account, optionally a reseller's client", group)
    p.add_argument("name", type=one_line)
    p.add_argument("--reseller", help="the reseller account this one is a client of")
    p = command("show", _accounts_show, "an account's contacts, roles and clients", group)
    p.add_argument("name")
    p.add_argument("--json", action="store_true")

    group = sub.add_parser("approvals", help="written permission requests").add_subparsers()
    p = command("show", _approvals_show, "the requests of ticket N with their proof", group)
    p.add_argument("number", type=int)
    p.add_argument("--json", action="store_true")


def _accounts_add(gw, args) -> int:
    from gateway.app import utc_now

    with gw.db.write() as session:
        error = accounts.add_account(session, args.name, args.reseller, utc_now())
    if error:
        print(f"gateway: {error}", file=sys.stderr)
        return 1
    suffix = f" (client of {args.reseller})" if args.reseller else ""
    print(f"account {args.name} added{suffix}")
    return 0


def _accounts_show(gw, args) -> int:
    with gw.db.read() as session:
        account = accounts.account_by_name(session, args.name)
        if account is None:
            print(f"gateway: no account named {args.name!r}", file=sys.stderr)
            return 1
        parent = session.get(type(account), account.parent_id) if account.parent_id else None
        document = {
            "name": account.name,
            "reseller": parent.name if parent else None,
            "clients": [c.name for c in accounts.clients_of(session, account.id)],
            "contacts": [
                {"email": c.email, "name": c.name, "role": c.role, "language": c.language}
                for c in accounts.contacts_of(session, account.id)
            ],
        }
    if args.json:
        print(json.dumps(document, indent=2, ensure_ascii=False))
        return 0
    print(f"account {document['name']}" + (f" (client of {parent.name})" if parent else ""))
    if document["clients"]:
        print("clients: " + ", ".join(document["clients"]))
    for contact in document["contacts"]:
        rights = _rights(contact["role"])
        print(f"  {contact['role']:<6} {contact['email']}  {contact['name']}  ({rights})")
    if not document["contacts"]:
        print("  (no contacts)")
    return 0


def _rights(role: str) -> str:
    may = [
        a.name.lower().replace("_", "-") for a, r in permissions.TABLE.items() if role in r.roles
    ]
    return "may " + ", ".join(may)


def _approvals_show(gw, args) -> int:
    with gw.db.read() as session:
        ticket = repo.get_ticket(session, args.number)
        if ticket is None:
            print(f"gateway: no ticket #{args.number}", file=sys.stderr)
            return 1
        requests = [_request_document(r) for r in approval_store.for_ticket(session, ticket.id)]
        refused = [
            {"at": e.at, "actor": e.actor, **json.loads(e.detail)}
            for e in repo.ticket_events(session, ticket.id)
            if e.kind == "permission-answer-refused"
        ]
    document = {"ticket": ticket.id, "requests": requests, "refused_answers": refused}
    if args.json:
        print(json.dumps(document, indent=2, default=str, ensure_ascii=False))
        return 0
    print(f"{subject_tag(gw.config.company.tag, ticket.id)} permission requests")
    if not requests:
        print("  (none)")
    for item in requests:
        _print_request(item, [r for r in refused if r.get("approval") == item["id"]])
    return 0


def _request_document(row) -> dict:
    return {
        "id": row.id,
        "question": row.question,
        "asked_by": row.asked_by,
        "asked_at": row.asked_at,
        "expires_at": row.expires_at,
        "status": row.status,
        "decided_at": row.decided_at,
        "decided_by": row.decided_by,
        "via": row.via,
        "evidence": {
            "message_id": row.evidence_message_id,
            "verdict": row.evidence_verdict,
            "sha256": row.evidence_sha256,
            "detail": json.loads(row.evidence_detail or "{}"),
        },
    }


def _print_request(item: dict, refused: list[dict]) -> None:
    print()
    print(f"request #{item['id']}: {item['status'].upper()}")
    print(f"  asked by   {item['asked_by']} at {item['asked_at']} (expires {item['expires_at']})")
    print("  request    " + item["question"])
    if item["status"] != "pending":
        evidence = item["evidence"]
        print(f"  answer     {item['status']} by {item['decided_by']} at {item['decided_at']}")
        print(f"  via        {item['via']}")
        if evidence["message_id"]:
            print(f"  message-id {evidence['message_id']}")
        print(f"  verdict    {evidence['verdict']}")
        label = "raw sha256" if item["via"] == "mail" else "link sha256"
        print(f"  {label:<10} {evidence['sha256']}")
    for attempt in refused:
        print(f"  refused    {attempt['at']} {attempt['actor']}: {attempt.get('reason')}")
        print(f"             verdict {attempt.get('verdict')}; sha256 {attempt.get('sha256')}")
