"""Every query the gateway asks as mail flows reads through an index, so a mail costs the same
on a database of ten years as on a new one. A query that reads a whole table of tickets,
messages or mail looks fine in tests and on a new installation, and then slows every mail
down as the tables grow (the threading query once did: without an index on the Message-ID a
customer's mail client quotes, each reply read every message).

SQLite's plans are asked for each statement as it runs, through a whole day of a ticket:
requests, replies threaded by token, references and tag, staff replies, notes and commands,
delivery, and the frequent timed jobs at moments that make them act. (The weekly report reads
the week's tickets once a week and is left out.) Reading through an index that narrows a
growing table by too little (all events of a kind, all mail ever sent to one address) counts
as reading it whole; so does reading every closed ticket through the status.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from conftest import add_contact, mail
from sqlalchemy import event
from test_staff_flow import add_staff, last, staff_mail

from gateway import jobs

# Tables that grow with the mail; a scan of staff, departments or accounts stays small.
GROWING = {
    "ticket", "message", "outbox", "inbound", "event", "attachment", "blob", "contact",
    "quarantine", "rating", "approval", "complaint",
}  # fmt: skip
_SCAN = re.compile(r"\bSCAN (\w+)")
# Reads in a plan that narrow a growing table by too little to be read through alone.
# SQLite has no statistics: it takes any index matching a term, however many rows it leaves.
TOO_WIDE = {
    "INDEX ix_event_kind (": "every event of that kind ever written",
    "INDEX ix_outbox_recipient_key (": "everything ever sent to that address",
    "(category=?)": "every ticket of that category ever",
    "(pending_since=?)": "every ticket not paused (asked IS NULL)",
}
# Statuses that tickets keep for good: a read through the status alone is all of history.
FINAL_STATUSES = {"closed"}


def too_wide(plan: list[str], parameters) -> list[str]:
    """What each read of the plan through a too-wide index would read."""
    wide = [what for line in plan for part, what in TOO_WIDE.items() if part in line]
    if any(line.endswith("(status=?)") for line in plan) and FINAL_STATUSES & set(parameters):
        wide.append("every closed ticket ever")
    return wide


@pytest.fixture
def plans(start_gateway):
    gw = start_gateway(
        auth={"trusted_authserv_ids": ("mx.support.example",)},
        routing={"default_department": "Support"},
        complaints={"levels": ("boss@support.example",), "keywords": ("unacceptable",)},
        lifecycle={"forget_closed_days": 1},  # so the retention job asks its questions too
    )
    seen: dict[str, list[str]] = {}
    asked: dict[str, tuple] = {}  # each statement's first parameters

    def ask_plan(conn, cursor, statement, parameters, context, executemany):
        if statement in seen or not statement.lstrip().upper().startswith(
            ("SELECT", "UPDATE", "DELETE", "WITH")
        ):
            return
        one = parameters[0] if executemany else parameters
        rows = cursor.connection.execute(f"EXPLAIN QUERY PLAN {statement}", one)
        seen[statement] = [row[-1] for row in rows.fetchall()]
        asked[statement] = tuple(one.values() if isinstance(one, dict) else one)

    for engine in {gw.db.writer, gw.db.reader}:
        event.listen(engine, "after_cursor_execute", ask_plan)
    return gw, seen, asked


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_no_query_reads_a_whole_growing_table(plans, clock):
    gw, seen, asked = plans
    add_contact(gw.db, "alice@customer.example", name="Alice", account="Alice Co")
    add_contact(gw.db, "ops@customer.example", name="Ops", account="Alice Co")
    add_staff(gw.db, "agent@support.example", "Sam Agent")
    add_staff(gw.db, "boss@support.example", "Mo Manager", manager=True)

    gw.send(mail(subject="Site down", body="My site is down.", Cc="ops@customer.example"))
    gw.settle()
    confirmation = last(gw, "alice@customer.example").message
    notification = last(gw, "agent@support.example")
    gw.send(staff_mail(notification, "/assign me\n\nWe are looking into it."))
    gw.send(staff_mail(notification, "Disk full again.", subject="[note] disk"))
    gw.settle()
    relayed = last(gw, "alice@customer.example").message
    token_address = confirmation["Reply-To"].addresses[0].addr_spec
    gw.send(mail(subject="Re: Site down", body="Still down.", to=token_address))
    gw.send(mail(subject="Re: it", body="Thanks.", In_Reply_To=relayed["Message-ID"]))
    gw.send(mail(subject=f"{confirmation['Subject']} again", body="And now?"))
    gw.send(mail(sender="stranger@elsewhere.example", subject="Hello", body="Who are you?"))
    gw.settle()
    gw.send(staff_mail(notification, "/status pending\n\nPlease try again now."))
    gw.send(mail(subject="Complaint", body="Nobody answers.", to="complaints@support.example"))
    gw.send(mail(subject="Re: Site down", body="This is unacceptable.", to=token_address))
    gw.settle()

    for later in (timedelta(0), timedelta(hours=2), timedelta(days=3), timedelta(days=17)):
        clock.advance(seconds=later.total_seconds())
        for name in jobs.FREQUENT:
            gw.gw.jobs.run(name)
        gw.settle()

    assert len(seen) > 40  # the day above asked many different questions
    assert any("complaint.escalated_at <=" in s for s in seen)  # escalations were looked for
    assert any("message.created_at >=" in s for s in seen)  # and complaint words
    assert any("ticket.forgotten_at IS NULL" in s for s in seen)  # and tickets past retention
    scans = [
        " ".join(statement.split()) + f"\n    plan: {plan}"
        for statement, plan in seen.items()
        if any(table in GROWING for line in plan for table in _SCAN.findall(line))
    ]
    assert not scans, "queries reading a whole table:\n" + "\n".join(scans)
    wide = [
        " ".join(statement.split()) + f"\n    reads {what}: {plan}"
        for statement, plan in seen.items()
        for what in too_wide(plan, asked[statement])
    ]
    assert not wide, "queries reading through an index that narrows too little:\n" + "\n".join(wide)
