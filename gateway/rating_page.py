"""The rating page's HTML, in English or French: plain, accessible, no script, no external
resource (styles are inline), so it works in any browser and behind strict policies.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from gateway.rating_links import SCALE

TEXTS = {
    "en": {
        "title": "Rate our reply",
        "intro": "The reply {staff} sent you on {date} about {tag} \u201c{subject}\u201d.",
        "legend": "Your rating, from 1 (poor) to 5 (excellent)",
        "labels": ("1 \u2013 poor", "2 \u2013 fair", "3 \u2013 good", "4 \u2013 very good",
                   "5 \u2013 excellent"),
        "comment": "Comment (optional)",
        "confirm": "Confirm my rating",
        "previous": "You rated this reply {score}/5 before; confirming replaces that rating.",
        "thanks_title": "Thank you",
        "thanks": "Your rating ({score}/5) is recorded. You can close this page.",
        "error_title": "This link does not work",
        "malformed": "This rating link is incomplete or damaged. Please use the link from the "
        "mail as it is.",
        "forged": "This rating link is not valid.",
        "expired": "This rating link has expired. You can still answer the mail itself.",
        "missing": "The reply this link rates no longer exists.",
        "score": "Please choose a rating from 1 to 5.",
        "unavailable": "Ratings cannot be recorded right now. Please try again in a moment.",
    },
    "fr": {
        "title": "Notez notre réponse",
        "intro": "La réponse que {staff} vous a envoyée le {date} sur {tag} "
        "\u00ab\u00a0{subject}\u00a0\u00bb.",
        "legend": "Votre note, de 1 (mauvaise) à 5 (excellente)",
        "labels": ("1 \u2013 mauvaise", "2 \u2013 passable", "3 \u2013 bonne",
                   "4 \u2013 très bonne", "5 \u2013 excellente"),
        "comment": "Commentaire (facultatif)",
        "confirm": "Confirmer ma note",
        "previous": "Vous avez déjà noté cette réponse {score}/5 ; confirmer remplace cette note.",
        "thanks_title": "Merci",
        "thanks": "Votre note ({score}/5) est enregistrée. Vous pouvez fermer cette page.",
        "error_title": "Ce lien ne fonctionne pas",
        "malformed": "Ce lien de notation est incomplet ou abîmé. Utilisez le lien du message "
        "tel quel.",
        "forged": "Ce lien de notation n'est pas valide.",
        "expired": "Ce lien de notation a expiré. Vous pouvez toujours répondre au message.",
        "missing": "La réponse que ce lien permet de noter n'existe plus.",
        "score": "Veuillez choisir une note de 1 à 5.",
        "unavailable": "Les notes ne peuvent pas être enregistrées pour le moment. Réessayez "
        "dans un instant.",
    },
}  # fmt: skip

STYLE = (
    "body{font-family:sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;"
    "line-height:1.5;color:#111;background:#fff}"
    "fieldset{border:1px solid #767676;padding:.5rem 1rem 1rem}"
    "legend{font-weight:bold;padding:0 .3rem}"
    ".choice{display:block;padding:.35rem 0;font-size:1.1rem}"
    "input[type=radio]{width:1.2rem;height:1.2rem;margin-right:.6rem;vertical-align:middle}"
    "textarea{box-sizing:border-box;width:100%;font:inherit;margin-top:.3rem}"
    "button{font:inherit;font-size:1.1rem;padding:.6rem 1.4rem;margin-top:1rem;color:#fff;"
    "background:#1a5fb4;border:0;border-radius:4px;cursor:pointer}"
    ":focus{outline:3px solid #e66100;outline-offset:2px}"
    ".error{color:#a51d2d;font-weight:bold}"
)


@dataclass(frozen=True)
class ReplyFacts:
    staff: str
    date: str
    tag: str
    subject: str


def texts(language: str) -> dict:
    return TEXTS.get(language, TEXTS["en"])


def form(language: str, facts: ReplyFacts, chosen: int | None, previous: int | None,
         error: str = "") -> str:  # fmt: skip
    t = texts(language)
    intro = t["intro"].format(**{k: escape(v) for k, v in facts.__dict__.items()})
    choices = "\n".join(
        f'<label class="choice"><input type="radio" name="score" value="{score}"'
        f"{' checked' if score == chosen else ''} required> {escape(label)}</label>"
        for score, label in zip(SCALE, t["labels"], strict=True)
    )
    notes = f'<p class="error" role="alert">{escape(error)}</p>\n' if error else ""
    if previous:
        notes += f"<p>{escape(t['previous'].format(score=previous))}</p>\n"
    body = (
        f"<h1>{escape(t['title'])}</h1>\n<p>{intro}</p>\n{notes}"
        '<form method="post" action="">\n'
        f"<fieldset><legend>{escape(t['legend'])}</legend>\n{choices}\n</fieldset>\n"
        f'<p><label for="comment">{escape(t["comment"])}</label>\n'
        '<textarea id="comment" name="comment" rows="4" maxlength="2000"></textarea></p>\n'
        f'<button type="submit">{escape(t["confirm"])}</button>\n</form>'
    )
    return page(language, t["title"], body)


def thanks(language: str, score: int) -> str:
    t = texts(language)
    body = f"<h1>{escape(t['thanks_title'])}</h1>\n<p>{escape(t['thanks'].format(score=score))}</p>"
    return page(language, t["thanks_title"], body)


def error(language: str, problem: str) -> str:
    t = texts(language)
    title = t["unavailable" if problem == "unavailable" else "error_title"]
    body = f"<h1>{escape(t['error_title'])}</h1>\n<p>{escape(t[problem])}</p>"
    return page(language, title, body)


def page(language: str, title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="{escape(language)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
        f"<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n"
    )
