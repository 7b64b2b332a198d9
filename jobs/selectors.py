"""Job reads: one record for a user, a user's list, and the JSON artifacts of a result.

"Not found" is always `Http404`: a missing record, a malformed id and another user's
record look the same from outside (admins see every record).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

from django.http import Http404

from automl_lite import wiring
from core.access import can_see_all
from core.exceptions import InvalidInput
from core.ids import is_valid_id
from core.pagination import Page
from jobs.repository import JobFilter
from training_image.contract import (
    ARTIFACT_STORAGE,
    EVALUATION,
    LOWER_IS_BETTER,
    MODEL_CARD,
    Dataset,
    Evaluation,
    Job,
    JobStatus,
    ModelCard,
    PredictionBatch,
    read_evaluation,
    read_model_card,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    from jobs.repository import JobRepository, PredictionBatchRepository

logger = logging.getLogger(__name__)

JOB_NOT_FOUND = "Job not found"


def job_get(
    *,
    job_id: str,
    user: AbstractBaseUser | AnonymousUser,
    repository: JobRepository | None = None,
) -> Job:
    """The job `job_id` if `user` may see it.

    Raises:
        Http404: malformed id, no such job, or someone else's job (admins see all).
    """
    if not is_valid_id(job_id):
        raise Http404(JOB_NOT_FOUND)
    repository = repository or wiring.job_repository()
    job = repository.get(str(job_id))
    if job is None:
        raise Http404(JOB_NOT_FOUND)
    if job.owner_id != str(user.pk) and not can_see_all(user):
        raise Http404(JOB_NOT_FOUND)
    return job


def job_list(
    *,
    user: AbstractBaseUser,
    limit: int = 20,
    cursor: str | None = None,
    filters: JobFilter | None = None,
    repository: JobRepository | None = None,
) -> Page[Job]:
    """The user's jobs kept to `filters`, newest first, one page at a time.

    Raises:
        InvalidInput: a bad cursor (or one from another filter).
    """
    repository = repository or wiring.job_repository()
    return repository.list_for_owner(str(user.pk), limit=limit, cursor=cursor, filters=filters)


# The history's "best per dataset" tile reads at most this many completed jobs.
STATS_COMPLETED_LIMIT = 1000
STATS_DATASETS = 4


def _score(job: Job) -> float | None:
    value = (job.metrics or {}).get(job.metric or "")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def job_stats(*, user: AbstractBaseUser, repository: JobRepository | None = None) -> dict[str, Any]:
    """The history's tiles: runs, completed, failed and cancelled counts, best per dataset.

    Counts are index counts. "Best per dataset" ranks each dataset's completed jobs by the
    metric of its newest completed job (scores of other metrics are not comparable), for
    the datasets trained on most recently.
    """
    repository = repository or wiring.job_repository()
    owner = str(user.pk)
    counts = {
        "runs": repository.count_for_owner(owner),
        **{
            str(status): repository.count_for_owner(owner, status=status)
            for status in (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)
        },
    }
    groups: dict[str, list[Job]] = {}
    cursor, seen = None, 0
    completed = JobFilter(status=str(JobStatus.COMPLETED))
    while seen < STATS_COMPLETED_LIMIT:
        page = repository.list_for_owner(owner, limit=200, cursor=cursor, filters=completed)
        for job in page.items:
            groups.setdefault(job.dataset_id, []).append(job)
        seen += len(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    best = []
    for jobs in list(groups.values())[:STATS_DATASETS]:
        metric = jobs[0].metric  # newest first
        scored = [(s, j) for j in jobs if j.metric == metric and (s := _score(j)) is not None]
        if not scored:
            continue
        pick = min if metric in LOWER_IS_BETTER else max
        score, job = pick(scored, key=lambda pair: pair[0])
        best.append({"job": job, "score": score, "metric": metric, "runs": len(jobs)})
    return {**counts, "best": best}


def jobs_for_dataset(*, dataset: Dataset, repository: JobRepository | None = None) -> list[Job]:
    """The training jobs of `dataset`, newest first (the dataset index)."""
    repository = repository or wiring.job_repository()
    jobs = repository.list_for_dataset(dataset.dataset_id)
    return sorted(jobs, key=lambda job: job.created_at, reverse=True)


def job_dataset(*, job: Job) -> Dataset | None:
    """The dataset the job was trained on, when it still exists."""
    dataset = wiring.dataset_repository().get(job.dataset_id)
    if dataset is None or dataset.owner_id != job.owner_id:
        return None
    return dataset


def _read_json_artifact(job: Job, name: str) -> dict[str, Any] | None:
    key = (job.artifacts or {}).get(name)
    if not key:
        return None
    storage = wiring.storage(ARTIFACT_STORAGE[name])
    try:
        with storage.open(key, "rb") as handle:
            value = json.loads(handle.read().decode("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        logger.exception("Could not read %s of job %s", name, job.job_id)
        return None
    return value if isinstance(value, dict) else None


def job_evaluation(*, job: Job) -> Evaluation | None:
    """The job's evaluation.json (test metrics, curves, leaderboard, importance), if any."""
    raw = _read_json_artifact(job, EVALUATION)
    return None if raw is None else read_evaluation(raw)


