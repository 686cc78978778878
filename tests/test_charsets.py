"""Whatever charset a message declares - right, wrong, unknown or none - `parse` gives text:
decoded where it can be, with replacement characters where it cannot, never an exception.
Covers RFC 2047 encoded words (Subject, From names), RFC 2231 filenames and UTF-16/32."""

from __future__ import annotations

import base64

import pytest

from gateway.core.parse import parse

REPLACEMENT = "\ufffd"


def mail(content_type: bytes, body: bytes, cte: bytes = b"8bit", **headers: bytes) -> bytes:
    head = {
        b"From": b"Alice <alice@example.com>",
        b"To": b"support@example.com",
        b"Subject": b"Printer",
        b"Message-ID": b"<1@example.com>",
        b"Date": b"Tue, 5 Mar 2024 16:22:00 +0000",
        b"MIME-Version": b"1.0",
    }
    head.update({name.encode().replace(b"_", b"-"): value for name, value in headers.items()})
    head[b"Content-Type"] = content_type
    head[b"Content-Transfer-Encoding"] = cte
    lines = b"".join(name + b": " + value + b"\r\n" for name, value in head.items())
    return lines + b"\r\n" + body + b"\r\n"


def text_of(raw: bytes) -> str:
    return parse(raw, "<1@example.com>").text


@pytest.mark.parametrize(
    ("charset", "words"),
    [
        ("iso-8859-1", "Café crème, déjà vu"),
        ("iso-8859-15", "Prix : 5 € TTC"),
        ("windows-1252", "Price: 5 € – “quoted”"),
        ("iso-8859-2", "Zażółć gęślą jaźń"),
        ("koi8-r", "Привет, принтер не работает"),
        ("windows-1251", "Привет, мир"),
        ("shift_jis", "プリンターが動きません"),
        ("euc-jp", "プリンターが動きません"),
        ("iso-2022-jp", "プリンターが動きません"),
        ("gb2312", "打印机坏了"),
        ("gbk", "打印机坏了"),
        ("big5", "印表機壞了"),
        ("euc-kr", "프린터가 고장났어요"),
        ("iso-8859-7", "Ο εκτυπωτής χάλασε"),
        ("utf-8", "Grüße aus Köln 👋"),
    ],
)
def test_a_declared_charset_is_honoured(charset, words):
    cte = b"7bit" if charset == "iso-2022-jp" else b"8bit"
    raw = mail(f"text/plain; charset={charset}".encode(), words.encode(charset), cte)
    assert text_of(raw) == words


@pytest.mark.parametrize("cte", [b"quoted-printable", b"base64"])
def test_transfer_encodings_decode_before_the_charset(cte):
    data = "Café crème".encode("iso-8859-1")
    body = b"Caf=E9 cr=E8me" if cte == b"quoted-printable" else base64.b64encode(data)
    assert text_of(mail(b"text/plain; charset=iso-8859-1", body, cte)) == "Café crème"


def test_a_wrong_charset_gives_replacement_characters_not_an_error():
    # Declared UTF-8, written in Latin-1: the readable part survives, the rest is marked.
    parsed = parse(mail(b"text/plain; charset=utf-8", "Café crème".encode("latin-1")), "<1@x>")
    assert parsed.text == f"Caf{REPLACEMENT} cr{REPLACEMENT}me"
    assert "CharsetDecodeDefect" in parsed.defects


def test_utf8_declared_as_ascii_is_still_read():
    assert text_of(mail(b"text/plain; charset=us-ascii", "Café".encode())) == "Café"


@pytest.mark.parametrize("charset", [b"x-unknown-42", b'"utf-8\\"; x"', b"", b"utf-8'"])
def test_an_unknown_or_garbled_charset_falls_back_to_utf8(charset):
    raw = mail(b"text/plain; charset=" + charset, "Café ☕".encode())
    assert text_of(raw) == "Café ☕"


def test_invalid_utf8_bytes_are_replaced():
    raw = mail(b"text/plain; charset=utf-8", b"caf\xc3 ok \xff\xfe end \xed\xa0\x80!")
    text = text_of(raw)
    r = REPLACEMENT
    assert text == f"caf{r} ok {r}{r} end {r}{r}{r}!"  # an encoded surrogate is invalid too
    assert text.encode("utf-8")  # no lone surrogates leak out to break a UTF-8 sink


