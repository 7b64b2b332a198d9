"""LocalRunner: a Celery task runs the training container as a subprocess on this machine.

`submit` enqueues `jobs.tasks.run_training(job_id)` on the `training` queue; the
worker for that queue runs N tasks at a time (AUTOML_LOCAL_CONCURRENCY). The task
calls `run_job`, which starts `python -m training_image` with exactly the
environment `contract.container_env` builds (plus PATH, HOME, PYTHONPATH), records
`<host>:<pid>` as the job's `runner_job_id`, and waits. A process that exits without
a terminal record leaves the job `failed` (`lost`, with the exit code).

`describe` says a run is alive when a process with that pid exists *and* carries the
job's id in its environment, so a reused pid is never mistaken for the job.

A training never outlives its worker: on Linux the kernel SIGKILLs it when the thread
that started it dies (`PR_SET_PDEATHSIG`, so also on `kill -9` of the worker); a worker
that shuts down stops the process groups it started; and before `runlocal` (re)starts a
training worker, `stop_orphaned_trainings` stops any training whose worker is gone (other
systems, or a kernel that did not deliver the signal), so the concurrency limit holds.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from django.conf import settings

from core.exceptions import InvalidTransition, NotFound
from jobs.repository import fail_live_job
from jobs.runners.base import RunnerState, SubmitError
from training_image.contract import (
    ENV_JOB_ID,
    LIVE_STATUSES,
    Backend,
    ErrorType,
    Job,
    JobStatus,
    container_env,
)

if TYPE_CHECKING:
    from datasets.repository import DatasetRepository
    from jobs.repository import JobRepository

logger = logging.getLogger(__name__)

# Set when the Celery worker starts a warm shutdown: running trainings are stopped
# (SIGTERM) and re-queued, so stopping `runlocal` never strands a job.
SHUTTING_DOWN = threading.Event()

# How long a SIGTERMed container gets to write its own `failed` record before SIGKILL.
TERMINATE_GRACE_SECONDS = 20
# How often the waiting task re-reads the record (cancellation by another process).
RECORD_POLL_SECONDS = 2.0

# Exit codes of a process killed by the kernel's OOM killer (signal 9 seen directly, or
# 128 + 9 through a shell or container runtime).
OOM_EXIT_CODES = frozenset({-signal.SIGKILL, 128 + signal.SIGKILL})

# The only variables of the worker's own environment the container inherits: enough to
# find Python and its packages, and nothing secret.
INHERITED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")

# prctl(2) option: the signal the kernel sends a process when its parent thread dies.
PR_SET_PDEATHSIG = 1
# How often a stopped orphan (not our child: no wait()) is looked at again.
ORPHAN_POLL_SECONDS = 0.2

# The training processes this worker started and has not reaped yet.
_RUNNING: set[subprocess.Popen] = set()
_RUNNING_LOCK = threading.Lock()


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None
    return getattr(libc, "prctl", None)


_PRCTL = _load_prctl()


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` that makes the child get SIGKILL when its parent thread dies (Linux).

    Runs in the child between fork and exec. When the parent already died before the
    prctl call (the child was adopted), the child exits at once.
    """
    if _PRCTL is None:
        return None
    prctl = _PRCTL
    parent = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:
            os._exit(1)

    return preexec


def stop_running_trainings() -> int:
    """SIGKILL the process group of every training this worker still runs (its last act)."""
    with _RUNNING_LOCK:
        running = [p for p in _RUNNING if p.poll() is None]
    for process in running:
        logger.warning("Worker stopping: killing training process %s", process.pid)
        signal_process_group(process.pid, signal.SIGKILL)
    return len(running)


def hostname() -> str:
    return socket.gethostname()


def format_runner_id(pid: int, host: str | None = None) -> str:
    return f"{host or hostname()}:{pid}"


def parse_runner_id(runner_job_id: str | None) -> tuple[str, int] | None:
    """`(host, pid)` from a local runner id, None for anything else (e.g. a Batch id)."""
    if not runner_job_id or ":" not in runner_job_id:
        return None
    host, _, pid = runner_job_id.rpartition(":")
    if not pid.isdigit():
        return None
    return host, int(pid)


def is_job_process(pid: int, job_id: str) -> bool:
    """Whether `pid` is alive and is the training process of `job_id`.

    On Linux the process environment must carry AUTOML_JOB_ID=<job_id>, so a pid the
    kernel reused for something else is not mistaken for the job. Elsewhere, only
    existence is checked.
    """
    if pid <= 0:
        return False
    environ = Path(f"/proc/{pid}/environ")
    if Path("/proc/self/environ").exists():
        try:
            raw = environ.read_bytes()
        except (FileNotFoundError, ProcessLookupError):
            return False
        except PermissionError:
            return _pid_exists(pid)
        # A zombie (exited, not yet reaped) has an empty environment: not alive.
        return f"{ENV_JOB_ID}={job_id}".encode() in raw.split(b"\0")
    return _pid_exists(pid)


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_process_group(pid: int, sig: int) -> bool:
    """Send `sig` to the process group led by `pid` (the container and its helpers)."""
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        logger.warning("Not allowed to signal training process %s", pid)
        return False
    return True