def job_model_card(*, job: Job) -> ModelCard | None:
    """The job's model_card.json (features, classes, ONNX inputs), if any."""
    raw = _read_json_artifact(job, MODEL_CARD)
    if raw is None:
        return None
    try:
        return read_model_card(raw)
    except ValueError:
        logger.exception("The model card of job %s is not one", job.job_id)
        return None


MAX_COMPARED = 4


def jobs_to_compare(*, job_ids: list[str], user: AbstractBaseUser | AnonymousUser) -> list[Job]:
    """The user's jobs `job_ids` in the order given, duplicates dropped.

    Raises:
        InvalidInput: fewer than two or more than MAX_COMPARED distinct ids.
        Http404: any id that is malformed, missing or someone else's.
    """
    unique = list(dict.fromkeys(i.strip() for i in job_ids if i.strip()))
    if len(unique) < 2:
        raise InvalidInput("Pick at least two jobs to compare.")
    if len(unique) > MAX_COMPARED:
        raise InvalidInput(
            f"Compare up to {MAX_COMPARED} jobs at a time; {len(unique)} were picked."
        )
    return [job_get(job_id=job_id, user=user) for job_id in unique]


BATCH_NOT_FOUND = "Prediction batch not found"


def batch_get(
    *,
    job: Job,
    batch_id: str,
    user: AbstractBaseUser | AnonymousUser,
    repository: PredictionBatchRepository | None = None,
) -> PredictionBatch:
    """The batch `batch_id` of `job` (already the user's, through `job_get`).

    Raises:
        Http404: malformed id, no such batch, a batch of another job, or another
            user's batch (admins see all).
    """
    if not is_valid_id(batch_id):
        raise Http404(BATCH_NOT_FOUND)
    repository = repository or wiring.batch_repository()
    batch = repository.get(str(batch_id))
    if batch is None or batch.job_id != job.job_id:
        raise Http404(BATCH_NOT_FOUND)
    if batch.owner_id != str(user.pk) and not can_see_all(user):
        raise Http404(BATCH_NOT_FOUND)
    return batch


def batch_list(
    *,
    job: Job,
    limit: int = 20,
    cursor: str | None = None,
    repository: PredictionBatchRepository | None = None,
) -> Page[PredictionBatch]:
    """The job's prediction batches, newest first (InvalidInput for a bad cursor)."""
    repository = repository or wiring.batch_repository()
    return repository.list_for_job(job.job_id, limit=limit, cursor=cursor)


def cost_settings() -> tuple[Any, Any]:
    """The task size and prices of the settings (training_image.costs holds the defaults)."""
    from django.conf import settings

    from training_image.costs import Prices, TaskSize

    return (
        TaskSize(settings.AUTOML_TRAINING_VCPUS, settings.AUTOML_TRAINING_MEMORY_GB),
        Prices(
            settings.AUTOML_FARGATE_SPOT_VCPU_SECOND_USD, settings.AUTOML_FARGATE_SPOT_GB_SECOND_USD
        ),
    )


def budget_cost(time_budget: int) -> float:
    """`estimated_cost_usd` of a run with this search budget."""
    from training_image.costs import estimated_cost_usd

    task, prices = cost_settings()
    return estimated_cost_usd(time_budget, task=task, prices=prices)


def job_cost(job: Job) -> dict[str, float | None]:
    """`estimated_cost_usd` from the job's budget; `cost_usd` from its measured wall clock
    (started to finished), once it has finished. What AWS would bill, in either mode."""
    from training_image.contract import parse_time
    from training_image.costs import run_cost_usd

    task, prices = cost_settings()
    measured = None
    started, finished = parse_time(job.started_at), parse_time(job.completed_at)
    if job.is_terminal and started is not None and finished is not None:
        seconds = max((finished - started).total_seconds(), 0.0)
        measured = round(run_cost_usd(seconds, task=task, prices=prices), 6)
    return {
        "estimated_cost_usd": round(budget_cost(job.time_budget), 6),
        "cost_usd": measured,
    }
