"""Rating links put under each staff reply: one signed token per reply and contact.

The scale is 1 (poor) to 5 (excellent), everywhere: links, the page, ratings by mail, reports.
The signing key comes from configuration (`[web] secret_env` or `secret_file`) or, when neither
is set, from a random key kept in the database, which every gateway sharing it agrees on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from gateway.core import rating_token

SCALE = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class Link:
    score: int
    url: str


@dataclass(frozen=True)
class RatingLinks:
    key: Callable[[object], bytes]  # session -> key (the database may hold it)
    base_url: str
    link_days: int = 30

    def links(self, session, reply_id: int, contact_id: int, now: datetime) -> tuple[Link, ...]:
        expires = int((now + timedelta(days=self.link_days)).timestamp())
        claim = rating_token.RatingClaim(reply_id, contact_id, expires)
        token = rating_token.sign(self.key(session), claim)
        return tuple(Link(score, self.url(token, score)) for score in SCALE)

    def url(self, token: str, score: int | None = None) -> str:
        address = f"{self.base_url.rstrip('/')}/rate/{token}"
        return address if score is None else f"{address}?score={score}"

    def check(self, session, token: str, now: datetime) -> rating_token.Checked:
        return rating_token.verify(self.key(session), token, now)


def context(links: tuple[Link, ...]) -> list[dict]:
    """What the mail templates show: each score with its link."""
    return [{"score": link.score, "url": link.url} for link in links]