def lost_message(exit_code: int | None) -> str:
    """What to tell the user about a process that ended without reporting."""
    if exit_code in OOM_EXIT_CODES:
        return (
            f"The training process was killed (exit code {exit_code}), most likely because the "
            "machine ran out of memory. Try a smaller dataset, exclude wide text columns, or "
            "free memory and resubmit."
        )
    if exit_code is None:
        return (
            "The training process ended without reporting a result (the worker was stopped or "
            "the machine restarted). Resubmit the job."
        )
    return (
        f"The training process exited with code {exit_code} without reporting a result. "
        "Check the worker's log, then resubmit the job."
    )


def container_process_env(job: Job, *, dataset_key: str, backend: Backend) -> dict[str, str]:
    """The subprocess environment: exactly the contract's variables plus PATH and friends."""
    env = container_env(job, dataset_key=dataset_key, backend=backend)
    for name in INHERITED_ENV:
        if name in os.environ:
            env.setdefault(name, os.environ[name])
    # The container package sits next to manage.py; make it importable from any cwd.
    env["PYTHONPATH"] = str(settings.BASE_DIR)
    env["PYTHONUNBUFFERED"] = "1"
    return env


class LocalRunner:
    """Runs training on this machine through the Celery `training` queue."""

    def submit(self, job: Job, *, dataset_key: str) -> str:
        """Enqueue the run; the worker records the process id when it starts it.

        Raises:
            SubmitError: the broker did not accept the task.
        """
        from kombu.exceptions import KombuError

        from jobs.tasks import run_training as run_training_task

        try:
            run_training_task.delay(job.job_id)
        except (KombuError, OSError) as exc:
            logger.exception("Could not enqueue training for job %s", job.job_id)
            raise SubmitError(
                "The local task queue did not accept the job "
                f"({type(exc).__name__}). Check that `manage.py runlocal` is running, "
                "then resubmit."
            ) from exc
        return ""

    def cancel(self, job: Job) -> None:
        """SIGTERM the job's process group when it runs on this machine."""
        parsed = parse_runner_id(job.runner_job_id)
        if parsed is None:
            return
        host, pid = parsed
        if host == hostname() and is_job_process(pid, job.job_id):
            signal_process_group(pid, signal.SIGTERM)

    def describe(self, jobs: Sequence[Job]) -> dict[str, RunnerState]:
        """Alive when the recorded pid is this job's process; jobs without a pid are left out."""
        states: dict[str, RunnerState] = {}
        me = hostname()
        for job in jobs:
            parsed = parse_runner_id(job.runner_job_id)
            if parsed is None or parsed[0] != me:
                continue  # not started yet, or started on another machine
            if is_job_process(parsed[1], job.job_id):
                states[job.job_id] = RunnerState(alive=True, status="running")
            else:
                states[job.job_id] = RunnerState(
                    alive=False, status="exited", reason=lost_message(None)
                )
        return states


def stop_orphaned_trainings(
    repository: Any,
    *,
    grace_seconds: float = TERMINATE_GRACE_SECONDS,
) -> list[str]:
    """Stop the training processes on this machine that no worker waits for any more.

    Called by `runlocal` before a training worker starts, when no worker of this machine
    runs: every live job whose recorded process still exists is an orphan. Each gets
    SIGTERM (time to record why it stopped), then SIGKILL after `grace_seconds`; the
    reconciliation that follows fails or re-queues the jobs. Returns their ids.
    """
    me = hostname()
    orphans: list[tuple[str, int]] = []
    for job in repository.list_by_status(list(LIVE_STATUSES)):
        parsed = parse_runner_id(job.runner_job_id)
        if parsed is not None and parsed[0] == me and is_job_process(parsed[1], job.job_id):
            orphans.append((job.job_id, parsed[1]))
    for job_id, pid in orphans:
        logger.warning("Job %s: stopping training process %s left by a dead worker", job_id, pid)
        signal_process_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    for job_id, pid in orphans:
        while is_job_process(pid, job_id) and time.monotonic() < deadline:
            time.sleep(ORPHAN_POLL_SECONDS)
        if is_job_process(pid, job_id):
            signal_process_group(pid, signal.SIGKILL)
    return [job_id for job_id, _ in orphans]


# --------------------------------------------------------------------------- worker side


@contextlib.contextmanager
def job_lock(job_id: str):  # a context manager yielding bool
    """An exclusive, non-blocking claim on running `job_id` on this machine.

    Yields False when another task already holds it. The kernel drops the lock when
    its holder dies, so a crashed worker never blocks a re-run.
    """
    folder = Path(settings.AUTOML_RECORDS_PATH).parent / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    handle: IO[bytes] = open(folder / f"{job_id}.lock", "wb")  # noqa: SIM115
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        handle.close()


