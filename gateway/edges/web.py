"""The web endpoint for signed links: the standard library's threaded HTTP server in a thread.

Each route is a word and a desk: `GET /<word>/<token>?...` shows a page (never acts: mail
scanners follow links), `POST /<word>/<token>` acts. The rating page is `/rate/`. Put it behind
a reverse proxy for TLS. Desks build the pages; here we only speak HTTP, cap request sizes and
set strict headers.
"""

from __future__ import annotations

import logging
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

from gateway.ratings import Page
from gateway.store.db import StoreUnavailable

log = logging.getLogger(__name__)

MAX_FORM_BYTES = 16 * 1024
_ROUTE = re.compile(r"^/([a-z-]{1,30})/([A-Za-z0-9_.-]{1,300})$")
HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    # No script, no outside resource, forms post only back here, never framed.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the token is in the address
    "Cache-Control": "no-store",
}


class Desk(Protocol):
    def show(self, token: str, query: dict[str, str]) -> Page: ...

    def submit(self, token: str, form: dict[str, str], remote: str) -> Page:
        """`remote` is the client's IP address, for desks that keep it as proof."""

    def error_page(self, problem: str) -> str: ...


def _handler(routes: dict[str, Desk], fallback: Desk) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "gateway-ratings"
        sys_version = ""
        timeout = 30  # a silent client does not hold a thread for ever

        def do_GET(self) -> None:
            self._answer(lambda desk, token, query: desk.show(token, query))

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_POST(self) -> None:
            def submit(desk: Desk, token: str, _query) -> Page:
                length = int(self.headers.get("Content-Length") or 0)
                kind = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
                if not 0 <= length <= MAX_FORM_BYTES:
                    return Page(413, desk.error_page("malformed"))
                if kind != "application/x-www-form-urlencoded":
                    return Page(415, desk.error_page("malformed"))
                body = self.rfile.read(length).decode("utf-8", "replace")
                fields = parse_qs(body, keep_blank_values=True, max_num_fields=10)
                return desk.submit(token, _flat(fields), self.client_address[0])

            self._answer(submit)

        def _answer(self, action) -> None:
            parts = urlsplit(self.path)
            match = _ROUTE.match(parts.path)
            desk = routes.get(match.group(1)) if match else None
            try:
                if desk is None:
                    page = Page(404, fallback.error_page("malformed"))
                else:
                    query = _flat(parse_qs(parts.query, max_num_fields=10))
                    page = action(desk, match.group(2), query)
            except StoreUnavailable as error:
                log.warning("web page: database unavailable: %s", error)
                page = Page(503, (desk or fallback).error_page("unavailable"))
            except ValueError:
                page = Page(400, (desk or fallback).error_page("malformed"))
            self._send(page)

        def _send(self, page: Page) -> None:
            data = page.html.encode("utf-8")
            self.send_response(page.status)
            for name, value in HEADERS.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def log_message(self, format: str, *args) -> None:  # tokens stay out of the logs
            log.debug("web page %s %s", getattr(self, "command", "-"), self.client_address[0])

    return Handler


def _flat(fields: dict[str, list[str]]) -> dict[str, str]:
    return {name: values[0] for name, values in fields.items()}


class WebServer:
    """Binds at once (so a taken port fails start-up); serves after `start`."""

    def __init__(self, routes: dict[str, Desk], host: str, port: int):
        fallback = next(iter(routes.values()))
        self._server = ThreadingHTTPServer((host, port), _handler(routes, fallback))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="rating-page", daemon=True
        )

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
