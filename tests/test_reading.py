"""What the parser's process hands the processor for each mail (`core.reading`): card numbers
already masked everywhere they were, a raw copy safe to keep, the original's digest, the
author's own words and whether the mail asks about personal data."""

from __future__ import annotations

import hashlib

from conftest import mail

from gateway.core.reading import read_mail

CARD = "4111 1111 1111 1111"


def test_a_card_number_is_masked_and_the_raw_copy_kept_without_it():
    raw = mail(subject=f"Card {CARD}", body=f"Please charge {CARD} again.").as_bytes()
    reading = read_mail(raw, "<m1@customer.example>")

    assert reading.found and reading.cards >= 2
    assert "1111 1111" not in reading.mail.subject + reading.mail.text
    assert reading.kept_raw is not None and b"1111 1111" not in reading.kept_raw
    assert reading.original_sha256 == hashlib.sha256(raw).hexdigest()


def test_a_plain_mail_keeps_its_raw_bytes_and_says_what_it_asks():
    raw = mail(subject="My account", body="Please delete my data.\n\n> old quoted line").as_bytes()
    reading = read_mail(raw, "<m2@customer.example>")

    assert not reading.found and reading.kept_raw is None
    assert reading.privacy_kind == "erase"
    assert reading.own_words.text.strip() == "Please delete my data."