def run_job(
    job_id: str,
    *,
    jobs: JobRepository,
    datasets: DatasetRepository,
    backend: Backend,
    popen: Callable[..., subprocess.Popen] = subprocess.Popen,
    poll_seconds: float = 0.5,
) -> str:
    """Run the training container for a queued job and wait for it (the task's body).

    The collaborators come from the caller (`jobs.tasks.run_training` takes them from
    `automl_lite.wiring`): the job and dataset repositories, and the container backend.

    Returns:
        What happened: "busy" (another task runs it), "skipped" (not queued any more),
        "deferred" (the worker is stopping; the job stays queued),
        "finished" (the container wrote a terminal record), "lost" (it did not; the
        job is now failed), "requeued" (stopped by a worker shutdown) or "failed"
        (it could not be started).
    """
    repository = jobs
    if SHUTTING_DOWN.is_set():
        # A stopping worker still receives messages; leave the job queued for the next
        # start (runlocal hands waiting jobs back to the queue when it starts).
        return "deferred"
    with job_lock(job_id) as claimed:
        if not claimed:
            return "busy"
        job = repository.get(job_id)
        if job is None or job.status != JobStatus.QUEUED:
            return "skipped"
        dataset = datasets.get(job.dataset_id)
        if dataset is None:
            fail_live_job(
                repository,
                job,
                ErrorType.DATA,
                "The dataset was deleted before training started. Upload it again.",
            )
            return "failed"
        env = container_process_env(job, dataset_key=dataset.storage_key, backend=backend)
        try:
            process = popen(
                [sys.executable, "-m", "training_image"],
                env=env,
                cwd=str(settings.BASE_DIR),
                stdin=subprocess.DEVNULL,
                # Own process group: the terminal's Ctrl-C reaches runlocal, which stops
                # the worker, which stops this group: one orderly path.
                start_new_session=True,
                # ...and if the worker dies without stopping it, the kernel kills it.
                preexec_fn=die_with_parent(),
            )
        except OSError as exc:
            logger.exception("Could not start the training process for job %s", job_id)
            fail_live_job(
                repository,
                job,
                ErrorType.SUBMIT,
                f"The training process could not be started ({type(exc).__name__}). Resubmit.",
            )
            return "failed"
        with _RUNNING_LOCK:
            _RUNNING.add(process)
        try:
            runner_id = format_runner_id(process.pid)
            try:
                repository.update(job_id, runner_job_id=runner_id, only_if_status=LIVE_STATUSES)
            except NotFound:
                _stop(process)  # deleted while starting
                return "skipped"
            except InvalidTransition:
                pass  # already finished (a very fast run) or cancelled: the wait loop sorts it
            logger.info("Job %s: training process %s started", job_id, process.pid)
            reason = _wait(repository, job, process, poll_seconds=poll_seconds)
        finally:
            with _RUNNING_LOCK:
                _RUNNING.discard(process)
        return _after_exit(repository, job_id, runner_id, process.returncode, reason)


def _wait(repository, job: Job, process: subprocess.Popen, *, poll_seconds: float) -> str:
    """Wait for the process; stop it on cancel, worker shutdown or the hard deadline."""
    # A generous ceiling: the search budget plus time for loading, refit, export and
    # reports. A hung container is also caught earlier by the heartbeat check.
    deadline = time.monotonic() + 2 * job.time_budget + 900
    next_poll = time.monotonic() + RECORD_POLL_SECONDS
    while True:
        try:
            process.wait(timeout=poll_seconds)
            return "exited"
        except subprocess.TimeoutExpired:
            pass
        if SHUTTING_DOWN.is_set():
            _stop(process)
            return "shutdown"
        if time.monotonic() > deadline:
            logger.warning("Job %s exceeded its deadline; stopping it", job.job_id)
            _stop(process)
            return "deadline"
        if time.monotonic() >= next_poll:
            next_poll = time.monotonic() + RECORD_POLL_SECONDS
            current = repository.get(job.job_id)
            if current is None or current.status == JobStatus.CANCELLED:
                _stop(process)
                return "cancelled"


def _stop(process: subprocess.Popen) -> None:
    """SIGTERM the group, give the container time to record why, then SIGKILL."""
    signal_process_group(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=TERMINATE_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        signal_process_group(process.pid, signal.SIGKILL)
        process.wait()


def _after_exit(repository, job_id: str, runner_id: str, exit_code: int, reason: str) -> str:
    job = repository.get(job_id)
    if job is None:
        return "finished"
    if reason == "shutdown":
        from jobs.services import job_requeue_interrupted

        return "requeued" if job_requeue_interrupted(job_id=job_id) else "finished"
    if job.is_terminal:
        return "finished"
    if job.runner_job_id not in (None, runner_id):
        return "finished"  # another attempt owns the record now
    if reason == "deadline":
        message = (
            f"Training ran far past its {job.time_budget} s budget and was stopped. "
            "Try a shorter budget or a smaller dataset."
        )
        error_type = ErrorType.LOST
    else:
        message = lost_message(exit_code)
        error_type = ErrorType.LOST
    logger.warning("Job %s: process exited with %s without a result", job_id, exit_code)
    fail_live_job(repository, job, error_type, message)
    return "lost"
