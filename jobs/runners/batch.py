"""BatchRunner: training runs as AWS Batch jobs (Fargate Spot first, on-demand Fargate next).

`submit` sends one `submit_job` whose `containerOverrides.environment` is the per-job part
of `contract.container_env(...)`; the job definition carries the deployment's part
(`contract.DEPLOYMENT_ENV`), and Batch merges the two, so the container gets the same
variables as a local run. ECS refuses overrides over 8,192 characters, so nothing that grows
with the data (the excluded columns) travels there: the container reads it from the record.
The Batch job carries a retry strategy that retries only infrastructure failures (a
reclaimed Spot task, a failed host) and a timeout derived from the job's time budget.
Batch's retry is the same Batch job: its container re-claims the record the interrupted
attempt left `failed` / `interrupted` (contract.can_reclaim) and counts one more job
attempt, so a submit asks Batch for no more attempts than AUTOML_MAX_ATTEMPTS leaves.

`describe` turns `describe_jobs` into `RunnerState`s that reconciliation
(`jobs.services.jobs_reconcile`) acts on: a job Batch still holds is alive; a finished
one carries Batch's reason in words a user can act on, and `interrupted=True` when
Spot or the host ended it (so it may be re-queued rather than failed).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from jobs.runners.base import RunnerState, SubmitError
from training_image.contract import DEPLOYMENT_ENV, Backend, Job, container_env, parse_time

logger = logging.getLogger(__name__)

# Batch job names: 3-128 characters, letters, digits, "-" and "_", starting and ending
# with a letter or digit (the pattern Batch and moto enforce).
BATCH_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{1,126}[A-Za-z0-9]$")
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")

# The whole job should end within the search budget + 15 %; on top of that come image
# pull, Fargate start-up and the container's own loading and export.
BUDGET_FACTOR = 1.15
TIMEOUT_OVERHEAD_SECONDS = 600
MIN_BATCH_TIMEOUT = 60  # Batch refuses attemptDurationSeconds below 60

# Batch attempts per Batch job (at most); reconciliation resubmits (attempt + 1) beyond.
BATCH_ATTEMPTS = 2

# Patterns Batch matches against a failed attempt (letters, digits, spaces, ".", ":",
# and one trailing "*"). First match wins; anything unmatched exits.
SPOT_STATUS_REASON = "Your Spot Task was interrupted"
HOST_STATUS_REASON = "Host EC2"
EVALUATE_ON_EXIT: list[dict[str, str]] = [
    # EC2 compute: the instance (Spot or not) went away under the job.
    {"onStatusReason": f"{HOST_STATUS_REASON}*", "action": "RETRY"},
    # Fargate Spot: ECS stops the task with this reason after its 2-minute notice.
    {"onStatusReason": f"{SPOT_STATUS_REASON}*", "action": "RETRY"},
    {"onReason": f"{SPOT_STATUS_REASON}*", "action": "RETRY"},
    # Everything else is the application's own failure (or a timeout): do not retry.
    {"onReason": "*", "action": "EXIT"},
]


def retry_strategy(attempts: int = BATCH_ATTEMPTS) -> dict[str, Any]:
    """The Batch `retryStrategy`: up to `attempts` runs, retrying infrastructure failures only."""
    return {"attempts": attempts, "evaluateOnExit": [dict(rule) for rule in EVALUATE_ON_EXIT]}


RETRY_STRATEGY = retry_strategy(BATCH_ATTEMPTS)


def batch_attempts(job: Job, max_attempts: int) -> int:
    """Batch attempts for the run of `job`: each retry is one more job attempt, so no more
    than the job has left (`max_attempts - attempt + 1`), BATCH_ATTEMPTS at most, 1 at least.
    """
    return max(1, min(BATCH_ATTEMPTS, max_attempts - job.attempt + 1))


ALIVE_STATUSES = frozenset({"SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING"})
DESCRIBE_CHUNK = 100  # describe_jobs takes at most 100 ids
# A job Batch does not know (yet, or any more) is only called lost after this long:
# describe_jobs may lag just after submit_job, and Batch forgets jobs after days.
MISSING_GRACE = dt.timedelta(minutes=10)

OOM_EXIT_CODE = 137
CANCEL_REASON = "Cancelled in AutoML Lite"


def batch_job_name(job: Job) -> str:
    """A Batch job name for `job`: readable in the console, valid for Batch's pattern.

    `automl-<dataset stem>-<job id>-a<attempt>`, with every character Batch refuses
    replaced by "-" and the dataset part shortened so the whole fits 128 characters.
    """
    stem = job.dataset_name.rsplit(".", 1)[0] if job.dataset_name else ""
    tail = f"{job.job_id}-a{job.attempt}"
    room = 128 - len("automl--") - len(_NAME_UNSAFE.sub("-", tail))
    stem = _NAME_UNSAFE.sub("-", stem).strip("-_")[: max(room, 0)].strip("-_")
    name = "-".join(part for part in ("automl", stem, tail) if part)
    name = _NAME_UNSAFE.sub("-", name)[:128].strip("-_")
    if not BATCH_NAME_PATTERN.match(name):  # only reachable with a pathological job id
        name = f"automl-job-a{job.attempt}"
    return name


def attempt_timeout(time_budget: int, *, overhead: int = TIMEOUT_OVERHEAD_SECONDS) -> int:
    """Seconds Batch lets one attempt run: budget × 1.15 + overhead (at least 60)."""
    return max(MIN_BATCH_TIMEOUT, math.ceil(time_budget * BUDGET_FACTOR) + overhead)


def job_overrides(env: Mapping[str, str]) -> dict[str, str]:
    """The per-job part of a run's environment: what a submit's `containerOverrides` carry.

    The deployment's facts (`contract.DEPLOYMENT_ENV`: buckets, job table, region) are in
    the job definition already, and ECS refuses overrides over 8,192 characters.
    """
    return {name: value for name, value in env.items() if name not in DEPLOYMENT_ENV}


def overrides_size(request: Mapping[str, Any]) -> int:
    """Characters of a submit's container overrides as ECS counts them (their JSON)."""
    return len(json.dumps(request["containerOverrides"], separators=(",", ":")))


