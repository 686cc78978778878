"""The composition root: builds every part from the configuration and wires them together.

Tests build a `Gateway` with their own clock and mail sender; production uses the defaults.
Nothing outside the composition root (this module, `app_timed.py` for the timed actions and
`app_serving.py`, which runs the parts) reads the configuration.
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway import app_timed, config_timed, intake, jobs
from gateway.app_serving import Serving
from gateway.approvals import ApprovalDesk
from gateway.bounce_desk import BounceDesk
from gateway.config import Config
from gateway.core import reading
from gateway.core.limits import MailLimits
from gateway.core.model import Policy
from gateway.delivery import Delivery, MailSender, RetryPolicy
from gateway.delivery_alerts import DeliveryAlerts
from gateway.edges import imap_in, imap_mailbox, parser_process, smtp_out, web, workers
from gateway.notices import Company, Notices
from gateway.outbox import Renderer
from gateway.process import Processor, Settings
from gateway.ratings import RatingDesk
from gateway.sender_auth import Authenticator, Resolver
from gateway.staff_desk import StaffDesk, StaffSettings
from gateway.staff_notices import StaffNotices
from gateway.staff_opening import OpeningSettings, StaffOpening
from gateway.store import health
from gateway.store.db import Database
from gateway.store.vault import Vault
from gateway.urgency import Urgency

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"


def utc_now() -> datetime:
    return datetime.now(UTC)


def build_sender(config: Config, environ: dict | None = None) -> MailSender:
    import os

    out = config.outbound
    if out.mode == "maildir":
        return smtp_out.MaildirSender(config.path(out.maildir))
    password = (environ or os.environ).get(out.password_env, "") if out.password_env else ""
    return smtp_out.SmtpSender(
        out.host,
        out.port,
        starttls=out.starttls,
        implicit_tls=out.implicit_tls,
        ca_file=str(config.path(out.ca_file)) if out.ca_file else None,
        username=out.username,
        password=password,
        timeout=out.timeout_seconds,
        local_hostname=config.company.domain,
    )


def build_pollers(
    config: Config,
    db: Database,
    clock: Callable[[], datetime],
    on_accept: Callable[[], None],
    environ: dict | None = None,
) -> list[imap_in.Poller]:
    """One poller per `[[imap.accounts]]`, storing through the same intake as SMTP."""
    import os

    environ = os.environ if environ is None else environ
    domain = config.company.domain

    def store(mails: list[intake.RawMail]) -> list[intake.Accepted]:
        return intake.accept(db, mails, clock(), domain)

    pollers = []
    for account in config.imap.accounts:
        if account.password_env and account.password_env not in environ:
            log.warning("imap %s: %s is not set", account.username, account.password_env)
        login = imap_mailbox.Login(
            account.username,
            password=environ.get(account.password_env, "") if account.password_env else "",
            token_file=config.path(account.xoauth2_token_file)
            if account.xoauth2_token_file
            else None,
            token_command=account.xoauth2_token_command,
        )
        user = account.username
        mailbox = imap_mailbox.Mailbox(
            account.host,
            account.port,
            account.security,
            login,
            account.folders,
            account.processed_folder,
            address=user if "@" in user else config.company.support_address,
        )
        pollers.append(
            imap_in.Poller(
                mailbox,
                store,
                on_accept,
                config.accepted_domains,
                config.imap.poll_seconds,
                max_message_size=config.smtp.max_message_size,
                ssl_context=ssl.create_default_context(cafile=str(config.path(account.ca_file)))
                if account.ca_file
                else None,
                on_state=_imap_state_recorder(db, clock, mailbox.name),
            )
        )
    return pollers


def _imap_state_recorder(db: Database, clock, name: str) -> Callable[[str, str], None]:
    def record(state: str, reason: str) -> None:
        with db.write() as session:
            health.record_imap_state(session, clock(), name, state, reason)

    return record


def build_authenticator(config: Config, resolver: Resolver | None) -> Authenticator:
    """The sender checks; verify mode asks the DNS (tests pass an in-memory zone)."""
    auth = config.auth
    if auth.mode == "verify" and resolver is None:
        from gateway.edges.dns_resolver import DnsResolver

        resolver = DnsResolver(timeout=auth.dns_timeout_seconds)
    return Authenticator(auth.mode, auth.trusted_authserv_ids, resolver)


class Gateway(Serving):
    def __init__(
        self,
        config: Config,
        *,
        clock: Callable[[], datetime] = utc_now,
        sender: MailSender | None = None,
        templates_dir: Path = TEMPLATES_DIR,
        resolver: Resolver | None = None,
    ):
        self.config, self.clock = config, clock
        self.db = Database(
            config.database_url,
            busy_timeout_ms=config.database.busy_timeout_ms,
            vault=Vault(config.path(config.privacy.key_file)),
        )
        company = config.company
        renderer = Renderer(templates_dir, company.language)
        about = Company(
            name=company.name,
            support_address=company.support_address,
            domain=company.domain,
            tag=company.tag,
            language=company.language,
            first_response_minutes=config.sla.first_response_minutes,
        )
        self.notices = Notices(renderer, about)
        self.rating_links = app_timed.rating_links(config)
        staff_notices = StaffNotices(renderer, about, self.rating_links)
        self.approvals = ApprovalDesk(
            renderer,
            about,
            staff_notices,
            base_url=config.web.base_url,
            expire_after=timedelta(days=config.approvals.expire_days),
        )
        staff_desk = StaffDesk(
            staff_notices,
            StaffSettings(
                trusted_authserv_ids=config.auth.trusted_authserv_ids,
                insecure_trust_staff_from=config.auth.insecure_trust_staff_from,
                max_reply_size=config.outbound.max_message_size,
                language=config.company.language,
                urgency=Urgency(config.sla.urgent_minutes, config_timed.calendars(config)),
            ),
            approvals=self.approvals,
            opening=StaffOpening(
                self.notices,
                OpeningSettings(
                    first_response_minutes=config.sla.first_response_minutes,
                    calendars=config_timed.calendars(config),
                    default_department=config.routing.default_department,
                ),
            ),
        )
        lim = config.limits
        self.parser = parser_process.ParserProcess(
            lim.parse_timeout_seconds, lim.parse_memory_mb, reading.read_mail
        )
        self.processor = Processor(
            self.db,
            self.notices,
            staff_notices,
            staff_desk,
            Settings(
                support_address=company.support_address,
                complaints_address=company.complaints_address,
                domain=company.domain,
                tag=company.tag,
                own_domains=config.accepted_domains,
                urgent_minutes=config.sla.urgent_minutes,
                policy=Policy(
                    first_response_minutes=config.sla.first_response_minutes,
                    auto_per_hour=config.limits.auto_per_hour,
                    auto_per_day=config.limits.auto_per_day,
                    stranger_notice_hours=config.limits.stranger_notice_hours,
                    stranger_notices_per_hour=config.limits.stranger_notices_per_hour,
                    calendar=config_timed.calendars(config).for_department(
                        config.routing.default_department
                    ),
                ),
                batch_size=config.processing.batch_size,
                default_department=config.routing.default_department,
                routes=config.routing.routes(),
                keyword_routes=config.routing.keyword_routes(),
                calendars=config_timed.calendars(config),
                mail_limits=MailLimits(
                    max_depth=lim.max_mime_depth,
                    max_parts=lim.max_mime_parts,
                    max_attachment_bytes=lim.max_attachment_bytes,
                    max_attachments_bytes=lim.max_attachments_bytes,
                ),
            ),
            clock,
            BounceDesk(staff_notices, about.bounce_address),
            reader=self.parser,
            authenticator=build_authenticator(config, resolver),
            approvals=self.approvals,
        )
        self.sender = sender or build_sender(config)
        out = config.outbound
        self.delivery = Delivery(
            self.db,
            self.sender,
            clock,
            RetryPolicy(
                first_retry=timedelta(minutes=out.first_retry_minutes),
                max_retry=timedelta(minutes=out.max_retry_minutes),
                lifetime=timedelta(hours=out.lifetime_hours),
                automatic_lifetime=timedelta(hours=out.automatic_lifetime_hours),
            ),
            on_given_up=DeliveryAlerts(staff_notices).given_up,
        )
        sweep = config.processing.sweep_seconds
        self.delivery_worker = workers.Worker("delivery", self.delivery.run_once, sweep)
        self.process_worker = workers.Worker("processor", self._process_step, sweep)
        # Woken after each commit besides our own processor: the processor's child process
        # when serving split, or in an extra listener process, `gateway serve` it tells.
        self.companion = None
        # Woken when mail is queued besides our own delivery: the delivery's child process
        # when serving split, or in the processor's child process, `gateway serve` it tells.
        self.deliverer = None
        # In the processor's child process: when the listener last committed (SMTP first).
        self.intake_pace = None
        self.committer = intake.GroupCommitter(
            self.db, clock, company.domain, on_commit=self.mail_committed
        )
        self.pollers = (
            build_pollers(config, self.db, clock, self.mail_committed)
            if config.imap.enabled
            else []
        )
        context = app_timed.job_context(
            config, renderer, about, staff_notices, self.rating_links, self.approvals
        )
        self.jobs = jobs.Runner(self.db, context, clock)
        self.jobs_worker = workers.Worker(
            "timed-actions", self._immediate_jobs, config.jobs.every_seconds
        )
        self.rating_desk = RatingDesk(self.db, self.rating_links, clock, about)
        self.web: web.WebServer | None = None
        self.controller = None
        self.scheduler = None
        self.role: str | None = None
        self._stopped = threading.Event()

    def init(self) -> None:
        self.db.create_schema()
        if isinstance(self.sender, smtp_out.MaildirSender):
            self.sender.ensure()
