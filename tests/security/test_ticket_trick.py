"""Attack: the "Ticket Trick". Someone signs up at a third-party service with our support
address, a ticket's reply address, or in a customer's name, hoping the helpdesk will show
them the service's verification mail. Whatever the route, the content reaches staff only."""

from __future__ import annotations

import pytest
from conftest import add_contact, mail
from trustkit import ALICE, customers_mail, held, messages, open_ticket, send, signed

CODE = "Your verification code is 73-19-55 CANARY-LINK https://saas.example/verify/abc"


def verification(sender="SaaS <noreply@saas.example>", to="support@support.example"):
    return signed(mail(sender=sender, to=to, subject="Confirm your account", body=CODE),
                  "saas.example", "saas")  # fmt: skip


def assert_content_reached_no_customer(gw):
    for received in customers_mail(gw):
        text = received.raw.decode("utf-8", "replace")
        assert "73-19-55" not in text and "CANARY-LINK" not in text, received.rcpt_tos


@pytest.mark.parametrize("address", ["support", "token", "complaints"])
def test_service_mail_to_our_addresses_reaches_nobody(verifying, address):
    gw = verifying
    cited = open_ticket(gw)
    to = {"support": "support@support.example", "complaints": "complaints@support.example",
          "token": f"support+{cited.reply_token}@support.example"}[address]  # fmt: skip
    send(gw, verification(to=to), mail_from="bounce@saas.example", to=(to,))
    assert held(gw)[-1].reason == "unknown-sender"
    assert len(messages(gw, cited.id)) == 1  # nothing appended to the cited ticket
    assert_content_reached_no_customer(gw)


def test_service_mail_in_a_customers_name_is_not_echoed(verifying):
    gw = verifying
    for domain in ("weak.example", "nodmarc.example"):  # DMARC p=none, and no DMARC at all
        add_contact(gw.db, f"eve@{domain}", name="Eve", account="Eve Co")
        message = verification(sender=f"Eve via SaaS <eve@{domain}>")
        send(gw, message, mail_from="bounce@saas.example")
    confirmations = [m for m in customers_mail(gw) if "eve@" in m.rcpt_tos[0]]
    assert len(confirmations) == 2  # tickets are opened (unverified), and confirmed...
    assert all("could not be verified" in m.text() for m in confirmations)
    assert_content_reached_no_customer(gw)  # ...without a word of what the service wrote
    assert not gw.sink.to(ALICE)[1:]  # Alice got her own confirmation only
