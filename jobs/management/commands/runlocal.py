"""`manage.py runlocal`: local mode in one foreground process (web + workers + beat).

Starts, after migrations and `create_tables`:

- a Celery worker for the default queue (dataset analysis) with beat embedded, which
  runs `reconcile_jobs` every 60 s and `purge_abandoned_uploads` every hour;
- a Celery worker for the `training` queue running AUTOML_LOCAL_CONCURRENCY
  trainings at a time (threads: each task only waits on its subprocess);
- the web server on 127.0.0.1:8000: gunicorn with the web image's settings
  (`automl_lite/gunicorn.conf.py`), or Django's autoreloading runserver with `--dev`.

The broker is the embedded SQLite file from settings: no server.

It supervises them: a process that dies is started again after a pause that doubles with
each quick failure (1 s, 2 s, 4 s ... up to 60 s; back to 1 s once a process has run for
a minute), and each restart is logged. Before a training worker (re)starts, trainings
whose worker is gone are stopped and their jobs reconciled, so no training runs outside
the AUTOML_LOCAL_CONCURRENCY limit. Only Ctrl-C or SIGTERM stops everything, in order
(web first); running trainings are stopped and re-queued, so the next `runlocal` picks
them up again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from kombu import Queue

logger = logging.getLogger("jobs.runlocal")

# Enough for a training worker to stop its subprocess (which gets 20 s to write its
# status) and re-queue the job before we stop waiting.
STOP_TIMEOUT_SECONDS = 45
# Restart backoff: the first pause, its ceiling, and how long a process must have run
# for its next failure to count as the first again.
BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 60.0
BACKOFF_RESET_AFTER_SECONDS = 60.0
POLL_SECONDS = 0.5
GUNICORN_CONFIG = settings.BASE_DIR / "automl_lite" / "gunicorn.conf.py"


def backoff_seconds(failures: int) -> float:
    """The pause before restart number `failures` (1, 2, ...) of a quickly failing process."""
    return min(BACKOFF_FIRST_SECONDS * 2 ** max(failures - 1, 0), BACKOFF_MAX_SECONDS)


def web_command(addr: str, *, dev: bool) -> list[str]:
    """The web server: gunicorn as in the web image, or the autoreloading dev server."""
    if dev:
        return [sys.executable, str(settings.BASE_DIR / "manage.py"), "runserver", addr]
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        str(GUNICORN_CONFIG),
        "--bind",
        addr,
        "automl_lite.wsgi",
    ]


@dataclass
class Child:
    """One supervised process and its restart state."""

    name: str
    command: list[str]
    before_start: Callable[[], None] | None = None
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    failures: int = 0
    restart_at: float | None = None
    restarts: int = 0


class Command(BaseCommand):
    help = "Run local mode: web server, analysis + training workers and the reconcile schedule."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000", help="host:port of the web server")
        parser.add_argument(
            "--concurrency",
            type=int,
            default=None,
            help="trainings at once (default: AUTOML_LOCAL_CONCURRENCY)",
        )
        parser.add_argument(
            "--no-web", action="store_true", help="start the workers only (no web server)"
        )
        parser.add_argument(
            "--dev",
            action="store_true",
            help="serve with Django's autoreloading development server instead of gunicorn",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.IS_AWS:
            raise CommandError("runlocal runs local mode only (AUTOML_BACKEND=local)")
        concurrency = options["concurrency"] or settings.AUTOML_LOCAL_CONCURRENCY
        if concurrency < 1:
            raise CommandError("--concurrency must be 1 or more")
        self._prepare()
        children = self._children(
            options["addr"], concurrency, web=not options["no_web"], dev=options["dev"]
        )
        stop = {"requested": False}

        def request_stop(signum: int, _frame: Any) -> None:
            stop["requested"] = True

        previous = {
            sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            for child in children:
                self._spawn(child)
            if not options["no_web"]:
                server = "development server" if options["dev"] else "gunicorn"
                self.stdout.write(
                    f"AutoML Lite (local mode) on http://{options['addr']}/ ({server}) — "
                    "Ctrl-C stops everything."
                )
            self.stdout.write(f"Training runs {concurrency} job(s) at a time.")
            while not stop["requested"]:
                for child in children:
                    self._supervise(child, stop)
                time.sleep(POLL_SECONDS)
        finally:
            self._stop(children)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.stdout.write("Stopped.")

    # ------------------------------------------------------------------ start-up

    def _prepare(self) -> None:
        """Tables, folders and the broker's own tables, before any child starts."""
        from automl_lite.celery import app

        settings.VAR_DIR.mkdir(parents=True, exist_ok=True)
        for alias in ("datasets", "models", "reports"):
            (settings.MEDIA_ROOT / alias).mkdir(parents=True, exist_ok=True)
        call_command("migrate", interactive=False, verbosity=0)
        call_command("create_tables", verbosity=0)
        # Declare both queues once here, which creates the SQLite broker's tables, so the
        # three children do not race to create them.
        with app.connection_for_write() as connection:
            for name in ("celery", "training"):
                Queue(name).bind(connection.default_channel).declare()

    def _recover_trainings(self) -> None:
        """Before a training worker starts: no training may run without its worker.

        A worker killed last time (this run or the previous one) may have left a training
        process behind (where the kernel did not kill it with its parent) and taken queued
        jobs' messages with it. Stop such processes, fail the jobs whose process is gone,
        and hand waiting jobs back to the queue.
        """
        from automl_lite import wiring
        from jobs import services
        from jobs.runners.local import stop_orphaned_trainings

        stopped = stop_orphaned_trainings(wiring.job_repository())
        if stopped:
            self._log(f"stopped {len(stopped)} training(s) left by a dead worker: {stopped}")
        report = services.jobs_reconcile(requeue_waiting=True)
        if report.checked:
            self._log(f"recovered jobs: {report}")

    def _children(self, addr: str, concurrency: int, *, web: bool, dev: bool) -> list[Child]:
        celery = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "automl_lite",
            "worker",
            "--loglevel",
            "INFO",
        ]
        children = [
            Child(
                "analysis worker + beat",
                [
                    *celery,
                    "-Q",
                    "celery",
                    "-c",
                    "1",
                    "-n",
                    "default@%h",
                    "-B",
                    "-s",
                    str(settings.VAR_DIR / "celerybeat-schedule"),
                ],
            ),
            Child(
                "training worker",
                [
                    *celery,
                    "-Q",
                    "training",
                    "-P",
                    "threads",
                    "-c",
                    str(concurrency),
                    "-n",
                    "training@%h",
                ],
                before_start=self._recover_trainings,
            ),
        ]
        if web:
            children.append(Child("web server", web_command(addr, dev=dev)))
        return children

    def _spawn(self, child: Child) -> None:
        if child.before_start is not None:
            try:
                child.before_start()
            except Exception:  # noqa: BLE001 - a failed recovery must not stop the supervisor
                logger.exception("Preparing to start the %s failed", child.name)
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": os.environ.get(
                "DJANGO_SETTINGS_MODULE", "automl_lite.settings"
            ),
        }
        # Own sessions: the terminal's Ctrl-C reaches only us, and we stop the children in order.
        child.process = subprocess.Popen(
            child.command, env=env, cwd=settings.BASE_DIR, start_new_session=True
        )
        child.started_at = time.monotonic()
        child.restart_at = None

    # ------------------------------------------------------------------ supervision

    def _supervise(self, child: Child, stop: dict[str, bool]) -> None:
        """Notice a dead child, schedule its restart with backoff, restart it when due."""
        now = time.monotonic()
        if child.restart_at is None:
            if child.process is None or child.process.poll() is None:
                return
            # What it leaves in its group goes with it (embedded beat, pool processes,
            # gunicorn workers), so the restart does not run beside them. Trainings have
            # sessions of their own and are handled by `_recover_trainings`.
            _signal_group(child.process, signal.SIGKILL)
            ran = now - child.started_at
            child.failures = 1 if ran >= BACKOFF_RESET_AFTER_SECONDS else child.failures + 1
            delay = backoff_seconds(child.failures)
            child.restart_at = now + delay
            self._log(
                f"{child.name} (pid {child.process.pid}) exited with code "
                f"{child.process.returncode} after {ran:.0f} s; restarting in {delay:.0f} s",
                error=True,
            )
            return
        if now >= child.restart_at and not stop["requested"]:
            child.restarts += 1
            self._spawn(child)
            self._log(f"{child.name} restarted (pid {child.process.pid}, restart {child.restarts})")

    def _log(self, message: str, *, error: bool = False) -> None:
        stamp = dt.datetime.now().strftime("%H:%M:%S")
        line = f"[runlocal {stamp}] {message}"
        (self.stderr if error else self.stdout).write(line)
        self.stdout.flush()

    # ------------------------------------------------------------------ stop

    def _stop(self, children: list[Child]) -> None:
        """SIGTERM each child (web first), wait, then SIGKILL whatever is left of its group."""
        running = [c for c in children if c.process is not None and c.process.poll() is None]
        for child in reversed(running):
            child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for child in running:
            remaining = max(deadline - time.monotonic(), 0.1)
            try:
                child.process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{child.name} did not stop in time; killing it")
                _signal_group(child.process, signal.SIGKILL)
                child.process.wait()
            # What the child left in its group (the dev server's reloaded process).
            _signal_group(child.process, signal.SIGKILL)


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)