@pytest.mark.parametrize("charset", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_bodies(charset):
    words = "Grüße 𝄞 ok"
    body = base64.encodebytes(words.encode(charset))
    raw = mail(f"text/plain; charset={charset}".encode(), body, b"base64")
    assert text_of(raw) == words


def test_utf16_sent_as_8bit_or_truncated_does_not_crash():
    raw = mail(b"text/plain; charset=utf-16le", "Hello".encode("utf-16le"), b"binary")
    assert "Hello" in text_of(raw)  # NUL bytes are stripped at the door
    odd = base64.encodebytes("Hi there".encode("utf-16") + b"\x00")  # one byte too many
    assert text_of(mail(b"text/plain; charset=utf-16", odd, b"base64")).endswith("Hi there")


def test_html_only_mail_in_latin1_becomes_text():
    raw = mail(b"text/html; charset=iso-8859-1", "<p>Café <b>crème</b></p>".encode("latin-1"))
    assert text_of(raw) == "Café crème"


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        (b"=?utf-8?q?Caf=C3=A9_cr=C3=A8me?=", "Café crème"),
        (b"=?UTF-8?B?SW1wcmltYW50ZSBlbiBwYW5uZQ==?=", "Imprimante en panne"),
        (b"=?iso-8859-1?q?R=E9sum=E9?= du =?utf-8?q?mois?=", "Résumé du mois"),
        (b"=?utf-8?q?Caf=C3=A9?=\r\n =?utf-8?q?_cr=C3=A8me?=", "Café crème"),  # folded
        (b"=?iso-2022-jp?b?GyRCJVclaiVzJT8hPBsoQg==?=", "プリンター"),
        (b"=?x-bogus?q?Caf=E9?=", "Café"),  # unknown charset: UTF-8, then Windows-1252
        ("Café ☕ raw".encode(), "Café ☕ raw"),  # RFC 6532 raw UTF-8
        ("Café raw".encode("latin-1"), "Café raw"),  # legacy raw 8-bit
    ],
)
def test_encoded_words_in_the_subject(subject, expected):
    raw = mail(b"text/plain; charset=utf-8", b"body", Subject=subject)
    assert parse(raw, "<1@x>").subject == expected


@pytest.mark.parametrize(
    "subject", [b"=?utf-8?b?Q2Fm6?=", b"=?utf-8?q?", b"=?=?==?", b"=?utf-8?x?abc?="]
)
def test_broken_encoded_words_do_not_crash(subject):
    parsed = parse(mail(b"text/plain; charset=utf-8", b"body", Subject=subject), "<1@x>")
    assert parsed.text == "body"
    assert isinstance(parsed.subject, str)


def test_an_encoded_newline_in_the_subject_cannot_inject_headers():
    raw = mail(b"text/plain", b"body", Subject=b"=?utf-8?q?Hi=0D=0ABcc:_victim@example.org?=")
    subject = parse(raw, "<1@x>").subject
    assert "\n" not in subject and "\r" not in subject
    assert subject == "Hi Bcc: victim@example.org"


@pytest.mark.parametrize(
    ("from_header", "name"),
    [
        (b"=?iso-8859-1?q?Fran=E7ois_Dupr=E9?= <f@example.com>", "François Dupré"),
        (b"=?UTF-8?B?w4lsaXNl?= Martin <f@example.com>", "Élise Martin"),
        (b'"=?utf-8?q?Dupont=2C_Jean?=" <f@example.com>', "Dupont, Jean"),
        ("Zoë Ünal <f@example.com>".encode(), "Zoë Ünal"),
        ("Zoë <f@example.com>".encode("latin-1"), "Zoë"),
        (b"=?x-bogus?q?Caf=E9?= <f@example.com>", "Café"),
    ],
)
def test_encoded_words_in_from_names(from_header, name):
    parsed = parse(mail(b"text/plain", b"body", From=from_header), "<1@x>")
    assert parsed.sender is not None
    assert (parsed.sender.name, parsed.sender.email) == (name, "f@example.com")


def test_an_encoded_comma_does_not_split_an_address_list():
    raw = mail(b"text/plain", b"body", Cc=b"a@example.com, =?utf-8?q?B=2C_C?= <b@example.com>")
    cc = parse(raw, "<1@x>").cc
    assert [(a.name, a.email) for a in cc] == [("", "a@example.com"), ("B, C", "b@example.com")]


def with_attachment(disposition: bytes) -> bytes:
    return (
        b"From: a@example.com\r\nTo: support@example.com\r\nSubject: x\r\nMessage-ID: <1@x>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=BB\r\n\r\n"
        b"--BB\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nsee attached\r\n"
        b"--BB\r\nContent-Type: application/pdf\r\nContent-Disposition: " + disposition + b"\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--BB--\r\n"
    )


@pytest.mark.parametrize(
    ("disposition", "filename"),
    [
        (b"attachment; filename*=UTF-8''%C3%A9t%C3%A9%202024.pdf", "été 2024.pdf"),
        (b"attachment; filename*0*=UTF-8''%C3%A9t%C3%A9; filename*1*=%202024.pdf", "été 2024.pdf"),
        (
            b'attachment; filename*0="long name "; filename*1="part two.pdf"',
            "long name part two.pdf",
        ),
        (b"attachment; filename*=iso-8859-1'fr'r%E9sum%E9.pdf", "résumé.pdf"),
        (b"attachment; filename*=x-bogus''r%E9sum%E9.pdf", "résumé.pdf"),
        (b"attachment; filename*=UTF-8''%FF%FE.pdf", f"{REPLACEMENT}{REPLACEMENT}.pdf"),
        (b"attachment; filename*=UTF-8''..%2F..%2Fetc%2Fpasswd", "passwd"),
        (b'attachment; filename="=?utf-8?q?r=C3=A9sum=C3=A9.pdf?="', "résumé.pdf"),
        ('attachment; filename="résumé.pdf"'.encode(), "résumé.pdf"),
    ],
)
def test_rfc2231_filenames(disposition, filename):
    parsed = parse(with_attachment(disposition), "<1@x>")
    assert parsed.text == "see attached"
    assert [a.filename for a in parsed.attachments] == [filename]
    assert parsed.attachments[0].data.startswith(b"%PDF-1.4")
