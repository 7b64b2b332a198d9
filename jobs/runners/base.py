"""The runner seam: what starts, stops and describes a training run.

Two runners fit it: `LocalRunner` (a Celery task runs `python -m training_image` as a
subprocess) and `BatchRunner` (AWS Batch `submit_job` / `terminate_job` /
`describe_jobs`). Services own the job record's state machine; a runner only hands
the job to its machinery and reports what that machinery knows:

- `submit` is called after the service moved the record to `queued`. It starts the
  run and returns the runner's id for it (a Batch job id). The service stores a
  non-empty id as `runner_job_id`. A runner whose id only exists later (the local
  process id, known once a worker starts it) returns "" and records it itself.
  On failure it raises `SubmitError` with a message fit for the user.
- `cancel` stops a run if it is still going. Best effort, idempotent.
- `describe` reports, for each live job it can say something about, whether its run
  is still alive and, when not, why (`reason`, `exit_code`) and whether the run was
  interrupted by the infrastructure (Spot reclaim, host failure, worker shutdown) so
  that reconciliation may re-queue it instead of failing it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from core.exceptions import ServiceUnavailable
from training_image.contract import Job


class SubmitError(ServiceUnavailable):
    """The runner could not start the training run; the message is shown to the user."""


@dataclass(frozen=True)
class RunnerState:
    """What a runner knows about one run.

    Attributes:
        alive: The run is queued or running in the runner's machinery.
        status: The runner's own word for it ("running", "exited", "SUCCEEDED", ...).
        reason: Why a dead run ended, in words a user can act on ("" when alive).
        exit_code: The process or container exit code, when known.
        interrupted: The infrastructure ended the run (Spot reclaim, host failure,
            worker shutdown), not the job itself: safe to re-queue.
    """

    alive: bool
    status: str
    reason: str = ""
    exit_code: int | None = None
    interrupted: bool = False


class Runner(Protocol):
    """Starts, stops and describes training runs."""

    def submit(self, job: Job, *, dataset_key: str) -> str:
        """Start a run of `job` (already `queued`) on the CSV at `dataset_key`.

        Returns:
            The runner's id for the run, or "" when the runner records it later itself.

        Raises:
            SubmitError: the run could not be started.
        """
        ...

    def cancel(self, job: Job) -> None:
        """Stop the job's run if it is still going (best effort, idempotent)."""
        ...

    def describe(self, jobs: Sequence[Job]) -> dict[str, RunnerState]:
        """The state of each job's run, keyed by job id.

        Jobs the runner cannot say anything about (for example a queued job whose run
        has not been given an id yet) are left out; reconciliation leaves them alone.
        """
        ...
