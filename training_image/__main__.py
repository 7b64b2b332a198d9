"""The container entrypoint: `python -m training_image`.

1. Validate the environment (contract.read_container_env). A missing or malformed variable
   fails the job at once, with a message naming the variable.
2. Claim the job: `queued -> running`, a conditional write (a cancelled job stays cancelled).
   A retried AWS Batch attempt (AWS_BATCH_JOB_ATTEMPT > 1) re-claims the job its first
   attempt left `failed` / `interrupted`: `failed -> running`, attempt + 1, only while the
   record still names this Batch job (contract.can_reclaim).
3. Load the dataset from storage, run `pipeline.train_frame`, upload every artifact.
4. `running -> completed` with metrics, artifact keys and preprocessing facts.

Any exception becomes `failed` with an error type, a message a user can act on and the phase
it happened in; tracebacks go to the container log only. SIGTERM (Batch timeout, Spot
reclaim) is recorded as `failed` / `interrupted` before the process exits. Progress is
written at most every 2 seconds, and only while the job is `running`.

Exit codes: 0 done (or the job was no longer ours to run), 1 the job failed, 2 bad
environment, 3 the job could not be claimed, 143 SIGTERM.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from training_image import contract
from training_image.contract import (
    ContainerConfig,
    ContainerEnvError,
    ErrorType,
    JobPhase,
    JobStatus,
    utcnow,
)
from training_image.errors import DataError, JobCancelled, StorageError, TrainingError
from training_image.jobstore import JobStore, open_job_store, with_retries

log = logging.getLogger("training_image")

PROGRESS_INTERVAL = 2.0  # seconds between progress writes, at most one write per interval
HEARTBEAT_INTERVAL = 10.0  # a write at least this often, even when nothing changed
EXIT_FAILED, EXIT_CONFIG, EXIT_NOT_CLAIMED, EXIT_SIGTERM = 1, 2, 3, 143


class ProgressReporter:
    """Keeps the latest progress and writes it to the job record from a background thread.

    `update` only stores the snapshot (cheap, callable from any thread); the thread writes
    it at most every PROGRESS_INTERVAL seconds. When a write finds the job no longer
    `running` (cancelled by the user, failed by reconciliation), `on_cancel` runs and the
    next `update` raises JobCancelled.
    """

    def __init__(
        self, store: JobStore, job_id: str, on_cancel: Callable[[], None] | None = None
    ) -> None:
        self.store = store
        self.job_id = job_id
        self.on_cancel = on_cancel
        self.latest: dict[str, Any] = {"phase": str(JobPhase.STARTING), "message": "Starting"}
        self.cancelled = False
        self._dirty = False
        self._last_write = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="progress", daemon=True)

    @property
    def phase(self) -> str:
        return str(self.latest.get("phase") or JobPhase.STARTING)

    def start(self) -> None:
        self._thread.start()

    def update(self, progress: dict[str, Any]) -> None:
        if self.cancelled:
            raise JobCancelled(f"job {self.job_id} is no longer running")
        with self._lock:
            self.latest = {**progress, "updated_at": utcnow()}
            self._dirty = True

    def set_phase(self, phase: str, message: str) -> None:
        self.update({**self.latest, "phase": str(phase), "message": message})

    def _run(self) -> None:
        while not self._stop.wait(PROGRESS_INTERVAL):
            self.flush(force=False)

    def flush(self, *, force: bool = True) -> None:
        with self._lock:
            due = time.monotonic() - self._last_write >= HEARTBEAT_INTERVAL
            if not (force or self._dirty or due):
                return
            snapshot, self._dirty = dict(self.latest), False
        try:
            written = with_retries(
                lambda: self.store.update(self.job_id, progress=snapshot, heartbeat_at=utcnow())
            )
        except Exception:  # a missed heartbeat must not kill training
            log.warning("progress write failed:\n%s", traceback.format_exc())
            return
        self._last_write = time.monotonic()
        if not written and not self.cancelled:
            self.cancelled = True
            if self.on_cancel is not None:
                self.on_cancel()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=PROGRESS_INTERVAL + 5)


def _user_message(error: BaseException, phase: str) -> tuple[str, str]:
    """(error_type, message) for an exception: actionable text, never a traceback."""
    if isinstance(error, TrainingError):
        return str(error.error_type), error.message
    if isinstance(error, MemoryError):
        return (
            ErrorType.OUT_OF_MEMORY,
            f"Training ran out of memory while {phase}. Try a smaller file, fewer columns "
            "(exclude long text or identifier columns), or a larger container.",
        )
    if isinstance(error, ImportError):
        module = getattr(error, "name", None) or "a library"
        return (
            ErrorType.DEPENDENCY,
            f"The training container could not load {module} while {phase}. The image is "
            "broken; rebuilding it from training_image/requirements.txt fixes this.",
        )
    return (
        ErrorType.INTERNAL,
        f"An unexpected error ({type(error).__name__}) stopped training while {phase}. The "
        "container log has the details; resubmitting may help if it was transient.",
    )


class JobRun:
    """One run of the container for one job."""

    def __init__(self, config: ContainerConfig, store: JobStore, started: float) -> None:
        self.config = config
        self.store = store
        self.started = started
        self.reporter = ProgressReporter(store, config.job_id, on_cancel=self.on_cancel)
        self.workdir: Path | None = None
        self.terminating = False
        self.artifacts: dict[str, str] = {}
        self._storages: dict[str, Any] = {}

    # ------------------------------------------------------------------ lifecycle

    def claim(self) -> int | None:
        """queued -> running (or a retry's re-claim); an exit code when the job is not ours."""
        now = utcnow()
        fields = {
            "started_at": now,
            "heartbeat_at": now,
            "progress": {**self.reporter.latest, "updated_at": now},
            "error_type": None,
            "error_message": None,
            "error_phase": None,
        }
        claimed = with_retries(
            lambda: self.store.transition(
                self.config.job_id, JobStatus.RUNNING, expected=(JobStatus.QUEUED,), **fields
            )
        )
        if claimed:
            return None
        job = self.store.get(self.config.job_id)
        if job is None:
            log.error("job %s is not in the job table", self.config.job_id)
            return EXIT_NOT_CLAIMED
        if self.reclaim(job, fields):
            return None
        log.warning("job %s is %s, not queued: not running it", job.job_id, job.status)
        return 0 if job.status in contract.TERMINAL_STATUSES else EXIT_NOT_CLAIMED

    def reclaim(self, job: contract.Job, fields: dict[str, Any]) -> bool:
        """Take back a job this run's earlier attempt left interrupted (a Batch retry).

        The write is conditional on the facts `contract.can_reclaim` checked here, so a
        cancel, resubmit or reconciliation that moved the job on meanwhile wins.
        """
        runner_job_id, attempt = self.config.runner_job_id, self.config.runner_attempt
        if not runner_job_id or not contract.can_reclaim(
            job, runner_job_id=runner_job_id, runner_attempt=attempt
        ):
            return False
        reclaimed = with_retries(
            lambda: self.store.reclaim(
                job.job_id,
                runner_job_id=runner_job_id,
                attempt=job.attempt,
                completed_at=None,
                **fields,
            )
        )
        if reclaimed:
            log.info(
                "job %s re-claimed by attempt %s of %s after an interruption (job attempt %s)",
                job.job_id,
                attempt,
                runner_job_id,
                job.attempt + 1,
            )
        return reclaimed

    def run(self) -> int:
        _watch_sigterm(self.on_sigterm)
        try:
            code = self.claim()
        except Exception:  # e.g. the job table file does not exist
            log.error("job %s could not be claimed:\n%s", self.job_id, traceback.format_exc())
            return EXIT_NOT_CLAIMED
        if code is not None:
            return code
        self.reporter.start()
        try:
            with tempfile.TemporaryDirectory(prefix="automl-job-") as tmp:
                self.workdir = Path(tmp)
                self.train(self.workdir)
        except JobCancelled:
            log.warning("job %s left the running state; stopping without writing", self.job_id)
            return 0
        except BaseException as error:  # every failure is recorded
            if isinstance(error, (KeyboardInterrupt, SystemExit)):
                raise
            return self.fail(error)
        finally:
            self.reporter.stop()
        return 0

    @property
    def job_id(self) -> str:
        return self.config.job_id

    def excluded_columns(self) -> tuple[str, ...]:
        """The columns the user left out, from the job record (a list too long for the
        environment: AWS caps a Batch job's container overrides at 8,192 characters)."""
        job = with_retries(lambda: self.store.get(self.job_id))
        if job is None:
            raise JobCancelled(f"job {self.job_id} disappeared from the job table")
        return tuple(job.excluded_columns)

    def train(self, workdir: Path) -> None:
        from training_image.data import load_csv
        from training_image.pipeline import train_frame

        self.reporter.set_phase(JobPhase.LOADING, "Loading the dataset")
        datasets = self.storage("datasets")
        try:
            path = datasets.local_path(self.config.dataset_key, workdir)
        except StorageError as error:
            raise DataError(
                f"The dataset file could not be found ({self.config.dataset_key}); upload it again."
            ) from error
        df = load_csv(path, self.config.csv_dialect)
        log.info("loaded %s rows x %s columns", len(df), len(df.columns))
        excluded = self.excluded_columns()
        result = train_frame(
            df,
            self.config.target_column,
            time_budget=self.config.time_budget,
            problem_type=self.config.problem_type,
            metric=self.config.metric,
            excluded=excluded,
            class_names=dict(self.config.class_names),
            seed=self.config.seed,
            ensemble=self.config.ensemble,
            kept=self.config.kept_columns,
            progress=self.reporter.update,
            out_dir=workdir / "artifacts",
            on_artifact=self.upload,
            job_id=self.job_id,
            started=self.started,
        )
        # No progress write may land after the final one (it would find the job finished).
        self.reporter.stop()
        done = utcnow()
        progress = {**self.reporter.latest, "phase": str(JobPhase.DONE), "message": "Done"}
        progress.update(eta=0, elapsed=round(time.monotonic() - self.started, 1), updated_at=done)
        completed = with_retries(
            lambda: self.store.transition(
                self.job_id,
                JobStatus.COMPLETED,
                expected=(JobStatus.RUNNING,),
                completed_at=done,
                heartbeat_at=done,
                progress=progress,
                problem_type=result.problem_type,
                metric=result.metric,
                metrics=result.metrics,
                artifacts=dict(self.artifacts),
                preprocessing=result.preprocessing,
            )
        )
        if not completed:
            raise JobCancelled(f"job {self.job_id} left the running state before completing")
        log.info("job %s completed in %.1f s", self.job_id, time.monotonic() - self.started)

    def fail(self, error: BaseException) -> int:
        self.reporter.stop()
        phase = self.reporter.phase
        error_type, message = _user_message(error, phase)
        if isinstance(error, DataError):
            log.error("job %s: %s", self.job_id, message)
        else:
            log.error("job %s failed while %s:\n%s", self.job_id, phase, traceback.format_exc())
        written = with_retries(
            lambda: self.store.transition(
                self.job_id,
                JobStatus.FAILED,
                expected=(JobStatus.RUNNING,),
                error_type=error_type,
                error_message=message,
                error_phase=phase,
                completed_at=utcnow(),
                progress={**self.reporter.latest, "message": "Failed"},
            )
        )
        if not written:
            log.warning("job %s was no longer running; failure not recorded", self.job_id)
        return EXIT_FAILED

    def on_cancel(self) -> None:
        """The job left `running` under us (cancelled): stop at once, writing nothing.

        Called from the progress thread; the main thread may be deep inside a model fit that
        would otherwise keep burning the CPU the user asked to free.
        """
        if self.terminating:
            return  # the SIGTERM handler is recording the interruption and exits itself
        log.warning("job %s is no longer running (cancelled?); stopping", self.job_id)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
        logging.shutdown()
        os._exit(0)

    def on_sigterm(self) -> None:
        """Record the interruption, then leave at once (the main thread may be in C code)."""
        self.terminating = True
        phase = self.reporter.phase
        try:
            self.store.transition(
                self.job_id,
                JobStatus.FAILED,
                expected=(JobStatus.QUEUED, JobStatus.RUNNING),
                error_type=ErrorType.INTERRUPTED,
                error_message=(
                    f"The training container was stopped (SIGTERM) while {phase}: a time limit "
                    "or a reclaimed Spot instance. The job can be resubmitted."
                ),
                error_phase=phase,
                completed_at=utcnow(),
            )
        finally:
            log.error("job %s interrupted by SIGTERM while %s", self.job_id, phase)
            logging.shutdown()
            os._exit(EXIT_SIGTERM)

    # ------------------------------------------------------------------ storage

    def storage(self, alias: str) -> Any:
        from training_image.storage import open_storage

        if alias not in self._storages:
            location = {
                "datasets": self.config.datasets_location,
                "models": self.config.models_location,
                "reports": self.config.reports_location,
            }[alias]
            self._storages[alias] = open_storage(self.config.storage, location)
        return self._storages[alias]

    def upload(self, name: str, path: Path) -> None:
        key = contract.artifact_key(self.job_id, name)
        storage = self.storage(contract.ARTIFACT_STORAGE[name])
        with_retries(
            lambda: storage.write_file(
                key, path, content_type=contract.ARTIFACT_CONTENT_TYPES[name]
            )
        )
        self.artifacts[name] = key


def _watch_sigterm(handler: Any) -> None:
    """Run `handler` in its own thread when SIGTERM arrives.

    SIGTERM is blocked in every thread (threads started later inherit the mask) and a
    watcher thread waits for it with sigwait, so the interruption is recorded even while
    the main thread is inside a long LightGBM or XGBoost call.
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})

    def wait() -> None:
        signal.sigwait({signal.SIGTERM})
        handler()

    threading.Thread(target=wait, name="sigterm", daemon=True).start()


def _fail_misconfigured(environ: Mapping[str, str], error: ContainerEnvError) -> None:
    """Record a configuration error on the job when the job table itself is reachable."""
    message = f"The training container is misconfigured: {error}."
    job_id = (environ.get(contract.ENV_JOB_ID) or "").strip()
    kind = (environ.get(contract.ENV_JOB_STORE) or "").strip()
    location = (environ.get(contract.ENV_JOB_STORE_LOCATION) or "").strip()
    if not (job_id and kind in ("sqlite", "dynamodb") and location):
        log.error("%s (the job record cannot be reached to record it)", message)
        return
    try:
        store = open_job_store(kind, location)
        written = store.transition(
            job_id,
            JobStatus.FAILED,
            error_type=ErrorType.CONFIG,
            error_message=message,
            error_phase=JobPhase.STARTING,
            completed_at=utcnow(),
        )
    except Exception:  # the log is all that is left
        log.error("%s; recording it failed:\n%s", message, traceback.format_exc())
        return
    log.error("%s%s", message, "" if written else " (the job was not in a state to fail)")


def main(environ: Mapping[str, str] | None = None) -> int:
    """Run one training job from the environment; returns the process exit code."""
    started = time.monotonic()
    environ = os.environ if environ is None else environ
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s"
    )
    try:
        config = contract.read_container_env(environ)
    except ContainerEnvError as error:
        _fail_misconfigured(environ, error)
        return EXIT_CONFIG
    try:
        store = open_job_store(config.job_store, config.job_store_location)
    except Exception:  # e.g. boto3 missing or a bad table name
        log.error("the job table could not be opened:\n%s", traceback.format_exc())
        return EXIT_CONFIG
    return JobRun(config, store, started).run()


if __name__ == "__main__":
    sys.exit(main())
