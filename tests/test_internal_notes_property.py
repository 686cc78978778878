"""Property: internal notes never reach a customer, whatever staff and customers do.

Hypothesis generates sequences of customer mails, staff replies (quoting the notification they
answer, in several client styles), internal notes, replies to note notifications, merges, CC
changes and other commands. Every note carries a unique canary. After each step, every new mail
addressed to a customer is decoded part by part and must hold no canary, and must be for a
ticket its recipient participates in.
"""

from __future__ import annotations

import secrets
import tempfile
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from conftest import make_config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from gateway.app import Gateway
from gateway.core.model import Envelope
from gateway.intake import RawMail, accept
from gateway.store import directory, staffing
from gateway.store.tables import Outbox, Ticket

AUTH = "mx.support.example; dmarc=pass header.from=support.example"
CONTACTS = [("a1@alpha.example", "Alpha"), ("a2@alpha.example", "Alpha"),
            ("b1@beta.example", "Beta"), ("b2@beta.example", "Beta")]  # fmt: skip
STAFF = ["sam@support.example", "kim@support.example"]

ticket_index = st.integers(0, 5)
operation = st.one_of(
    st.tuples(st.just("customer_new"), st.integers(0, 3)),
    st.tuples(st.just("customer_reply"), st.integers(0, 3), ticket_index,
              st.sampled_from(["token", "tag", "reference"])),
    st.tuples(st.just("staff_reply"), st.integers(0, 1), ticket_index,
              st.sampled_from(["none", "gt", "outlook", "pasted"])),
    st.tuples(st.just("staff_note"), st.integers(0, 1), ticket_index,
              st.sampled_from(["slash", "subject"])),
    st.tuples(st.just("note_reply"), st.integers(0, 1), ticket_index, st.booleans()),
    st.tuples(st.just("command"), st.integers(0, 1), ticket_index,
              st.sampled_from(["merge", "cc_add", "cc_remove", "resolve", "assign", "show"]),
              st.integers(0, 5)),
)  # fmt: skip


class World:
    """A gateway on a fresh SQLite database, driven without sockets."""

    def __init__(self, folder: Path):
        config = make_config(folder, f"sqlite:///{folder / 'db.sqlite'}",
                             auth={"trusted_authserv_ids": ("mx.support.example",)})  # fmt: skip
        self.now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
        self.gw = Gateway(config, clock=lambda: self.now)
        self.gw.init()
        self.canaries: list[str] = []
        self.seen_outbox = 0
        self.counter = 0
        with self.gw.db.write() as session:
            for email, account in CONTACTS:
                acct = directory.get_or_create_account(session, account, self.now)
                directory.upsert_contact(session, email=email, name="", account_id=acct.id,
                                         role="owner", language="en", now=self.now)  # fmt: skip
            dept = directory.add_department(session, "Support", self.now)
            for email in STAFF:
                directory.add_staff(session, email=email, name=email.split("@")[0].title(),
                                    department_id=dept.id, role="agent", now=self.now)  # fmt: skip

    def deliver(self, raw: bytes, sender: str, to: str) -> None:
        self.now += timedelta(minutes=1)
        self.counter += 1
        accept(self.gw.db, [RawMail(raw, Envelope(sender, (to,)))], self.now, "support.example")
        while self.gw.processor.run_once()[0]:
            pass

    def mail(self, sender, to, subject, body, *, headers=()) -> bytes:
        lines = [f"From: {sender}", f"To: {to}", f"Subject: {subject}",
                 f"Message-ID: <m{secrets.token_hex(8)}@{sender.split('@')[1]}>",
                 "Date: Mon, 23 Nov 2026 09:00:00 +0000", *headers,
                 "Content-Type: text/plain; charset=utf-8", "", body]  # fmt: skip
        return "\r\n".join(lines).encode()

    def tickets(self) -> list[Ticket]:
        with self.gw.db.read() as session:
            return list(session.exec(select(Ticket).order_by(Ticket.id)))

    def pick(self, index: int) -> Ticket | None:
        tickets = self.tickets()
        return tickets[index % len(tickets)] if tickets else None

    def latest_to(self, address: str, ticket_id: int, kinds: tuple[str, ...]) -> Outbox | None:
        with self.gw.db.read() as session:
            rows = session.exec(
                select(Outbox).where(Outbox.ticket_id == ticket_id, Outbox.recipient_key == address)
                .where(Outbox.kind.in_(kinds)).order_by(Outbox.id.desc())
            ).all()  # fmt: skip
        return rows[0] if rows else None

    def staff_answer(self, staff: str, ticket: Ticket, body: str, kinds, subject_extra="",
                     edited=False):  # fmt: skip
        """`edited`: the staff member took `[note]` out of the subject."""
        answered = self.latest_to(staff, ticket.id, kinds)
        if answered is None:
            return
        original = message_from_bytes(answered.raw, policy=policy.default)
        headers = (f"In-Reply-To: {answered.message_id}", f"Authentication-Results: {AUTH}")
        subject = f"Re: {subject_extra}{original['Subject']}"
        subject = subject.replace(" [note]", "") if edited else subject
        quoted = original.get_body(preferencelist=("plain",)).get_content()
        raw = self.mail(staff, "support@support.example", subject, body.replace("{q}", quoted),
                        headers=headers)  # fmt: skip
        self.deliver(raw, staff, "support@support.example")


