"""The page behind a permission request's signed links: GET shows the question and asks to
confirm, only the POST of the confirm button records the answer (mail scanners open links).
Plain HTML in English and French, no script, no outside resource."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from html import escape

from gateway.approvals import ApprovalDesk
from gateway.ratings import Page
from gateway.store.db import Database

_WORDS = {
    "approve": ("I approve / J'accepte", "approve"),
    "deny": ("I refuse / Je refuse", "refuse"),
}
_STYLE = (
    "body{font-family:sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;"
    "line-height:1.5;color:#111;background:#fff}blockquote{border-left:3px solid #767676;"
    "margin:1rem 0;padding-left:1rem;white-space:pre-wrap}button{font:inherit;font-size:1.1rem;"
    "padding:.6rem 1.4rem;color:#fff;background:#1a5fb4;border:0;border-radius:4px}"
    ":focus{outline:3px solid #e66100;outline-offset:2px}"
)


def _page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main><h1>{escape(title)}</h1>{body}</main></body></html>"
    )


class ApprovalPages:
    def __init__(
        self,
        db: Database,
        approvals: ApprovalDesk,
        clock: Callable[[], datetime],
        mail_queued: Callable[[], None] = lambda: None,
    ):
        self.db, self.approvals, self.clock = db, approvals, clock
        self.mail_queued = mail_queued  # wakes delivery: the written decision goes out at once

    def show(self, token: str, query: dict[str, str]) -> Page:
        facts = self.approvals.describe_link(self.db, token, self.clock())
        if facts is None:
            return Page(403, self.error_page("invalid"))
        label, verb = _WORDS.get(facts["decision"], (facts["decision"], facts["decision"]))
        if facts["status"] != "pending":
            body = f"<p>This request was already answered ({escape(facts['status'])}).</p>"
            return Page(409, _page("Permission request / Demande d'autorisation", body))
        body = (
            f"<p>{escape(facts['asked_by'])} asks, on {escape(facts['ticket'])} / "
            f"demande, sur {escape(facts['ticket'])} :</p>"
            f"<blockquote>{escape(facts['question'])}</blockquote>"
            f"<p>Confirm that you {verb} this request. / Confirmez votre réponse.</p>"
            f'<form method="post"><button type="submit">{escape(label)}</button></form>'
        )
        return Page(200, _page("Permission request / Demande d'autorisation", body))

    def submit(self, token: str, form: dict[str, str], remote: str = "") -> Page:
        """Records the answer, with the IP address it came from as part of its proof."""
        outcome = self.approvals.answer_by_link(self.db, token, self.clock(), remote)
        if not outcome.counted:
            english, french = outcome.detail, outcome.detail
            if outcome.refusal is not None:
                english = self.approvals.refusal_words(outcome.refusal, "en")
                french = self.approvals.refusal_words(outcome.refusal, "fr")
            body = (
                f"<p>Your answer was not recorded: {escape(english)}.</p>"
                f'<p lang="fr">Votre réponse n\'a pas été enregistrée : {escape(french)}.</p>'
            )
            return Page(403, _page("Not recorded / Non enregistré", body))
        self.mail_queued()
        body = "<p>Your answer is recorded; a written confirmation follows by mail.</p>"
        body += "<p>Votre réponse est enregistrée ; une confirmation écrite suit par courriel.</p>"
        return Page(200, _page("Thank you / Merci", body))

    def error_page(self, problem: str) -> str:
        body = "<p>This link is not valid or has expired. / Ce lien n'est pas valide.</p>"
        return _page("This link does not work / Ce lien ne fonctionne pas", body)
