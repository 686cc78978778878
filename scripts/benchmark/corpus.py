"""A corpus of realistic customer mail for the benchmark: new requests and replies.

Mail is built the way common clients write it (text, HTML-only, alternatives, small
attachments; utf-8, iso-8859-1 and windows-1252 in 8bit, quoted-printable or base64), from
registered contacts, and replies thread by reply token, References or the subject tag.
"""

from __future__ import annotations

import email.charset
import email.policy
import email.utils
import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes
from email.header import Header
from email.mime.application import MIMEApplication
from email.mime.image import MIMEImage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

WIRE = email.policy.compat32.clone(linesep="\r\n")
FIRST = ["Zoë", "François", "José", "Åsa", "Mary", "Jürgen", "Inès", "Li", "Amélie", "Tom"]
LAST = ["Müller", "Lefèvre", "Núñez", "Ström", "Smith", "Dubois", "O'Brien", "Rossi", "Nowak"]
SUBJECTS = {
    "en": ["Cannot send mail since this morning", "Invoice {n} looks wrong",
           "Website down (error 503)", "Please renew the certificate for shop.{d}",
           "Backup restore request", "DNS change for {d}", "Mailbox full — what now?"],
    "fr": ["Impossible d'envoyer des e-mails depuis ce matin", "Facture {n} erronée",
           "Le site ne répond plus (erreur 503)", "Renouvellement du certificat de {d}",
           "Demande de restauration d'une sauvegarde", "Boîte aux lettres pleine : que faire ?"],
}  # fmt: skip
PARAGRAPHS = {
    "en": ["Since about 9:00 our users get a bounce when they write to external addresses.",
           "The amount on the last invoice is €129.90, but our contract says €99.",
           "We changed nothing on our side; the “contact” page shows an error.",
           "Could you please have a look as soon as possible? Our customers are waiting.",
           "I attached the log file and a screenshot of the error message."],
    "fr": ["Depuis 9 h environ, nos collaborateurs reçoivent un message d'erreur à l'envoi.",
           "Le montant de la dernière facture ne correspond pas à notre contrat.",
           "Nous n'avons rien modifié de notre côté ; la page d'accueil reste blanche.",
           "Pourriez-vous regarder cela rapidement ? Nos clients sont très gênés.",
           "Vous trouverez ci-joint le journal et une capture d'écran de l'erreur."],
}  # fmt: skip
# (charset, body encoding); None means 8bit.
ENCODINGS = [
    ("utf-8", None), ("utf-8", email.charset.QP), ("utf-8", email.charset.BASE64),
    ("iso-8859-1", email.charset.QP), ("iso-8859-1", None),
    ("windows-1252", email.charset.QP), ("windows-1252", email.charset.BASE64),
]  # fmt: skip
MAILERS = ["Mozilla Thunderbird 128.3", "Microsoft Outlook 16.0", "Apple Mail (2.3774)", ""]


@dataclass(frozen=True)
class Person:
    email: str
    name: str
    account: str
    language: str


@dataclass(frozen=True)
class Mail:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes  # CRLF line endings, not yet dot-stuffed
    kind: str  # "new" or "reply"
    shape: str  # plain | html | alternative | attachments
    charset: str
    message_id: str = ""


@dataclass(frozen=True)
class Confirmation:
    contact: str
    message_id: str
    subject: str
    reply_to: str
    ticket: int


def people(count: int, rng: random.Random) -> list[Person]:
    found = []
    for i in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        account = f"customer-{i % max(1, count // 5):03d}"
        local = re.sub(r"[^a-z]", "", f"{first}.{last}".lower().encode("ascii", "ignore").decode())
        found.append(
            Person(f"{local}.{i}@{account}.example", f"{first} {last}", account,
                   "fr" if i % 3 == 0 else "en")
        )  # fmt: skip
    return found


