"""`gateway status`: the spool and the outbox in figures, and what needs a look, with exit
code 1 for a monitoring check when something does (mail failed to process, received mail not
processed, due mail not sent)."""

from __future__ import annotations

import json
from email import policy

from conftest import add_contact, mail
from test_cli import cfg, no_gateway_environment, run_cli  # noqa: F401  (fixtures)
from test_delivery import queue

from gateway import config as config_module
from gateway import intake
from gateway.app import Gateway
from gateway.core.model import Envelope


def test_a_quiet_gateway_needs_no_look(cfg, capsys):  # noqa: F811
    code, out, _ = run_cli(capsys, cfg, "status")
    assert code == 0
    assert "0 pending, 0 done, 0 failed; 0 held" in out and "nothing needs a look" in out


def test_mail_left_waiting_or_failed_is_named_with_what_to_do(cfg, clock, tmp_path, capsys):  # noqa: F811
    config = config_module.load(cfg, environ={})
    broken = Gateway(config, clock=clock, templates_dir=tmp_path / "no-templates")
    add_contact(broken.db, "alice@customer.example")
    envelope = Envelope("alice@customer.example", ("support@support.example",))
    raws = [mail(subject=s).as_bytes(policy=policy.SMTP) for s in ("Fails", "Waits")]
    intake.accept(broken.db, [intake.RawMail(raws[0], envelope)], clock(), "support.example")
    assert broken.processor.run_once() == (1, 0)  # no templates: its processing fails
    intake.accept(broken.db, [intake.RawMail(raws[1], envelope)], clock(), "support.example")
    queue(broken, "bob@customer.example")  # due, and no delivery runs either
    broken.db.dispose()  # and no processor runs: the second one waits (the test's clock is
    # days behind the command's, so it has waited for days)

    code, out, _ = run_cli(capsys, cfg, "status")
    assert code == 1
    assert "1 pending, 0 done, 1 failed" in out
    assert "gateway inbound retry" in out and "is the processor of gateway serve running" in out
    assert "outbox   1 pending, 0 sent, 0 given up" in out
    assert "is the delivery of gateway serve running" in out
    code, out, _ = run_cli(capsys, cfg, "status", "--json")
    document = json.loads(out)  # one document, exit code 1 all the same
    assert document["inbound"] == {"pending": 1, "done": 0, "failed": 1}
    assert document["outbox"] == {"pending": 1, "sent": 0, "failed": 0}
    assert len(document["attention"]) == 3
