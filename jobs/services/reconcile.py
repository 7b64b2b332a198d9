"""Reconciliation: fail, re-queue or resubmit live and interrupted jobs whose run is gone."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.conf import settings

from automl_lite import wiring
from jobs.runners.base import SubmitError
from jobs.services.lifecycle import _fail, _requeue, is_resubmittable
from training_image.contract import ErrorType, Job, JobStatus, parse_time

if TYPE_CHECKING:
    from datasets.repository import DatasetRepository
    from jobs.repository import JobRepository
    from jobs.runners.base import Runner

logger = logging.getLogger(__name__)

# An interrupted job is watched this long for the runner's own retry (which re-claims it)
# or for the runner giving up (then it is resubmitted); older ones are left as they are.
INTERRUPTED_WATCH = dt.timedelta(days=1)
INTERRUPTED_WATCH_LIMIT = 500  # records read per pass, newest first
_WATCH_PAGE = 100


@dataclass
class ReconcileReport:
    """What one reconciliation pass did, by job id."""

    checked: int = 0
    failed: list[str] = field(default_factory=list)
    requeued: list[str] = field(default_factory=list)
    resubmitted: list[str] = field(default_factory=list)
    # Interrupted jobs whose run the runner is still retrying itself: left alone.
    retrying: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"checked {self.checked} live jobs: {len(self.failed)} failed, "
            f"{len(self.requeued)} re-queued, {len(self.resubmitted)} handed to the runner "
            f"again, {len(self.retrying)} interrupted and being retried by the runner"
        )


def last_sign_of_life(job: Job) -> dt.datetime | None:
    """When the container last reported: heartbeat, progress, start, or the last write."""
    candidates = [
        parse_time(job.heartbeat_at),
        parse_time((job.progress or {}).get("updated_at")),
        parse_time(job.started_at),
    ]
    present = [c for c in candidates if c is not None]
    return max(present) if present else parse_time(job.updated_at)


def jobs_reconcile(
    *,
    repository: JobRepository | None = None,
    datasets: DatasetRepository | None = None,
    runner: Runner | None = None,
    now: dt.datetime | None = None,
    requeue_waiting: bool = False,
) -> ReconcileReport:
    """Fail or re-queue queued/running jobs whose run is gone; never leave one running.

    - The runner says the run ended and the record is not terminal: re-queued
      (attempt + 1) when the infrastructure interrupted it and attempts remain,
      otherwise `failed` with the runner's reason (`lost`).
    - A running job whose last heartbeat is older than AUTOML_HEARTBEAT_TIMEOUT is
      stopped and failed, even if its process still exists (it hangs).
    - With `requeue_waiting` (local start-up only: the broker may have lost messages
      of a killed worker), queued jobs without a run are handed to the runner again;
      a duplicate task finds the job claimed and does nothing.
    - A job its container recorded `failed` / `interrupted` (SIGTERM on a Spot reclaim)
      is left alone while the runner still holds its run (Batch retries the same job,
      and that attempt re-claims the record), and is resubmitted (attempt + 1, up to
      AUTOML_MAX_ATTEMPTS) once the runner says the run ended by an interruption.
    """
    repository = repository or wiring.job_repository()
    datasets = datasets or wiring.dataset_repository()
    runner = runner or wiring.runner()
    now = now or dt.datetime.now(dt.UTC)
    report = ReconcileReport()
    live = repository.list_by_status([JobStatus.QUEUED, JobStatus.RUNNING])
    report.checked = len(live)
    states = runner.describe(live) if live else {}
    timeout = dt.timedelta(seconds=settings.AUTOML_HEARTBEAT_TIMEOUT)
    for job in live:
        state = states.get(job.job_id)
        if state is not None and not state.alive:
            current = repository.get(job.job_id)
            if current is None or current.is_terminal:
                continue  # it finished while we looked
            if current.runner_job_id != job.runner_job_id or current.attempt != job.attempt:
                continue  # another reconciler already moved it on: `state` is about an old run
            reason = state.reason or "The training run disappeared without reporting a result."
            if state.interrupted:
                if _requeue(
                    current, reason=reason, repository=repository, datasets=datasets, runner=runner
                ):
                    report.requeued.append(job.job_id)
                else:
                    report.failed.append(job.job_id)
            elif _fail(current, ErrorType.LOST, reason, repository):
                report.failed.append(job.job_id)
            continue
        if job.status == JobStatus.RUNNING:
            last = last_sign_of_life(job)
            if last is not None and now - last > timeout:
                seconds = int((now - last).total_seconds())
                try:
                    runner.cancel(job)
                except Exception:
                    logger.exception("Could not stop hung job %s", job.job_id)
                if _fail(
                    job,
                    ErrorType.LOST,
                    f"Training stopped reporting progress {seconds} s ago and was stopped. "
                    "Resubmit the job.",
                    repository,
                ):
                    report.failed.append(job.job_id)
            continue
        if state is None and requeue_waiting and job.status == JobStatus.QUEUED:
            dataset = datasets.get(job.dataset_id)
            if dataset is None:
                continue
            try:
                runner.submit(job, dataset_key=dataset.storage_key)
            except SubmitError:
                logger.exception("Could not hand queued job %s to the runner", job.job_id)
            else:
                report.resubmitted.append(job.job_id)
    # Last, so a job this pass failed or re-queued is not looked at twice.
    _reconcile_interrupted(report, repository=repository, datasets=datasets, runner=runner, now=now)
    return report


def recently_interrupted(
    *, repository: JobRepository, now: dt.datetime, limit: int = INTERRUPTED_WATCH_LIMIT
) -> list[Job]:
    """Failed jobs their container marked `interrupted`, with a run to ask about and
    attempts left, updated within INTERRUPTED_WATCH (newest first, status index only)."""
    cutoff = now - INTERRUPTED_WATCH
    found: list[Job] = []
    cursor: str | None = None
    read = 0
    while read < limit:
        page = repository.list_recent(
            statuses=[JobStatus.FAILED], limit=min(_WATCH_PAGE, limit - read), cursor=cursor
        )
        for job in page.items:
            updated = parse_time(job.updated_at)
            if updated is not None and updated < cutoff:
                return found  # newest first: everything after is older still
            interrupted = job.error_type == ErrorType.INTERRUPTED and job.runner_job_id
            if interrupted and is_resubmittable(job):
                found.append(job)
        read += len(page.items)
        if not page.next_cursor or not page.items:
            break
        cursor = page.next_cursor
    return found


def _reconcile_interrupted(
    report: ReconcileReport,
    *,
    repository: JobRepository,
    datasets: DatasetRepository,
    runner: Runner,
    now: dt.datetime,
) -> None:
    """Resubmit interrupted jobs whose run the runner gave up on; leave those it retries.

    Nothing else is touched: a run that ended for another reason (a timeout) keeps the
    container's own record, and a runner that says nothing (a local process that is
    gone, a Batch job not listed yet) changes nothing.
    """
    waiting = recently_interrupted(repository=repository, now=now)
    if not waiting:
        return
    states = runner.describe(waiting)
    for job in waiting:
        state = states.get(job.job_id)
        if state is None:
            continue
        if state.alive:
            # Batch is retrying the same job: its next attempt re-claims the record
            # (failed -> running). Resubmitting now would start the training twice.
            report.retrying.append(job.job_id)
            continue
        if not state.interrupted:
            continue
        current = repository.get(job.job_id)
        if (
            current is None
            or current.status != JobStatus.FAILED
            or current.runner_job_id != job.runner_job_id
            or current.attempt != job.attempt
        ):
            continue  # re-claimed, resubmitted or cancelled meanwhile
        reason = state.reason or "The training run was interrupted."
        if _requeue(
            current, reason=reason, repository=repository, datasets=datasets, runner=runner
        ):
            report.requeued.append(job.job_id)