def _env_list(env: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"name": name, "value": str(value)} for name, value in env.items()]


def _error_code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", "")) or type(error).__name__


def _error_text(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    message = response.get("Error", {}).get("Message")
    return str(message or error)


class BatchRunner:
    """Starts, stops and describes training runs as AWS Batch jobs.

    Args:
        client: A boto3 Batch client.
        job_queue: Name or ARN of the job queue.
        job_definition: Name, name:revision or ARN of the training job definition.
        backend: Where the container finds storage and the job table, or a callable
            returning it at submit time (wiring passes `container_backend`, so a runner
            built once follows the settings).
        timeout_overhead: Seconds added to budget × 1.15 for the attempt timeout.
        clock: Returns "now" (UTC); tests pass a fixed one.
        max_attempts: Job attempts allowed in all (AUTOML_MAX_ATTEMPTS when omitted);
            bounds how often Batch may retry a run.
    """

    def __init__(
        self,
        client: Any,
        *,
        job_queue: str,
        job_definition: str,
        backend: Backend | Callable[[], Backend],
        timeout_overhead: int = TIMEOUT_OVERHEAD_SECONDS,
        clock: Callable[[], dt.datetime] | None = None,
        max_attempts: int | None = None,
    ) -> None:
        self.client = client
        self.job_queue = job_queue
        self.job_definition = job_definition
        self._backend = backend
        self.timeout_overhead = timeout_overhead
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._max_attempts = max_attempts

    # ------------------------------------------------------------------ submit

    def backend(self) -> Backend:
        return self._backend if isinstance(self._backend, Backend) else self._backend()

    def max_attempts(self) -> int:
        if self._max_attempts is not None:
            return self._max_attempts
        from django.conf import settings

        return int(settings.AUTOML_MAX_ATTEMPTS)

    def submit_request(self, job: Job, *, dataset_key: str) -> dict[str, Any]:
        """The `submit_job` arguments for `job` (pure: no call to AWS)."""
        env = container_env(job, dataset_key=dataset_key, backend=self.backend())
        return {
            "jobName": batch_job_name(job),
            "jobQueue": self.job_queue,
            "jobDefinition": self.job_definition,
            "containerOverrides": {"environment": _env_list(job_overrides(env))},
            "retryStrategy": retry_strategy(batch_attempts(job, self.max_attempts())),
            "timeout": {
                "attemptDurationSeconds": attempt_timeout(
                    job.time_budget, overhead=self.timeout_overhead
                )
            },
            # Tags make a run findable from the console and billable per job.
            "tags": {"automl:job-id": job.job_id, "automl:attempt": str(job.attempt)},
            "propagateTags": True,
        }

    def submit(self, job: Job, *, dataset_key: str) -> str:
        """Submit the run; returns the Batch job id.

        botocore already retries throttling and 5xx answers with back-off. A retried
        submit that Batch had in fact accepted leaves a second Batch job; its container
        finds the record already claimed (`queued -> running` is conditional) and exits.

        Raises:
            SubmitError: Batch refused the job or could not be reached.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        request = self.submit_request(job, dataset_key=dataset_key)
        try:
            response = self.client.submit_job(**request)
        except ClientError as error:
            code = _error_code(error)
            logger.warning("Batch refused job %s: %s", job.job_id, error)
            raise SubmitError(
                f"AWS Batch refused the training job ({code}: {_error_text(error)}). "
                "Check the job queue and job definition settings, then resubmit."
            ) from error
        except BotoCoreError as error:
            logger.warning("Batch unreachable for job %s: %s", job.job_id, error)
            raise SubmitError(
                f"AWS Batch could not be reached ({type(error).__name__}). "
                "Resubmit the job in a moment."
            ) from error
        batch_id = response.get("jobId") or ""
        if not batch_id:
            raise SubmitError("AWS Batch accepted the job but returned no job id. Resubmit it.")
        logger.info("Job %s submitted to Batch as %s", job.job_id, batch_id)
        return batch_id

    # ------------------------------------------------------------------ cancel

    def cancel(self, job: Job) -> None:
        """terminate_job for the job's run (best effort: errors are logged, not raised)."""
        from botocore.exceptions import BotoCoreError, ClientError

        if not job.runner_job_id:
            return
        try:
            self.client.terminate_job(jobId=job.runner_job_id, reason=CANCEL_REASON)
        except (ClientError, BotoCoreError):
            logger.warning("Could not terminate Batch job %s", job.runner_job_id, exc_info=True)

    # ------------------------------------------------------------------ describe

    def describe(self, jobs: Sequence[Job]) -> dict[str, RunnerState]:
        """The Batch state of each job's run, keyed by job id.

        Jobs without a Batch id are left out (not submitted yet). A Batch id Batch does
        not know is reported dead only once the record is older than MISSING_GRACE.
        """
        by_batch_id = {j.runner_job_id: j for j in jobs if j.runner_job_id}
        found: dict[str, Mapping[str, Any]] = {}
        ids = list(by_batch_id)
        for start in range(0, len(ids), DESCRIBE_CHUNK):
            response = self.client.describe_jobs(jobs=ids[start : start + DESCRIBE_CHUNK])
            for detail in response.get("jobs", []):
                found[detail["jobId"]] = detail
        states: dict[str, RunnerState] = {}
        now = self._clock()
        for batch_id, job in by_batch_id.items():
            detail = found.get(batch_id)
            if detail is not None:
                states[job.job_id] = state_from_detail(detail)
                continue
            updated = parse_time(job.updated_at)
            if updated is not None and now - updated > MISSING_GRACE:
                states[job.job_id] = RunnerState(
                    alive=False,
                    status="MISSING",
                    reason=(
                        f"AWS Batch has no record of the training run {batch_id} "
                        "(it was never started or has expired). Resubmit the job."
                    ),
                )
        return states


# --------------------------------------------------------------------------- interpretation


def _last_attempt(detail: Mapping[str, Any]) -> Mapping[str, Any]:
    attempts = detail.get("attempts") or []
    return attempts[-1] if attempts else {}


def failure_facts(detail: Mapping[str, Any]) -> tuple[str, str, int | None]:
    """(status reason, container reason, exit code) of a job's last attempt."""
    attempt = _last_attempt(detail)
    container = detail.get("container") or {}
    attempt_container = attempt.get("container") or {}
    status_reason = detail.get("statusReason") or attempt.get("statusReason") or ""
    reason = container.get("reason") or attempt_container.get("reason") or ""
    exit_code = container.get("exitCode")
    if exit_code is None:
        exit_code = attempt_container.get("exitCode")
    return str(status_reason), str(reason), exit_code


def is_interruption(texts: Iterable[str]) -> bool:
    """Whether Batch's words say the infrastructure (Spot, the host) ended the attempt."""
    for text in texts:
        if text.startswith(HOST_STATUS_REASON) or text.startswith(SPOT_STATUS_REASON):
            return True
        lowered = text.lower()
        if "spot" in lowered and ("interrupt" in lowered or "reclaim" in lowered):
            return True
    return False


def _batch_words(status_reason: str, reason: str, exit_code: int | None) -> str:
    parts = [p for p in (status_reason, reason) if p]
    if exit_code is not None:
        parts.append(f"exit code {exit_code}")
    return "; ".join(parts) or "no reason given"


def failure_message(status_reason: str, reason: str, exit_code: int | None) -> str:
    """What to tell the user about a Batch job that ended without a result."""
    said = f"(AWS Batch: {_batch_words(status_reason, reason, exit_code)})"
    both = f"{status_reason} {reason}"
    if "attempt duration exceeded" in both.lower() or "timeout" in status_reason.lower():
        return (
            "Training ran past its time limit and was stopped "
            f"{said}. Try a shorter time budget or a smaller dataset."
        )
    if reason.startswith("OutOfMemoryError") or exit_code == OOM_EXIT_CODE:
        return (
            "The training container ran out of memory and was killed "
            f"{said}. Try a smaller dataset or exclude wide text columns, or give the "
            "Batch job definition more memory."
        )
    if "CannotPullContainerError" in both:
        return (
            f"AWS Batch could not pull the training image {said}. Check the image URI in "
            "the job definition and the execution role's access to the registry, then "
            "resubmit."
        )
    if "ResourceInitializationError" in both or "Task failed to start" in both:
        return (
            f"AWS Batch could not start the training container {said}. Check the job "
            "definition's network and secrets settings, then resubmit."
        )
    if is_interruption([status_reason, reason]):
        return f"The Spot capacity running the training was reclaimed by AWS {said}."
    if status_reason == CANCEL_REASON:
        return f"The training run was stopped {said}."
    return (
        f"The training container stopped without reporting a result {said}. "
        "Resubmit the job; if it fails again, check the container log in CloudWatch."
    )


def state_from_detail(detail: Mapping[str, Any]) -> RunnerState:
    """A RunnerState from one `describe_jobs` entry."""
    status = str(detail.get("status", ""))
    if status in ALIVE_STATUSES:
        return RunnerState(alive=True, status=status)
    status_reason, reason, exit_code = failure_facts(detail)
    if status == "SUCCEEDED":
        return RunnerState(
            alive=False,
            status=status,
            reason=(
                "The training container exited normally but never recorded a result "
                f"(AWS Batch: {_batch_words(status_reason, reason, exit_code)}). Resubmit the job."
            ),
            exit_code=exit_code,
        )
    # Any attempt counts: after a Spot reclaim Batch retries the job, and that attempt may
    # die before it re-claims the record (or find it moved on and exit); the run was
    # still interrupted.
    attempt_reasons = [
        str(text or "")
        for attempt in detail.get("attempts") or []
        for text in (attempt.get("statusReason"), (attempt.get("container") or {}).get("reason"))
    ]
    return RunnerState(
        alive=False,
        status=status or "UNKNOWN",
        reason=failure_message(status_reason, reason, exit_code),
        exit_code=exit_code,
        interrupted=is_interruption([status_reason, reason, *attempt_reasons]),
    )
