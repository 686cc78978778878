"""The automatic mails the gateway writes to customers, built from templates.

Each function renders, composes and queues one mail inside the caller's transaction. The
stranger notice is fixed text: it echoes nothing the stranger wrote (the "Ticket Trick").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from gateway import compose, outbox
from gateway.core import threads
from gateway.core.limits import Violation
from gateway.core.model import ContactInfo, ParsedMail

LANGUAGES = ("en", "fr")


@dataclass(frozen=True)
class Company:
    name: str
    support_address: str
    domain: str
    tag: str
    language: str
    first_response_minutes: int

    def draft_to(
        self,
        email: str,
        name: str,
        rendered,
        language: str,
        *,
        reply_to: str = "",
        in_reply_to: str = "",
        references: tuple[str, ...] = (),
        auto_submitted: str = "auto-replied",
    ) -> compose.Draft:
        """Automatic mail from the support address to one person: the shape every notice
        shares (loop header, language, Auto-Submitted)."""
        return compose.Draft(
            from_name=self.name,
            from_address=self.support_address,
            to=(compose.Recipient(email, name),),
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            reply_to=reply_to,
            in_reply_to=in_reply_to,
            references=tuple(references),
            auto_submitted=auto_submitted,
            language=language,
            loop_domain=self.domain,
        )

    @property
    def bounce_address(self) -> str:
        return f"bounces@{self.support_address.partition('@')[2]}"


class Notices:
    def __init__(self, renderer: outbox.Renderer, company: Company):
        self.renderer, self.company = renderer, company

    def language(self, preferred: str) -> str:
        return preferred if preferred in LANGUAGES else self.company.language

    def confirmation(
        self,
        session,
        ticket,
        contact: ContactInfo,
        mail: ParsedMail,
        now: datetime,
        echo=True,
        taken_by: str = "",
    ):
        """Written confirmation of a new ticket, threaded under the customer's own mail; with
        `echo` false (unverified sender) nothing the mail said is repeated; `taken_by`: the
        staff member who logged it for the customer (`staff_opening`)."""
        company, lang = self.company, self.language(contact.language)
        rendered = self.renderer.render(
            "confirmation",
            lang,
            {
                "company": company.name,
                "contact_name": contact.name,
                "ticket_number": ticket.id,
                "tag": threads.subject_tag(company.tag, ticket.id),
                "subject": ticket.subject,
                "echo": echo,
                "taken_by": taken_by,
                "body": mail.text if echo else "",
                "attachments": [a.filename for a in mail.attachments] if echo else [],
                "response_minutes": company.first_response_minutes,
                "support_address": company.support_address,
            },
        )
        draft = company.draft_to(
            contact.email,
            contact.name,
            rendered,
            lang,
            reply_to=threads.token_address(company.support_address, ticket.reply_token),
            in_reply_to=mail.message_id,
            references=mail.references,
        )
        outbox.enqueue(
            session,
            draft,
            kind="confirmation",
            ticket_id=ticket.id,
            envelope_from=company.bounce_address,
            now=now,
            message_domain=company.domain,
            dedupe_key=f"confirmation:ticket:{ticket.id}",
        )

    def refused(self, session, contact: ContactInfo, mail: ParsedMail, why: Violation, now):
        """Tell a contact in plain words, in their language, why their message was held."""
        company, lang = self.company, self.language(contact.language)
        rendered = self.renderer.render(
            "refused_notice",
            lang,
            {"company": company.name, "support_address": company.support_address,
             "subject": mail.subject, "reason": why.reason, "facts": dict(why.facts),
             "why": why.detail, "contact_name": contact.name},
        )  # fmt: skip
        draft = company.draft_to(
            contact.email, contact.name, rendered, lang, in_reply_to=mail.message_id
        )
        outbox.enqueue(session, draft, kind="refused-notice", ticket_id=None,
                       envelope_from=company.bounce_address, now=now,
                       message_domain=company.domain)  # fmt: skip

    def stranger(self, session, address: str, now: datetime) -> None:
        company = self.company
        rendered = self.renderer.render(
            "stranger_notice",
            company.language,
            {"company": company.name, "support_address": company.support_address},
        )
        draft = company.draft_to(address, "", rendered, company.language)
        outbox.enqueue(
            session,
            draft,
            kind="stranger-notice",
            ticket_id=None,
            envelope_from="",
            now=now,
            message_domain=company.domain,
        )
