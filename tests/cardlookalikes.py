"""Numbers that look like card numbers but are not: what support mail is full of.

`make(rng, slot)` returns one rendered value and its category. Where a real format carries a
checksum (IBAN mod 97, SIREN/SIRET and IMEI Luhn, EAN-13), the value carries a valid one,
since a real one would.
"""

from __future__ import annotations

import random

DIGITS = "0123456789"


def digits(rng: random.Random, count: int, first: str = DIGITS) -> str:
    return rng.choice(first) + "".join(rng.choice(DIGITS) for _ in range(count - 1))


def luhn_complete(body: str) -> str:
    total = 0
    for position, char in enumerate(reversed(body)):
        digit = int(char) * (2 if position % 2 == 0 else 1)
        total += digit - 9 if digit > 9 else digit
    return body + str(-total % 10)


def fours(value: str, sep: str = " ") -> str:
    return sep.join(value[i : i + 4] for i in range(0, len(value), 4))


def phone(rng: random.Random) -> str:
    number = "0" + rng.choice("123456789") + digits(rng, 8)
    pairs = [number[i : i + 2] for i in range(0, 10, 2)]
    style = rng.randrange(8)
    if style < 4:
        return (" ", ".", "-", "")[style].join(pairs)
    rest = " ".join([number[1]] + pairs[1:])
    return ("+33 " + rest, "+33 (0)" + rest, "+33" + number[1:], "0033 " + rest)[style - 4]


def phone_intl(rng: random.Random) -> str:
    return rng.choice(
        (
            f"+1 ({digits(rng, 3, '2345678')}) {digits(rng, 3)}-{digits(rng, 4)}",
            f"+44 20 {digits(rng, 4)} {digits(rng, 4)}",
            f"+49 30 {digits(rng, 7)}",
            f"+32 2 {digits(rng, 3)} {digits(rng, 2)} {digits(rng, 2)}",
            f"+41 44 {digits(rng, 3)} {digits(rng, 2)} {digits(rng, 2)}",
            f"+1-{digits(rng, 3, '2345678')}-{digits(rng, 3)}-{digits(rng, 4)}",
        )
    )


_IBAN_FORMS = {"FR": "n23", "DE": "n18", "BE": "n12", "ES": "n20", "LU": "n16", "GB": "a4n14"}


def iban(rng: random.Random) -> str:
    country = rng.choice(list(_IBAN_FORMS))
    form = _IBAN_FORMS[country]
    letters = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(4))
    bban = (letters if form.startswith("a4") else "") + digits(rng, int(form.rsplit("n", 1)[1]))
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    value = f"{country}{98 - int(numeric) % 97:02d}{bban}"
    return rng.choice((fours(value), fours(value), value))


def rib(rng: random.Random) -> str:
    return f"{digits(rng, 5)} {digits(rng, 5)} {digits(rng, 11)} {digits(rng, 2)}"


def siren(rng: random.Random) -> str:
    return luhn_complete(digits(rng, 8, "123456789"))


def siret(rng: random.Random) -> str:
    number = luhn_complete(siren(rng) + digits(rng, 4))
    spaced = f"{number[:3]} {number[3:6]} {number[6:9]} {number[9:]}"
    return rng.choice((spaced, spaced, number))


def tva(rng: random.Random) -> str:
    number = siren(rng)
    return f"{(12 + 3 * (int(number) % 97)) % 97:02d}{number}"


def ean13(rng: random.Random) -> str:
    prefix = str(rng.choice((rng.randint(300, 379), rng.randint(400, 440), rng.randint(500, 509))))
    body = prefix + digits(rng, 9)
    total = sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(body))
    return body + str(-total % 10)


def imei(rng: random.Random) -> str:
    return luhn_complete(rng.choice(("35", "86", "01")) + digits(rng, 12))


def iccid(rng: random.Random) -> str:
    value = luhn_complete("8933" + digits(rng, 14))
    return rng.choice((value, fours(value)))


def tracking(rng: random.Random) -> str:
    alnum = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
    return rng.choice(
        (
            "1Z" + "".join(rng.choice(alnum) for _ in range(6)) + digits(rng, 10),
            "6A" + digits(rng, 11),
            rng.choice(("LB", "RR", "XY", "CB")) + digits(rng, 9) + "FR",
            fours("9400" + digits(rng, 18)),
            f"{digits(rng, 4)} {digits(rng, 4)} {digits(rng, 4)}",
            digits(rng, 15, "123456789"),
            "JJD" + digits(rng, 18),
            digits(rng, 14),
        )
    )