def contacts_csv(persons: list[Person]) -> str:
    lines = ["email,name,account,role,language"]
    for i, p in enumerate(persons):
        role = "owner" if i % 5 == 0 else "user"
        lines.append(f'{p.email},"{p.name}",{p.account},{role},{p.language}')
    return "\n".join(lines) + "\n"


def _text_part(text: str, subtype: str, charset: str, encoding) -> MIMEText:
    try:
        text.encode(charset)
    except UnicodeEncodeError:  # e.g. "€" or curly quotes in iso-8859-1: clients pick utf-8
        charset = "utf-8"
    cs = email.charset.Charset(charset)
    cs.body_encoding, cs.header_encoding = encoding, email.charset.QP
    return MIMEText(text, subtype, cs)


def _html(paragraphs: list[str]) -> str:
    body = "".join(f"<p>{p.replace('&', '&amp;').replace('<', '&lt;')}</p>\n" for p in paragraphs)
    return (
        f'<html><head><style>p {{ margin: 0 }}</style></head><body dir="auto">{body}</body></html>'
    )


def _attachments(rng: random.Random) -> list:
    parts = []
    for _ in range(rng.choice((1, 1, 2))):
        choice = rng.random()
        if choice < 0.4:
            line = "2026-11-23 09:{:02d}:00 smtp[{}]: to=<x@example.org>, status=deferred\n"
            log = "".join(
                line.format(i, rng.randint(100, 999)) for i in range(rng.randint(10, 120))
            )
            part = MIMEText(log, "plain", "utf-8")
            part.add_header("Content-Disposition", "attachment", filename="mail.log")
        elif choice < 0.8:
            part = MIMEImage(b"\x89PNG\r\n\x1a\n" + rng.randbytes(rng.randint(2000, 12000)), "png")
            part.add_header("Content-Disposition", "attachment", filename="capture écran.png")
        else:
            part = MIMEApplication(b"%PDF-1.4\n" + rng.randbytes(rng.randint(4000, 20000)), "pdf")
            part.add_header("Content-Disposition", "attachment", filename="facture.pdf")
        parts.append(part)
    return parts


def _body(text: str, paragraphs: list[str], shape: str, charset: str, encoding, rng):
    if shape == "plain":
        return _text_part(text, "plain", charset, encoding)
    if shape == "html":
        return _text_part(_html(paragraphs), "html", charset, encoding)
    alternative = MIMEMultipart("alternative")
    alternative.attach(_text_part(text, "plain", charset, encoding))
    alternative.attach(_text_part(_html(paragraphs), "html", charset, encoding))
    if shape == "alternative":
        return alternative
    mixed = MIMEMultipart("mixed")
    mixed.attach(alternative if rng.random() < 0.5 else _text_part(text, "plain", charset, None))
    for part in _attachments(rng):
        mixed.attach(part)
    return mixed


def _envelope(message, person: Person, to: str, subject: str, charset: str, rng) -> str:
    client = person.email.rpartition("@")[2]
    message_id = email.utils.make_msgid(domain=f"mail.{client}")
    now = datetime.now(UTC)
    ip = f"192.0.2.{rng.randint(1, 254)}"
    message["Received"] = (f"from mail.{client} (mail.{client} [{ip}]) by mx.support.example "
                           f"with ESMTPS id {rng.getrandbits(40):x}; "
                           f"{email.utils.format_datetime(now)}")  # fmt: skip
    message["From"] = email.utils.formataddr((person.name, person.email), charset=charset)
    message["To"] = to
    message["Subject"] = Header(subject, "utf-8" if charset == "us-ascii" else charset)
    message["Date"] = email.utils.format_datetime(now.astimezone())
    message["Message-ID"] = message_id
    mailer = rng.choice(MAILERS)
    if mailer:
        message["User-Agent"] = mailer
    return message_id


def _shape(rng: random.Random) -> str:
    return rng.choices(["plain", "html", "alternative", "attachments"], [40, 15, 25, 20])[0]


def _encodable(text: str, charset: str) -> str:
    try:
        text.encode(charset)
        return charset
    except UnicodeEncodeError:
        return "utf-8"