def run_operation(world: World, op: tuple) -> None:
    kind = op[0]
    if kind == "customer_new":
        sender = CONTACTS[op[1]][0]
        world.deliver(world.mail(sender, "support@support.example", f"Request {world.counter}",
                                 "Customer words"), sender, "support@support.example")  # fmt: skip
        return
    ticket = world.pick(op[2])
    if ticket is None:
        return
    if kind == "customer_reply":
        sender, via = CONTACTS[op[1]][0], op[3]
        to = (
            f"support+{ticket.reply_token}@support.example"
            if via == "token"
            else "support@support.example"
        )  # noqa: E501
        subject = f"Re: [VB #{ticket.id}] x" if via == "tag" else "Re: x"
        headers = ()
        if via == "reference":
            row = world.latest_to(sender, ticket.id, ("confirmation", "reply"))
            headers = (f"In-Reply-To: {row.message_id}",) if row else ()
        world.deliver(world.mail(sender, to, subject, "More customer words", headers=headers),
                      sender, to)  # fmt: skip
        return
    staff = STAFF[op[1]]
    customer_kinds = ("staff-new-ticket", "staff-follow-up", "staff-transfer")
    if kind == "staff_reply":
        body = {
            "none": "Public answer.",
            "gt": "Public answer.\n\nOn Mon, Support wrote:\n{q_gt}",
            "outlook": "Public answer.\n\nFrom: Support <support@support.example>\n"
            "Sent: Monday, 23 November 2026 09:00\nTo: Staff\nSubject: ticket\n\n{q}",
            "pasted": "Public answer.\n\n{q}",
        }[op[3]]
        answered = world.latest_to(staff, ticket.id, customer_kinds)
        if answered is not None:
            text = message_from_bytes(answered.raw, policy=policy.default)
            quoted = text.get_body(preferencelist=("plain",)).get_content()
            body = body.replace("{q_gt}", "\n".join("> " + line for line in quoted.splitlines()))
        world.staff_answer(staff, ticket, body, customer_kinds)
    elif kind == "staff_note":
        canary = f"CANARY-{secrets.token_hex(6)}"
        world.canaries.append(canary)
        if op[3] == "slash":
            world.staff_answer(staff, ticket, f"/note\n{canary} remark", customer_kinds)
        else:
            world.staff_answer(staff, ticket, f"{canary} remark", customer_kinds, "[note] ")
    elif kind == "note_reply":
        canary = f"CANARY-{secrets.token_hex(6)}"
        world.canaries.append(canary)
        world.staff_answer(staff, ticket, f"{canary} agreed", ("staff-note",), edited=op[3])
    elif kind == "command":
        other = world.pick(op[4])
        contact = CONTACTS[op[4] % len(CONTACTS)][0]
        line = {
            "merge": f"/merge {other.id}",
            "cc_add": f"/cc add {contact}",
            "cc_remove": f"/cc remove {contact}",
            "resolve": "/status resolved",
            "assign": "/assign me",
            "show": "/show",
        }[op[3]]
        world.staff_answer(staff, ticket, line, customer_kinds)


def decoded(raw: bytes) -> str:
    message = message_from_bytes(raw, policy=policy.default)
    parts = ["\n".join(f"{k}: {v}" for k, v in message.items())]
    for part in message.walk():
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True) or b""
        parts.append(payload.decode("utf-8", "replace"))
        parts.append(str(part.get_filename() or ""))
    return "\n".join(parts) + raw.decode("utf-8", "replace")


def check_new_mail(world: World) -> None:
    customers = {email for email, _ in CONTACTS}
    with world.gw.db.read() as session:
        rows = session.exec(select(Outbox).where(Outbox.id > world.seen_outbox)).all()
        for row in rows:
            world.seen_outbox = max(world.seen_outbox, row.id)
            if row.recipient_key not in customers:
                continue
            text = decoded(row.raw)
            leaked = [c for c in world.canaries if c in text]
            assert not leaked, f"internal note canary {leaked} in {row.kind} to {row.recipient_key}"
            assert row.ticket_id is not None, row.kind
            ticket = session.get(Ticket, row.ticket_id)
            people = {ticket.requester_id} | {c.id for c in staffing.ccs(session, ticket.id)}
            merged = session.exec(select(Ticket).where(Ticket.merged_into_id == ticket.id)).all()
            people |= {t.requester_id for t in merged}
            recipient = directory.contact_by_email(session, row.recipient_key)
            assert recipient.id in people, f"{row.kind} to non-participant {row.recipient_key}"


def reset(world: World) -> None:
    """Empty the tickets and mail between examples, keeping people (cheaper than a new DB)."""
    from sqlmodel import delete

    from gateway.store import tables

    with world.gw.db.write() as session:
        for table in (tables.Attachment, tables.Blob, tables.Message, tables.Watch,
                      tables.TicketCc, tables.Event, tables.Outbox, tables.Quarantine):  # fmt: skip
            session.exec(delete(table))
        session.exec(update_merged())
        session.exec(delete(tables.Ticket))
        session.exec(delete(tables.Inbound))
    world.canaries.clear()


def update_merged():
    from sqlalchemy import update

    return update(Ticket).values(merged_into_id=None)


@pytest.fixture(scope="module")
def world():
    with tempfile.TemporaryDirectory() as folder:
        shared = World(Path(folder))
        yield shared
        shared.gw.db.dispose()


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(operations=st.lists(operation, min_size=3, max_size=14))
def test_internal_notes_never_reach_customers(world, operations):
    reset(world)
    run_operation(world, ("customer_new", 0))
    for op in operations:
        run_operation(world, op)
        check_new_mail(world)
