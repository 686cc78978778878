"""Inline images keep their place in HTML mail, between customer and staff, both ways.

Mail goes over real SMTP into the running gateway and out to the SMTP sink; what is checked is
what a mail client would show: an HTML part inside multipart/related whose `cid:` references
name the image parts beside it, and nothing remote, dangling or quoted from the history.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from conftest import add_contact, mail
from sqlmodel import select
from test_staff_flow import AUTHSERV, add_staff, last, open_ticket, staff_mail

from gateway import inline_relay
from gateway.core.parse import parse
from gateway.core.quotes import new_text
from gateway.notices import Company
from gateway.outbox import Renderer
from gateway.staff_notices import StaffNotices
from gateway.store import directory, repo
from gateway.store.tables import Outbox, Staff

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(48))
GIF = b"GIF89a" + bytes(range(30))
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def with_html(message: EmailMessage, html: str, *related) -> EmailMessage:
    """`message` (text set) plus an HTML alternative with parts related to it; each
    related item: (content id header, data, maintype/subtype, filename, disposition)."""
    message.add_alternative(html, subtype="html")
    html_part = message.get_payload()[-1]
    for cid, data, kind, filename, disposition in related:
        maintype, _, subtype = kind.partition("/")
        html_part.add_related(data, maintype=maintype, subtype=subtype, cid=cid,
                              filename=filename, disposition=disposition)  # fmt: skip
    return message


def html_and_images(message: EmailMessage) -> tuple[str, dict[str, EmailMessage]]:
    """The HTML part and the parts of the multipart/related that holds it, by Content-ID."""
    for part in message.walk():
        if part.get_content_type() != "multipart/related":
            continue
        children = list(part.iter_parts())
        root = children[0]
        assert root.get_content_type() == "text/html"
        images = {c["Content-ID"].strip("<>"): c for c in children[1:]}
        return root.get_content(), images
    raise AssertionError("no multipart/related part")


def attached(message: EmailMessage) -> list[tuple[str, str]]:
    """Files a client lists as attachments: (filename, content type)."""
    return [(p.get_filename(), p.get_content_type()) for p in message.iter_attachments()]


def cids(html: str) -> list[str]:
    return re.findall(r'src="cid:([^"]*)"', html)


def customer_mail_with_screenshot(**headers) -> EmailMessage:
    message = mail(subject="Error page", body="Here is the error:\n[image: error.png]\nHelp!",
                   **headers)  # fmt: skip
    with_html(
        message,
        '<div>Here is the error:</div><div><img src="cid:err1@customer.example" alt="error.png">'
        '</div><div>Help!</div><img src="https://tracker.example/open.gif">',
        ("<err1@customer.example>", PNG, "image/png", "error.png", "inline"),
    )
    message.add_attachment(b"%PDF-1.4 invoice", maintype="application", subtype="pdf",
                           filename="invoice.pdf")  # fmt: skip
    return message


@pytest.fixture
def desk(start_gateway):
    gw = start_gateway(
        auth={"trusted_authserv_ids": (AUTHSERV,)}, routing={"default_department": "Support"}
    )
    add_contact(gw.db, "alice@customer.example", name="Alice", account="Alice Co")
    add_staff(gw.db, "agent@support.example", "Sam Agent")
    add_staff(gw.db, "second@support.example", "Kim Second")
    return gw


# Customer to staff --------------------------------------------------------------------------


def test_customer_inline_image_reaches_staff_in_its_place(desk):
    desk.send(customer_mail_with_screenshot())
    desk.settle()
    notification = last(desk, "agent@support.example").message
    html, images = html_and_images(notification)
    assert cids(html) == ["err1@customer.example"]
    assert images["err1@customer.example"].get_content() == PNG
    assert html.index("Here is the error:") < html.index("cid:") < html.index("Help!")
    assert "tracker.example" not in html
    assert attached(notification) == [("invoice.pdf", "application/pdf")]
    assert "Here is the error:" in notification.get_body(("plain",)).get_content()
    with desk.db.read() as session:
        rows = repo.message_attachments(session, repo.ticket_messages(session, 1)[0].id)
        stored = {(r.filename, r.content_id, r.inline) for r in rows}
    assert stored == {("error.png", "err1@customer.example", True), ("invoice.pdf", "", False)}


@pytest.fixture
def notices(db):
    """The staff notices as the gateway builds them, over a ticket with one staff member."""
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    add_contact(db, "alice@customer.example", name="Alice")
    with db.write() as session:
        department = directory.add_department(session, "Support", now)
        directory.add_staff(session, email="agent@support.example", name="Sam Agent",
                            department_id=department.id, role="agent", now=now)  # fmt: skip
        contact = repo.find_contact(session, "alice@customer.example")
        repo.create_ticket(session, subject="Error page", category="request",
                           requester_id=contact.id, account_id=contact.account_id, language="en",
                           department_id=department.id, created_at=now, updated_at=now)  # fmt: skip
    company = Company("Example Hosting", "support@support.example", "support.example", "VB",
                      "en", 60)  # fmt: skip
    return StaffNotices(Renderer(TEMPLATES), company), now


def notify(db, notices, raw: bytes) -> EmailMessage:
    """Notify staff of the parsed customer mail `raw`, as the customer desk does."""
    staff_notices, now = notices
    parsed = parse(raw, "<m1@customer.example>")
    with db.write() as session:
        ticket = repo.get_ticket(session, 1)
        members = list(session.exec(select(Staff)))
        staff_notices.notify_staff(
            session, ticket, members, headline="New ticket from alice@customer.example:",
            text=new_text(parsed.text, parsed.html), kind="staff-new-ticket",
            now=now, attachments=inline_relay.files(parsed.attachments), html=parsed.html,
        )  # fmt: skip
    with db.read() as session:
        row = session.exec(select(Outbox).order_by(Outbox.id.desc())).first()
        return message_from_bytes(row.raw, policy=policy.default)


def test_staff_notification_shows_the_customer_html_with_its_images(db, notices):
    notification = notify(db, notices, bytes(customer_mail_with_screenshot()))
    html, images = html_and_images(notification)
    assert cids(html) == ["err1@customer.example"]
    assert images["err1@customer.example"].get_content() == PNG
    assert images["err1@customer.example"].get_content_disposition() == "inline"
    assert html.index("Here is the error:") < html.index("cid:") < html.index("Help!")
    assert "tracker.example" not in html and "requester Alice" in html
    assert attached(notification) == [("invoice.pdf", "application/pdf")]
    text = notification.get_body(("plain",)).get_content()
    assert "Here is the error:" in text and "requester Alice" in text


def test_customer_mail_without_html_keeps_its_plain_notification(db, notices):
    notification = notify(db, notices, bytes(mail(body="Plain words only.")))
    assert notification.get_content_type() == "text/plain"
    assert "Plain words only." in notification.get_content()


def test_hostile_customer_html_shows_nothing_remote_or_foreign(db, notices):
    message = mail(subject="Look", body="Look at this")
    with_html(
        message,
        '<p onclick="steal()">Look at this <img src="cid:good@x"><img src="cid:missing@x">'
        '<img src="http://tracker.example/p.gif"><img src="data:image/png;base64,iVBORw0KGgo=">'
        '<img src="cid:page@x"><img src="cid:prog@x"><a href="javascript:alert(1)">here</a>'
        "<script>alert(2)</script></p>",
        ("<good@x>", GIF, "image/gif", "good.gif", "inline"),
        ("<page@x>", b"<script>alert(3)</script>", "text/html", "page.html", "inline"),
        ("<prog@x>", b"MZ\x90\x00program", "application/x-msdownload", "setup.exe", "inline"),
        ("<fake@x>", b"MZ\x90\x00program", "image/png", "fake.png", "inline"),
    )
    notification = notify(db, notices, bytes(message))
    html, images = html_and_images(notification)
    assert cids(html) == ["good@x"] and list(images) == ["good@x"]
    for word in ("missing@x", "tracker.example", "data:", "javascript", "script", "onclick"):
        assert word not in html
    assert sorted(attached(notification)) == [
        ("fake.png", "image/png"),  # labelled an image, but its bytes are a program
        ("page.html", "text/html"),
        ("setup.exe", "application/x-msdownload"),
    ]
    for part in notification.iter_attachments():
        assert part.get_content_disposition() == "attachment"


def test_an_image_marked_attachment_that_the_html_shows_stays_in_its_place(db, notices):
    message = mail(subject="Look", body="Look at this")
    with_html(
        message,
        '<p>Look at this <img src="cid:shot@x"></p>',
        ("<shot@x>", PNG, "image/png", "shot.png", "attachment"),
        ("<unused@x>", GIF, "image/gif", "unused.gif", "attachment"),
    )
    notification = notify(db, notices, bytes(message))
    html, images = html_and_images(notification)
    assert cids(html) == ["shot@x"] and images["shot@x"].get_content() == PNG
    assert attached(notification) == [("unused.gif", "image/gif")]  # not shown: still sent


# Staff to customer --------------------------------------------------------------------------


def staff_html_reply(notification, text: str, html: str, *related, **headers):
    message = staff_mail(notification, text, **headers)
    return with_html(message, html, *related)


GMAIL_REPLY = (
    "<div>/status pending</div><div>Hello Alice,</div><div><br></div>"
    '<div>Open the settings here:</div><div><img src="cid:ii_set1" alt="settings.png"></div>'
    '<div>Then save.</div><br><div class="gmail_quote"><div class="gmail_attr">On Mon, 23 '
    'Nov 2026, Example Hosting wrote:<br></div><blockquote class="gmail_quote">{quoted}'
    '<img src="cid:ii_old"></blockquote></div>'
)


def test_staff_inline_image_reaches_the_customer_in_its_place(desk):
    t = open_ticket(desk)
    notification = last(desk, "agent@support.example")
    reply = staff_html_reply(
        notification,
        "/status pending\nHello Alice,\n\nOpen the settings here:\n[image: settings.png]\n"
        "Then save.\n\nOn Mon, 23 Nov 2026, Example Hosting wrote:\n> My site is down.\n",
        GMAIL_REPLY.format(quoted="My site is down."),
        ("<ii_set1>", PNG, "image/png", "settings.png", "inline"),
        ("<ii_old>", GIF, "image/gif", "old.gif", "inline"),
    )
    assert desk.send(reply)[0] == 250
    desk.settle()
    relayed = last(desk, "alice@customer.example").message
    html, images = html_and_images(relayed)
    assert cids(html) == ["ii_set1"] and list(images) == ["ii_set1"]
    assert images["ii_set1"].get_content() == PNG
    assert html.index("Open the settings here:") < html.index("cid:ii_set1") < html.index("Then")
    assert "My site is down" not in html and "/status" not in html and "gmail_quote" not in html
    assert "How helpful was this reply?" in html  # our rating links, as before
    text = relayed.get_body(("plain",)).get_content()
    assert "Then save." in text and "My site is down" not in text
    # the image quoted from the history is not shown, but nothing the staff sent is lost
    assert attached(relayed) == [("old.gif", "image/gif")]
    with desk.db.read() as session:
        staff_message = repo.ticket_messages(session, t.id)[-1]
        rows = repo.message_attachments(session, staff_message.id)
        assert {(r.content_id, r.inline) for r in rows} == {("ii_set1", True), ("ii_old", True)}


def test_staff_html_without_inline_images_is_relayed_as_before(desk):
    open_ticket(desk)
    notification = last(desk, "agent@support.example")
    reply = staff_html_reply(notification, "Fixed now.", "<p>Fixed <b>now</b>.</p>")
    desk.send(reply)
    desk.settle()
    relayed = last(desk, "alice@customer.example").message
    assert not any(p.get_content_type() == "multipart/related" for p in relayed.walk())
    assert "<p>Fixed now.</p>" in relayed.get_body(("html",)).get_content()


def test_internal_note_in_staff_html_never_reaches_the_customer(desk):
    open_ticket(desk)
    notification = last(desk, "agent@support.example")
    desk.send(staff_mail(notification, "/note\nServer password is hunter2-secret, keep it."))
    desk.settle()
    # The text part and the HTML part disagree: the HTML repeats the note outside any quote.
    reply = staff_html_reply(
        notification,
        "Hello Alice, it works again.",
        '<div>Hello Alice, it works again.</div><img src="cid:ok1"><div>Internal note from '
        "Sam Agent: Server password is hunter2-secret, keep it.</div>",
        ("<ok1>", PNG, "image/png", "ok.png", "inline"),
    )
    desk.send(reply)
    desk.settle()
    for received in desk.sink.to("alice@customer.example"):
        assert b"hunter2" not in received.raw
    html, images = html_and_images(last(desk, "alice@customer.example").message)
    assert "it works again." in html and list(images) == ["ok1"]


def test_hostile_staff_html_keeps_only_the_images_that_travel_with_it(desk):
    open_ticket(desk)
    notification = last(desk, "agent@support.example")
    reply = staff_html_reply(
        notification,
        "See below.\n[image: a.png]\nDone.",
        '<p>See below.</p><img src="cid:folded@x"><img src="cid:missing@x">'
        '<img src="https://tracker.example/t.gif"><img src="data:image/gif;base64,R0lGOD">'
        '<img src="cid:page@x"><img src="cid:prog@x"><p>Done.</p>',
        ("<page@x>", b"<script>alert(1)</script>", "text/html", "page.html", "inline"),
        ("<prog@x>", b"MZ\x90\x00program", "application/x-msdownload", "setup.exe", "inline"),
    )
    raw = reply.as_bytes(policy=policy.SMTP)
    # An image whose Content-ID is folded over two lines and carries a quote.
    image = (
        b'Content-Type: image/png\r\nContent-Disposition: inline; filename="a.png"\r\n'
        b'Content-ID: <fol"ded\r\n\t@x>\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + base64.b64encode(PNG)
        + b"\r\n"
    )
    boundary = re.search(rb'multipart/related;\s*boundary="([^"]+)"', raw).group(1)
    end = b"--" + boundary + b"--"
    raw = raw.replace(end, b"--" + boundary + b"\r\n" + image + end)
    assert desk.send(raw, mail_from="agent@support.example", to=[desk.support])[0] == 250
    desk.settle()
    relayed = last(desk, "alice@customer.example").message
    html, images = html_and_images(relayed)
    assert cids(html) == ["folded@x"] and list(images) == ["folded@x"]
    assert images["folded@x"]["Content-ID"] == "<folded@x>"
    for word in ("missing@x", "tracker.example", "data:", "script"):
        assert word not in html
    assert sorted(attached(relayed)) == [
        ("page.html", "text/html"),
        ("setup.exe", "application/x-msdownload"),
    ]