def new_request(person: Person, support: str, rng: random.Random) -> Mail:
    lang = person.language
    paragraphs = rng.sample(PARAGRAPHS[lang], rng.randint(2, 4))
    number = rng.randint(10000, 99999)
    # Each request its own words, as people write them: the same words from the same person
    # within a day are a resend, which joins the first one's ticket.
    paragraphs.append(f"Référence : {number}." if lang == "fr" else f"Reference: {number}.")
    text = "\n\n".join([("Bonjour," if lang == "fr" else "Hello,"), *paragraphs, person.name])
    charset, encoding = rng.choice(ENCODINGS)
    charset = _encodable(text, charset)
    subject = rng.choice(SUBJECTS[lang]).format(n=number, d=person.account + ".example")
    shape = _shape(rng)
    message = _body(text, paragraphs, shape, charset, encoding, rng)
    message_id = _envelope(message, person, support, subject, _encodable(subject, charset), rng)
    return Mail(person.email, (support,), message.as_bytes(policy=WIRE), "new", shape, charset,
                message_id)  # fmt: skip


def reply(person: Person, conf: Confirmation, support: str, style: str, rng) -> Mail:
    """A reply to `conf`: via the token address, References only, or the subject tag only."""
    lang = person.language
    paragraphs = [rng.choice(PARAGRAPHS[lang])]
    quoted = (f"> We have received your request and logged it as ticket #{conf.ticket}.\n"
              "> To add anything, simply reply to this message.")  # fmt: skip
    text = "\n\n".join([*paragraphs, person.name, quoted])
    charset, encoding = rng.choice(ENCODINGS)
    charset = _encodable(text, charset)
    shape = rng.choices(["plain", "html", "alternative", "attachments"], [50, 10, 30, 10])[0]
    message = _body(text, paragraphs, shape, charset, encoding, rng)
    to, subject = support, f"Re: {conf.subject}"
    if style == "token":
        to = conf.reply_to
    if style in ("token", "references"):
        message["In-Reply-To"] = conf.message_id
        message["References"] = conf.message_id
    _envelope(message, person, to, subject, _encodable(subject, charset), rng)
    return Mail(person.email, (to,), message.as_bytes(policy=WIRE), "reply", shape, charset)


def read_confirmations(maildir: Path, message_ids: set[str]) -> list[Confirmation]:
    found = []
    for path in sorted((maildir / "new").iterdir()):
        message = message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if str(message["Message-ID"]) not in message_ids:
            continue  # a notice, not a confirmation
        subject = str(message["Subject"])
        match = re.search(r"#(\d+)\]", subject)
        if match is None or not message["Reply-To"]:
            continue
        found.append(
            Confirmation(str(message["Delivered-To"]).lower(), str(message["Message-ID"]),
                         subject, message["Reply-To"].addresses[0].addr_spec,
                         int(match.group(1)))
        )  # fmt: skip
    # Ticket numbers follow arrival order, which varies; the contacts do not: the same seed
    # gives the same corpus from run to run.
    return sorted(found, key=lambda c: (c.contact, c.subject))


def build(persons, confirmations, support: str, count: int, reply_share: float, rng):
    """`count` mails: new requests from any contact and replies to the given confirmations."""
    by_email = {p.email: p for p in persons}
    mails = []
    for _ in range(count):
        if confirmations and rng.random() < reply_share:
            conf = rng.choice(confirmations)
            style = rng.choices(["token", "references", "tag"], [60, 20, 20])[0]
            mails.append(reply(by_email[conf.contact], conf, support, style, rng))
        else:
            mails.append(new_request(rng.choice(persons), support, rng))
    return mails


def wire(data: bytes) -> bytes:
    """The DATA payload: dot-stuffed, CRLF-terminated, followed by the final dot."""
    data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    if data.startswith(b"."):
        data = b"." + data
    return data.replace(b"\r\n.", b"\r\n..") + b".\r\n"
