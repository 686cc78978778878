"""The pure decision, table-driven: who may open, join or be told what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from gateway.core import threads
from gateway.core.decide import decide
from gateway.core.model import (
    Address,
    AddToTicket,
    AutoMailHistory,
    AutoSignals,
    Candidates,
    ContactInfo,
    DecisionInput,
    Envelope,
    Hold,
    OpenTicket,
    ParsedMail,
    Policy,
    Sender,
    SenderKind,
    TicketInfo,
)

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ALICE = ContactInfo(1, "alice@c.example", "Alice", account_id=10, role="owner", language="fr")
OTHER = ContactInfo(2, "bob@o.example", "Bob", account_id=20, role="owner", language="en")
TICKET = TicketInfo(7, "open", requester_id=1, account_id=10, reply_token="t" * 26, subject="x",
                    language="fr")  # fmt: skip


def parsed(subject="Hello", auto=AutoSignals(), sender="alice@c.example"):
    return ParsedMail(
        message_id="<m@c>", from_addresses=(Address("", sender),), to=(), cc=(),
        subject=subject, date=NOW, in_reply_to=(), references=(), text="hi", html="",
        attachments=(), auto=auto, received_count=1,
    )  # fmt: skip


def run(sender, *, mail=None, candidates=Candidates(), history=AutoMailHistory(), mail_from="a@b"):
    return decide(
        DecisionInput(
            mail=mail or parsed(),
            envelope=Envelope(mail_from, ("support@s.example",)),
            sender=sender,
            keys=threads.ThreadKeys(None, (), None),
            candidates=candidates,
            history=history,
            policy=Policy(first_response_minutes=60, auto_per_hour=10, auto_per_day=40),
            now=NOW,
        )
    )


CONTACT = Sender(SenderKind.CONTACT, ALICE.email, contact=ALICE)
STRANGER = Sender(SenderKind.STRANGER, "eve@evil.example")


def test_known_contact_opens_ticket_with_sla_and_confirmation():
    decision = run(CONTACT)
    assert isinstance(decision, OpenTicket)
    assert decision.confirm and decision.sla_due_at == NOW + timedelta(minutes=60)


@pytest.mark.parametrize("via", ["token", "reference", "tag"])
def test_participant_joins_ticket_by_each_clue(via):
    decision = run(CONTACT, candidates=Candidates(**{f"by_{via}": TICKET}))
    assert isinstance(decision, AddToTicket) and decision.via == via


def test_token_wins_over_reference_and_tag():
    other = TicketInfo(8, "open", 1, 10, "u" * 26, "y", "fr")
    decision = run(CONTACT, candidates=Candidates(by_token=TICKET, by_reference=other))
    assert decision.ticket.id == 7 and decision.via == "token"


@pytest.mark.parametrize("via", ["token", "reference", "tag"])
def test_non_participant_never_joins_someone_elses_ticket(via):
    bob = Sender(SenderKind.CONTACT, OTHER.email, contact=OTHER)
    decision = run(bob, candidates=Candidates(**{f"by_{via}": TICKET}))
    assert isinstance(decision, OpenTicket)


def test_stranger_is_held_and_told_once_per_window():
    first = run(STRANGER)
    assert isinstance(first, Hold) and first.reason == "unknown-sender" and first.notify_stranger
    recent = AutoMailHistory(last_stranger_notice=NOW - timedelta(hours=23))
    assert run(STRANGER, history=recent).notify_stranger is False
    old = AutoMailHistory(last_stranger_notice=NOW - timedelta(hours=24))
    assert run(STRANGER, history=old).notify_stranger is True


@pytest.mark.parametrize(
    "auto,mail_from,subject",
    [
        (AutoSignals(auto_submitted="auto-replied"), "a@b", "Hello"),
        (AutoSignals(precedence="bulk"), "a@b", "Hello"),
        (AutoSignals(list_id="<l.example>"), "a@b", "Hello"),
        (AutoSignals(x_autoreply=True), "a@b", "Hello"),
        (AutoSignals(loop_header=True), "a@b", "Hello"),
        (AutoSignals(), "", "Hello"),
        (AutoSignals(), "MAILER-DAEMON@x.example", "Hello"),
        (AutoSignals(), "a@b", "Out of office: back Monday"),
        (AutoSignals(), "a@b", "Réponse automatique : absent"),
    ],
)
def test_automatic_mail_is_never_answered(auto, mail_from, subject):
    mail = parsed(subject=subject, auto=auto)
    stranger = run(STRANGER, mail=mail, mail_from=mail_from)
    assert isinstance(stranger, Hold) and not stranger.notify_stranger
    contact = run(CONTACT, mail=mail, mail_from=mail_from)
    assert isinstance(contact, Hold) and contact.reason == "automatic"
    joined = run(CONTACT, mail=mail, mail_from=mail_from, candidates=Candidates(by_token=TICKET))
    assert isinstance(joined, AddToTicket) and joined.automatic and not joined.reopen


def test_auto_submitted_no_is_a_person():
    mail = parsed(auto=AutoSignals(auto_submitted="no"))
    assert isinstance(run(CONTACT, mail=mail), OpenTicket)


def test_confirmation_withheld_past_rate_limit():
    decision = run(CONTACT, history=AutoMailHistory(last_hour=10))
    assert isinstance(decision, OpenTicket) and not decision.confirm
    assert "rate limit" in decision.withheld_reason


def test_reply_reopens_resolved_ticket():
    resolved = TicketInfo(7, "resolved", 1, 10, "t" * 26, "x", "fr")
    decision = run(CONTACT, candidates=Candidates(by_tag=resolved))
    assert decision.reopen


def test_no_single_sender_is_held():
    assert run(Sender(SenderKind.STRANGER, "")).reason == "no-single-sender"


@pytest.mark.parametrize(
    "subject,number",
    [
        ("[VB #42] x", 42),
        ("Re: [vb#7]", 7),
        ("[ VB # 12 ]", 12),
        ("VB 42", None),
        ("[XX #4]", None),
    ],
)
def test_subject_tag(subject, number):
    assert threads.tag_number(subject, "VB") == number


def test_token_from_recipients_ignores_other_domains_and_short_tokens():
    token = "a" * 26
    assert (
        threads.token_from_recipients((f"support+{token}@s.example",), "support@s.example") == token
    )
    assert (
        threads.token_from_recipients((f"support+{token}@x.example",), "support@s.example") is None
    )
    assert threads.token_from_recipients(("support+abc@s.example",), "support@s.example") is None
