"""`manage.py runlocal`: local mode in one foreground process (web + workers + beat).

Starts, after migrations and `create_tables`:

- a Celery worker for the default queue (dataset analysis) with beat embedded, which
  runs `reconcile_jobs` every 60 s;
- a Celery worker for the `training` queue running AUTOML_LOCAL_CONCURRENCY
  trainings at a time (threads: each task only waits on its subprocess);
- the web server on 127.0.0.1:8000.

The broker is the embedded SQLite file from settings: no server. Ctrl-C or SIGTERM
stops everything in order; running trainings are stopped and re-queued, so the next
`runlocal` picks them up again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from kombu import Queue

# Enough for a training worker to stop its subprocess (which gets 20 s to write its
# status) and re-queue the job before we stop waiting.
STOP_TIMEOUT_SECONDS = 45


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

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.IS_AWS:
            raise CommandError("runlocal runs local mode only (AUTOML_BACKEND=local)")
        concurrency = options["concurrency"] or settings.AUTOML_LOCAL_CONCURRENCY
        if concurrency < 1:
            raise CommandError("--concurrency must be 1 or more")
        self._prepare()
        children = self._start(options["addr"], concurrency, web=not options["no_web"])
        stop = {"requested": False}

        def request_stop(signum: int, _frame: Any) -> None:
            stop["requested"] = True

        previous = {
            sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        exit_code = 0
        try:
            while not stop["requested"]:
                for name, child in children:
                    if child.poll() is not None:
                        self.stderr.write(f"{name} exited with code {child.returncode}; stopping")
                        exit_code = 1
                        stop["requested"] = True
                        break
                time.sleep(0.5)
        finally:
            self._stop(children)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if exit_code:
            raise CommandError("a local-mode process stopped unexpectedly")
        self.stdout.write("Stopped.")

    def _prepare(self) -> None:
        """Tables, folders and the broker's own tables, before any child starts."""
        from automl_lite.celery import app
        from jobs import services

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
        # A worker killed last time may have taken queued jobs' messages with it, and its
        # trainings may have died: hand waiting jobs back, fail the dead ones.
        report = services.jobs_reconcile(requeue_waiting=True)
        if report.checked:
            self.stdout.write(f"Recovered jobs from the last run: {report}")

    def _start(
        self, addr: str, concurrency: int, *, web: bool
    ) -> list[tuple[str, subprocess.Popen]]:
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
        commands = [
            (
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
            (
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
            ),
        ]
        if web:
            manage = str(settings.BASE_DIR / "manage.py")
            commands.append(
                ("web server", [sys.executable, manage, "runserver", addr, "--noreload"])
            )
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": os.environ.get(
                "DJANGO_SETTINGS_MODULE", "automl_lite.settings"
            ),
        }
        children = []
        for name, command in commands:
            # Own sessions: the terminal's Ctrl-C reaches only us, and we stop the children in order.
            child = subprocess.Popen(
                command, env=env, cwd=settings.BASE_DIR, start_new_session=True
            )
            children.append((name, child))
        if web:
            self.stdout.write(
                f"AutoML Lite (local mode) on http://{addr}/ — Ctrl-C stops everything."
            )
        self.stdout.write(f"Training runs {concurrency} job(s) at a time.")
        return children

    def _stop(self, children: list[tuple[str, subprocess.Popen]]) -> None:
        """SIGTERM (web first), wait, then SIGKILL whatever is left."""
        for _name, child in reversed(children):
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for name, child in children:
            remaining = max(deadline - time.monotonic(), 0.1)
            try:
                child.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{name} did not stop in time; killing it")
                child.kill()
                child.wait()
