"""Attack: a genuine, DKIM-signed staff mail is captured and sent again, with an unsigned
header added so that it is not recognised as the same delivery. It is executed once only;
and a copy with a command added to the body no longer verifies."""

from __future__ import annotations

from trustkit import AGENT, ALICE, held, messages, open_ticket, send, signed, staff_reply, ticket


def test_replayed_genuine_staff_mail_runs_once(verifying):
    gw = verifying
    t = open_ticket(gw)
    reply = staff_reply(gw, "/priority high\nWe restarted your server.")
    genuine = signed(reply, "support.example", "company")
    send(gw, genuine, mail_from=AGENT)
    assert ticket(gw, t.id).priority == "high"
    relayed = len(gw.sink.to(ALICE))

    with gw.db.write() as session:  # staff lower the priority again in between
        row = session.get(type(ticket(gw, t.id)), t.id)
        row.priority = "low"
        session.add(row)
    replay = b"Cc: someone@evil.example\r\n" + genuine  # unsigned header: DKIM still passes
    send(gw, replay, mail_from=AGENT)
    assert ticket(gw, t.id).priority == "low"  # not executed a second time
    assert len(gw.sink.to(ALICE)) == relayed  # not relayed a second time
    assert held(gw)[-1].reason == "replayed-staff-mail"
    staff_messages = [m for m in messages(gw, t.id) if m.author_staff_id is not None]
    assert len(staff_messages) == 1


def test_replay_with_a_command_added_fails_verification(verifying):
    gw = verifying
    t = open_ticket(gw)
    genuine = signed(staff_reply(gw, "We restarted your server."), "support.example", "company")
    send(gw, genuine, mail_from=AGENT)
    tampered = genuine.replace(b"We restarted your server.", b"/status closed\nWe restarted.")
    tampered = b"Cc: x@evil.example\r\n" + tampered
    send(gw, tampered, mail_from=AGENT)
    assert ticket(gw, t.id).status == "open"  # the first reply opened it; nothing closed it
    assert held(gw)[-1].reason == "unverified-staff"
    assert "dkim=fail d=support.example" in held(gw)[-1].detail