def order(rng: random.Random) -> str:
    return rng.choice(
        (
            digits(rng, rng.randint(6, 10)),
            digits(rng, rng.randint(13, 19), "123456789"),
            f"{digits(rng, 3)}-{digits(rng, 7)}-{digits(rng, 7)}",
            f"CMD-{rng.randint(2019, 2025)}-{digits(rng, 6)}",
            f"{rng.randint(2019, 2025)}{digits(rng, 9)}",
        )
    )


def invoice(rng: random.Random) -> str:
    return rng.choice(
        (
            f"FA{rng.randint(2019, 2025)}-{digits(rng, 5)}",
            digits(rng, rng.randint(10, 16), "123456789"),
            f"INV-{digits(rng, 8)}",
            f"{rng.randint(2019, 2025)}/{digits(rng, 6)}",
        )
    )


def date(rng: random.Random) -> str:
    d, m, y = rng.randint(1, 28), rng.randint(1, 12), rng.randint(2019, 2026)
    h, mi, s = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
    return rng.choice(
        (
            f"{d:02d}/{m:02d}/{y}",
            f"{y}-{m:02d}-{d:02d}",
            f"{d:02d}.{m:02d}.{y}",
            f"{d:02d}-{m:02d}-{y}",
            f"{y}-{m:02d}-{d:02d} {h:02d}:{mi:02d}:{s:02d}",
            f"{y}{m:02d}{d:02d}{h:02d}{mi:02d}{s:02d}",
            f"{d:02d}.{m:02d}.{y} {d:02d}.{m:02d}.{y + 1}",
        )
    )


def ip(rng: random.Random) -> str:
    one = ".".join(str(rng.randint(1, 254)) for _ in range(4))
    several = " ".join(".".join(str(rng.randint(1, 254)) for _ in range(4)) for _ in range(3))
    return rng.choice(
        (one, f"{one}:{rng.randint(1, 65535)}", several, f"2001:db8::{digits(rng, 4)}")
    )


def long_number(rng: random.Random) -> str:
    value = digits(rng, rng.randint(20, 32), "123456789")
    return rng.choice((value, fours(value), fours(value, "-")))


def amount(rng: random.Random) -> str:
    euros, cents = rng.randint(1, 99_999_999), rng.randint(0, 99)
    spaced = f"{euros:,}".replace(",", " ")
    return rng.choice(
        (
            f"{spaced},{cents:02d} €",
            f"{euros:,}.{cents:02d}",
            f"{spaced} EUR",
            f"{euros:_}".replace("_", "."),
        )
    )


def nir(rng: random.Random) -> str:
    value = rng.choice("12") + digits(rng, 2) + f"{rng.randint(1, 12):02d}" + digits(rng, 10)
    cuts = (0, 1, 3, 5, 7, 10, 13, 15)
    spaced = " ".join(value[a:b] for a, b in zip(cuts, cuts[1:], strict=False))
    return rng.choice((value, spaced))


def other_range(rng: random.Random) -> str:
    """Luhn-valid, card-length, outside every brand range: a gift card, a loyalty account."""
    first = rng.choice(("1", "7", "80", "85", "89", "9", "0"))
    value = luhn_complete(first + digits(rng, rng.choice((15, 17, 18)) - len(first) + 1))
    return rng.choice((value, fours(value)))


def random_id(rng: random.Random) -> str:
    """13-19 random digits with no label: no one can tell such a number from a card."""
    return digits(rng, rng.randint(13, 19), "123456789")


def timestamp(rng: random.Random) -> str:
    return rng.choice(
        (
            str(rng.randint(1_500_000_000_000, 1_800_000_000_000)),
            f"https://x.com/support/status/{rng.randint(10**18, 2 * 10**18)}",
            f"https://shop.example/orders/{digits(rng, 16, '123456789')}?utm_source=mail",
        )
    )


MAKERS = {
    "phone": phone,
    "phone_intl": phone_intl,
    "iban": iban,
    "rib": rib,
    "siren": siren,
    "siret": siret,
    "tva": tva,
    "ean": ean13,
    "imei": imei,
    "iccid": iccid,
    "tracking": tracking,
    "order": order,
    "invoice": invoice,
    "date": date,
    "ip": ip,
    "long": long_number,
    "amount": amount,
    "nir": nir,
    "other_range": other_range,
    "random_id": random_id,
    "timestamp": timestamp,
}


def make(rng: random.Random, slot: str) -> tuple[str, str]:
    return MAKERS[slot](rng), slot
