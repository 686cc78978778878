"""The composition root: builds every part from the configuration and wires them together.

Tests build a `Gateway` with their own clock and mail sender; production uses the defaults.
Nothing else in the package reads the configuration.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway import app_timed, config_timed, intake, jobs
from gateway.approval_page import ApprovalPages
from gateway.approvals import ApprovalDesk
from gateway.bounce_desk import BounceDesk
from gateway.config import Config
from gateway.core import reading
from gateway.core.limits import MailLimits
from gateway.core.model import Policy
from gateway.edges import children, imap_in, parser_process, smtp_in, smtp_out, web, workers
from gateway.notices import Company, Notices
from gateway.outbox import Delivery, MailSender, Renderer, RetryPolicy
from gateway.process import Processor, Settings
from gateway.ratings import RatingDesk
from gateway.sender_auth import Authenticator, Resolver
from gateway.staff_desk import StaffDesk, StaffSettings
from gateway.staff_notices import StaffNotices
from gateway.store.db import Database
from gateway.store.vault import Vault

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
# "smtp": an extra SMTP listener process sharing the port (`smtp.processes`), nothing else.
ROLES = ("all", "listener", "processor", "delivery", "smtp")
# `gateway serve` by default: the listener here, the processor and the delivery as children.
SPLIT = "split"
# A processor or a delivery running on its own, not as a child of `gateway serve`, cannot be
# woken by the processes before it (they share only the database): it looks for work this
# often instead.
SPLIT_POLL_SECONDS = 0.1


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
        login = imap_in.Login(
            account.username,
            password=environ.get(account.password_env, "") if account.password_env else "",
            token_file=config.path(account.xoauth2_token_file)
            if account.xoauth2_token_file
            else None,
            token_command=account.xoauth2_token_command,
        )
        user = account.username
        mailbox = imap_in.Mailbox(
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
            )
        )
    return pollers


def build_authenticator(config: Config, resolver: Resolver | None) -> Authenticator:
    """The sender checks; verify mode asks the DNS (tests pass an in-memory zone)."""
    auth = config.auth
    if auth.mode == "verify" and resolver is None:
        from gateway.edges.dns_resolver import DnsResolver

        resolver = DnsResolver(timeout=auth.dns_timeout_seconds)
    return Authenticator(auth.mode, auth.trusted_authserv_ids, resolver)


class Gateway:
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
            ),
            approvals=self.approvals,
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
                policy=Policy(
                    first_response_minutes=config.sla.first_response_minutes,
                    auto_per_hour=config.limits.auto_per_hour,
                    auto_per_day=config.limits.auto_per_day,
                    stranger_notice_hours=config.limits.stranger_notice_hours,
                    calendar=config_timed.calendars(config).for_department(
                        config.routing.default_department
                    ),
                ),
                batch_size=config.processing.batch_size,
                default_department=config.routing.default_department,
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
            ),
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
        self.committer = intake.GroupCommitter(
            self.db, clock, company.domain, on_commit=self.mail_committed
        )
        self.pollers = (
            build_pollers(config, self.db, clock, self.mail_committed)
            if config.imap.enabled
            else []
        )
        context = app_timed.job_context(config, renderer, about, staff_notices, self.rating_links)
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

    def mail_committed(self) -> None:
        """New mail is committed, here or by an extra listener process: wake whoever processes
        it, here or in the child process."""
        self.process_worker.wake()
        if self.companion is not None:
            self.companion.wake()

    def mail_queued(self) -> None:
        """Mail is queued: wake whoever delivers it, here or in the delivery's child process."""
        self.delivery_worker.wake()
        if self.deliverer is not None:
            self.deliverer.wake()

    def _process_step(self) -> int:
        processed, queued = self.processor.run_once()
        if queued:
            self.mail_queued()
        if processed:  # complaints are taken in, and paused clocks moved, at once
            self.jobs_worker.wake()
        return processed

    def _immediate_jobs(self) -> int:
        if self.jobs.run_many(jobs.IMMEDIATE):
            self.mail_queued()
        return 0

    def _run_jobs(self, names: tuple[str, ...] = jobs.FREQUENT) -> None:
        if self.jobs.run_many(names):
            self.mail_queued()

    def init(self) -> None:
        self.db.create_schema()
        if isinstance(self.sender, smtp_out.MaildirSender):
            self.sender.ensure()

    def start(self, role: str = "all", woken: bool = False) -> None:
        """Start the parts of `role` (returns once listening): the "listener" (SMTP, IMAP, the
        web endpoint and the intake writer), the "processor" (processing and the scheduler),
        the "delivery" (sending what the outbox holds), "all", or "smtp" (SMTP and the intake
        writer only: an extra listener). Run apart, they use a core each and share only the
        database; `woken`: a parent process wakes this one when there is work."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        self.role = role
        processing, delivering = role in ("all", "processor"), role in ("all", "delivery")
        if processing:
            if role == "processor" and not woken:
                self.process_worker.interval = SPLIT_POLL_SECONDS
            self.parser.start()  # spawned now, not when the first mail arrives
            self.process_worker.start()
            self.jobs_worker.start()
        if delivering:
            if role == "delivery" and not woken:
                self.delivery_worker.interval = SPLIT_POLL_SECONDS
            self.delivery_worker.start()
        if role in ("all", "listener", "smtp"):
            self._start_listening()
        if processing or delivering:
            self._start_scheduler(processing, delivering)

    def _start_scheduler(self, processing: bool, delivering: bool) -> None:
        sweep, every = self.config.processing.sweep_seconds, self.config.jobs.every_seconds
        timers = [("inbound-sweep", self.process_worker.wake, sweep),
                  ("timed-actions", self._run_jobs, every)] if processing else []  # fmt: skip
        if delivering:
            timers.append(("outbox-delivery", self.delivery_worker.wake, sweep))
        self.scheduler = workers.make_scheduler(timers)
        if processing:
            report = self.config.report
            workers.add_weekly(
                self.scheduler, "weekly-report", lambda: self._run_jobs(("weekly-report",)),
                report.day, config_timed.report_time(report), self.config.company.timezone,
            )  # fmt: skip
        self.scheduler.start()
        for worker, started in ((self.process_worker, processing),
                                (self.delivery_worker, delivering)):  # fmt: skip
            if started:
                worker.wake()

    def _start_listening(self) -> None:
        smtp = self.config.smtp
        shared = smtp.processes > 1
        if shared and self.role != "smtp":  # the first of the processes sharing the port
            smtp_in.refuse_taken_port(smtp.host, smtp.port)
        self.committer.start()
        handler = smtp_in.InboundHandler(
            self.committer.submit,
            self.config.accepted_domains,
            self.config.smtp.max_recipients,
            self.config.smtp.max_received_headers,
        )
        self.controller = smtp_in.make_controller(
            handler,
            self.config.smtp.host,
            self.config.smtp.port,
            self.config.smtp.max_message_size,
            self.config.company.domain or socket.getfqdn(),
            reuse_port=shared,
        )
        self.controller.start()
        if self.role == "smtp":
            return
        for poller in self.pollers:
            poller.start()
        pages = {"rate": self.rating_desk, "approval": ApprovalPages(self.db, self.approvals,
                                                                    self.clock)}  # fmt: skip
        self.web = web.WebServer(pages, self.config.web.host, self.config.web.port)
        self.web.start()

    @property
    def smtp_port(self) -> int:
        return self.controller.port if self.controller else self.config.smtp.port

    def stop(self) -> None:
        if self.scheduler is not None:
            self.scheduler.shutdown(wait=False)
        if self.controller is not None:
            self.controller.stop()
        if self.web is not None:
            self.web.stop()
        if self.role in ("all", "listener"):
            for poller in self.pollers:
                poller.stop()
        if self.role in ("all", "listener", "smtp"):
            self.committer.stop()
        if self.role in ("all", "processor"):
            self.process_worker.stop()
            self.jobs_worker.stop()
        if self.role in ("all", "delivery"):
            self.delivery_worker.stop()
        self.parser.close()
        self.db.dispose()
        self._stopped.set()

    def serve_forever(
        self, role: str = "all", companion=None, listeners=(), deliverer=None,
        as_child: bool = False,
    ) -> None:  # fmt: skip
        """Serve until SIGINT or SIGTERM. A `companion` (the processor's child process) is
        woken after each commit; `listeners` are extra SMTP listener processes sharing the
        port, whose commits wake it too; a `deliverer` (the delivery's child process) is woken
        when the processor says it queued mail. `as_child` is the children's side: stdin
        closing (`gateway serve` stopped or died) stops this process, a byte on it wakes the
        processor or the delivery, an extra listener writes a byte to its stdout after each
        commit and the processor one after queuing mail."""
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: self._stopped.set())
        if as_child and role == "smtp":
            self.companion = children.Parent()
        if as_child and role == "processor":
            self.deliverer = children.Parent()
        self.start(role, woken=as_child)
        if companion is not None:
            self.companion = companion
        helpers = [c for c in (companion, deliverer, *listeners) if c is not None]
        for helper in helpers:
            helper.start()
        if as_child:
            threading.Thread(target=self._woken_by_stdin, name="wake-pipe", daemon=True).start()
        if role in ("processor", "delivery"):
            doing = "processing" if role == "processor" else "delivering"
            log.info("%s; outbound mode %s", doing, self.config.outbound.mode)
        else:
            log.info(
                "listening for SMTP on %s:%s; outbound mode %s",
                self.config.smtp.host,
                self.smtp_port,
                self.config.outbound.mode,
            )
        self._stopped.wait()
        self.stop()
        for helper in helpers:  # all told first: they finish what they hold side by side
            helper.close()
        for helper in helpers:
            helper.stop()

    def _woken_by_stdin(self) -> None:
        import os

        worker = self.delivery_worker if self.role == "delivery" else self.process_worker
        while os.read(0, 4096):
            worker.wake()
        self._stopped.set()
