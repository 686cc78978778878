"""`gateway outbox retry`: mail that was given up (refused for good, or out of lifetime) is sent
again once its cause is mended, with a lifetime counted from the retry, and each retry is an
event on its ticket."""

from __future__ import annotations

from datetime import UTC, datetime

from test_cli import cli_config, run_cli, run_json
from test_delivery import (  # noqa: F401  (build and recording_sink are fixtures)
    PERMANENT,
    TEMPORARY,
    build,
    delay_of,
    events,
    outbox_rows,
    queue,
    recording_sink,
)


def catch_up_with_the_cli(clock) -> None:
    """The command runs on the real clock; the gateway's own is the test's, days behind."""
    clock.advance(seconds=(datetime.now(UTC) - clock()).total_seconds() + 1)


def test_given_up_mail_sent_again(build, recording_sink, clock, tmp_path, capsys):  # noqa: F811
    """Only the rows named, due now, and not given up at once past their first lifetime."""
    gw = build(mode="smtp", host="127.0.0.1", port=recording_sink.port, lifetime_hours=2)
    queue(gw, "alice@customer.example")
    queue(gw, "bob@customer.example")
    recording_sink.responses.extend([PERMANENT, PERMANENT])  # a setting since mended
    assert gw.delivery.run_once() == 2
    first, second = outbox_rows(gw)
    assert (first.status, second.status) == ("failed", "failed")

    cfg = cli_config(tmp_path, gw)
    code, out, _ = run_cli(capsys, cfg, "outbox", "retry", str(first.id))
    assert code == 0 and "1 mail(s) put back for delivery" in out
    listed = {row["id"]: row for row in run_json(capsys, cfg, "outbox", "list")}
    assert (listed[first.id]["status"], listed[first.id]["attempts"]) == ("pending", 0)
    assert listed[second.id]["status"] == "failed"  # only the one named

    catch_up_with_the_cli(clock)
    recording_sink.responses.append(TEMPORARY)  # busy once more: days past its first lifetime
    assert gw.delivery.run_once() == 1
    [retried, _] = outbox_rows(gw)
    assert retried.status == "pending"  # not given up at once: its lifetime began at the retry
    clock.advance(seconds=delay_of(retried, clock).total_seconds())
    assert gw.delivery.run_once() == 1
    assert outbox_rows(gw)[0].status == "sent"
    assert [m.rcpt_tos for m in recording_sink.received] == [["alice@customer.example"]]
    [event] = events(gw, "delivery-retried")
    assert event["outbox_id"] == first.id and event["to"] == ["alice@customer.example"]

    code, out, _ = run_cli(capsys, cfg, "outbox", "retry")  # all that failed
    assert code == 0 and "1 mail(s) put back" in out
    assert [row.status for row in outbox_rows(gw)] == ["sent", "pending"]
