"""The composition root's part that runs what `app.Gateway` built: the roles of `gateway
serve` (listener, processor, delivery, an extra SMTP listener, or all of them), their workers
and scheduler, and the wake-ups between its processes.

`Serving` is a base of `app.Gateway` and uses the parts its constructor made.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading

from gateway import config_checks, config_timed, jobs
from gateway.approval_page import ApprovalPages
from gateway.edges import children, pacing, smtp_gate, smtp_in, web, workers

log = logging.getLogger(__name__)

# "smtp": an extra SMTP listener process sharing the port (`smtp.processes`), nothing else.
ROLES = ("all", "listener", "processor", "delivery", "smtp")
# `gateway serve` by default: the listener here, the processor and the delivery as children.
SPLIT = "split"
# A processor or a delivery in a process of its own is woken by `gateway serve` when the
# processes before it have work for it, but not by a command run beside it (`gateway inbound
# retry`, `gateway jobs run`) or by a part on another host: it also looks this often (a read).
SPLIT_POLL_SECONDS = 0.1
# The roles that run each part (start and stop ask the same question).
PROCESSING = ("all", "processor")
DELIVERING = ("all", "delivery")
LISTENING = ("all", "listener", "smtp")


class Serving:
    """Starting, running and stopping the parts of one role; see `app.Gateway` for the parts."""

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

    def start(self, role: str = "all") -> None:
        """Start the parts of `role` (returns once listening): the "listener" (SMTP, IMAP, the
        web endpoint and the intake writer), the "processor" (processing and the scheduler),
        the "delivery" (sending what the outbox holds), "all", or "smtp" (SMTP and the intake
        writer only: an extra listener). Run apart, they use a core each and share only the
        database."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        self.role = role
        processing, delivering = role in PROCESSING, role in DELIVERING
        if processing:
            if role == "processor":
                self.process_worker.interval = SPLIT_POLL_SECONDS
            self.parser.start()  # spawned now, not when the first mail arrives
            self.process_worker.start()
            self.jobs_worker.start()
        if delivering:
            if role == "delivery":
                self.delivery_worker.interval = SPLIT_POLL_SECONDS
            self.delivery_worker.start()
        if role in LISTENING:
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
            smtp_gate.ConnectionGate(
                self.config.smtp.max_connections, self.config.smtp.max_connections_per_ip
            ),
            max_header_bytes=self.config.smtp.max_header_bytes,
            max_bytes_in_flight=self.config.smtp.max_bytes_in_flight,
        )
        self.controller = smtp_in.make_controller(
            handler,
            self.config.smtp.host,
            self.config.smtp.port,
            self.config.smtp.max_message_size,
            self.config.company.domain or socket.getfqdn(),
            reuse_port=shared,
            tls_context=config_checks.listener_tls(self.config),
            command_timeout=self.config.smtp.command_timeout_seconds,
            data_timeout=self.config.smtp.data_timeout_seconds,
        )
        self.controller.start()
        if self.role == "smtp":
            return
        for poller in self.pollers:
            poller.start()
        approval = ApprovalPages(self.db, self.approvals, self.clock, self.mail_queued)
        pages = {"rate": self.rating_desk, "approval": approval}
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
        if self.role in LISTENING:
            self.committer.stop()
        if self.role in PROCESSING:
            self.process_worker.stop()
            self.jobs_worker.stop()
        if self.role in DELIVERING:
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
            self.intake_pace = pacing.IntakePace()
            self.processor.give_way = self.intake_pace.give_way
        self.start(role)
        if companion is not None:
            self.companion = companion
        if deliverer is not None:  # mail queued here (an answer on the web page) wakes it
            self.deliverer = deliverer
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
        worker = self.delivery_worker if self.role == "delivery" else self.process_worker
        pace = self.intake_pace
        while os.read(0, 4096):
            if pace is not None:  # the processor's: each byte is a listener's commit
                pace.committed()
            worker.wake()
        self._stopped.set()
