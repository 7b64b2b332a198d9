"""Purge: delete finished jobs older than a cut-off."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING

from automl_lite import wiring
from core.exceptions import InvalidInput
from jobs.services.delete import job_delete
from training_image.contract import LIVE_STATUSES, JobStatus, parse_time

if TYPE_CHECKING:
    from jobs.repository import JobRepository


def jobs_purge(
    *,
    older_than: dt.timedelta,
    statuses: Iterable[str] = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED),
    delete_data: bool = False,
    dry_run: bool = False,
    repository: JobRepository | None = None,
    now: dt.datetime | None = None,
) -> list[str]:
    """Delete finished jobs (and their artifacts) last updated before `now - older_than`.

    Returns:
        The ids of the deleted (or, with `dry_run`, the matching) jobs.
    """
    repository = repository or wiring.job_repository()
    now = now or dt.datetime.now(dt.UTC)
    cutoff = now - older_than
    wanted = [JobStatus(s) for s in statuses]
    live = [s for s in wanted if s in LIVE_STATUSES]
    if live:
        raise InvalidInput(f"Live jobs cannot be purged: {', '.join(live)}")
    done: list[str] = []
    seen: set[str] = set()
    while True:
        batch = [
            j
            for j in repository.list_by_status(wanted)
            if j.job_id not in seen and (parse_time(j.updated_at) or now) < cutoff
        ]
        if not batch:
            return done
        for job in batch:
            seen.add(job.job_id)
            if not dry_run:
                job_delete(job=job, delete_data=delete_data, repository=repository)
            done.append(job.job_id)
        if dry_run:
            return done
