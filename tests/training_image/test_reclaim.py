"""A retried Batch attempt re-claims the job its interrupted first attempt left `failed`.

On a Spot reclaim the container records `failed` / `interrupted`; Batch then starts
attempt 2 of the same Batch job. That attempt may move the record `failed -> running`
(attempt + 1), and only when the record is still interrupted, still names this Batch
job and this is a retry: one conditional write on exactly those facts.
"""

from __future__ import annotations

import pytest

from tests.training_image import frames
from tests.training_image.jobenv import LocalDeployment, new_job, run_container, seeded_job_store
from training_image import contract
from training_image.contract import (
    ContainerEnvError,
    ErrorType,
    Job,
    JobStatus,
    can_reclaim,
    new_id,
    read_container_env,
)

BATCH_ID = "5e0c1a2b-0000-4000-8000-00000000000a"
OTHER_BATCH_ID = "5e0c1a2b-0000-4000-8000-00000000000b"
INTERRUPTED = {
    "status": JobStatus.FAILED,
    "error_type": ErrorType.INTERRUPTED,
    "error_message": "The training container was stopped (SIGTERM) while searching.",
    "error_phase": "searching",
    "completed_at": "2026-01-01T00:00:00.000000Z",
    "runner_job_id": BATCH_ID,
    "attempt": 1,
}


def _job(**fields) -> Job:
    return new_job(**{**INTERRUPTED, **fields})


# --------------------------------------------------------------------------- the rule


def test_it_refuses_a_malformed_batch_attempt_number_naming_the_variable():
    env = {**_valid_env(), contract.ENV_RUNNER_ATTEMPT: "two"}

    with pytest.raises(ContainerEnvError, match="AWS_BATCH_JOB_ATTEMPT: must be an integer"):
        read_container_env(env)


def test_it_reads_the_batch_job_and_attempt_and_defaults_to_a_first_run():
    batch = read_container_env(
        {
            **_valid_env(),
            contract.ENV_RUNNER_JOB_ID: BATCH_ID,
            contract.ENV_RUNNER_ATTEMPT: "2",
        }
    )
    local = read_container_env(_valid_env())

    assert (batch.runner_job_id, batch.runner_attempt) == (BATCH_ID, 2)
    assert (local.runner_job_id, local.runner_attempt) == (None, 1)


def test_it_lets_only_a_retry_of_the_same_run_reclaim_an_interrupted_job():
    job = _job()

    assert can_reclaim(job, runner_job_id=BATCH_ID, runner_attempt=2)
    assert not can_reclaim(job, runner_job_id=BATCH_ID, runner_attempt=1)  # not a retry
    assert not can_reclaim(job, runner_job_id=OTHER_BATCH_ID, runner_attempt=2)
    assert not can_reclaim(job, runner_job_id=None, runner_attempt=2)  # local mode
    assert not can_reclaim(
        _job(error_type=ErrorType.DATA), runner_job_id=BATCH_ID, runner_attempt=2
    )
    for status in (JobStatus.CANCELLED, JobStatus.COMPLETED, JobStatus.QUEUED):
        assert not can_reclaim(_job(status=status), runner_job_id=BATCH_ID, runner_attempt=2)


def test_it_keeps_the_reclaim_out_of_the_plain_transitions():
    # A conditional write on status alone must never revive a failed job.
    assert JobStatus.FAILED not in contract.sources_for(JobStatus.RUNNING)
    assert contract.RECLAIM_FROM == JobStatus.FAILED and contract.RECLAIM_TO == JobStatus.RUNNING


def _valid_env() -> dict[str, str]:
    job = Job(job_id=new_id(), owner_id="1", dataset_id="d", target_column="species")
    backend = contract.Backend(
        storage="local",
        datasets_location="/tmp/d",
        models_location="/tmp/m",
        reports_location="/tmp/r",
        job_store="sqlite",
        job_store_location="/tmp/records.sqlite3",
    )
    return contract.container_env(job, dataset_key="datasets/x/penguins.csv", backend=backend)


# --------------------------------------------------------------------------- the write


@pytest.fixture(params=["sqlite", "dynamo"])
def store(request, tmp_path):
    with seeded_job_store(request.param, tmp_path, **INTERRUPTED) as store:
        yield store


def _reclaim(store, job, *, runner_job_id=BATCH_ID, attempt=1):
    return store.reclaim(
        job.job_id,
        runner_job_id=runner_job_id,
        attempt=attempt,
        started_at="2026-01-01T00:05:00.000000Z",
        completed_at=None,
        error_type=None,
        error_message=None,
        error_phase=None,
    )


def test_it_reclaims_an_interrupted_job_for_the_same_run_and_counts_the_attempt(store):
    job = store.add()

    reclaimed = _reclaim(store, job)

    stored = store.get(job.job_id)
    assert reclaimed is True
    assert (stored.status, stored.attempt) == (JobStatus.RUNNING, 2)
    assert stored.runner_job_id == BATCH_ID
    assert stored.error_type is None and stored.error_message is None
    assert stored.completed_at is None
    assert stored.started_at == "2026-01-01T00:05:00.000000Z"


def test_it_lets_only_one_of_two_racing_retries_win(store):
    job = store.add()

    first, second = _reclaim(store, job), _reclaim(store, job)

    assert (first, second) == (True, False)
    assert store.get(job.job_id).attempt == 2


@pytest.mark.parametrize(
    ("fields", "runner_job_id"),
    [
        ({}, OTHER_BATCH_ID),  # a different Batch job (e.g. a stale duplicate submit)
        ({"error_type": ErrorType.DATA}, BATCH_ID),  # the job's own failure: not retried
        ({"error_type": ErrorType.LOST}, BATCH_ID),  # reconciliation failed it
        ({"status": JobStatus.CANCELLED}, BATCH_ID),  # the user cancelled it meanwhile
        ({"status": JobStatus.QUEUED, "error_type": None}, BATCH_ID),  # resubmitted
        ({"runner_job_id": None}, BATCH_ID),  # no run recorded
        ({"attempt": 2}, BATCH_ID),  # moved on since it was read (attempt 1)
    ],
    ids=["other-run", "data-error", "lost", "cancelled", "queued", "no-run-id", "moved-on"],
)
def test_it_refuses_a_reclaim_when_any_fact_differs(store, fields, runner_job_id):
    job = store.add(**fields)
    before = store.get(job.job_id)

    reclaimed = _reclaim(store, job, runner_job_id=runner_job_id)

    after = store.get(job.job_id)
    assert reclaimed is False
    assert (after.status, after.attempt, after.error_type) == (
        before.status,
        before.attempt,
        before.error_type,
    )


# --------------------------------------------------------------------------- the container


@pytest.fixture
def deployment(tmp_path):
    return LocalDeployment(tmp_path).create()


@pytest.fixture
def penguins(deployment):
    return deployment.add_dataset(frames.penguins_csv().read_bytes(), "penguins.csv")


def _batch_env(deployment, job, key, *, batch_id=BATCH_ID, attempt="2"):
    env = deployment.env(job, key)
    env.update({contract.ENV_RUNNER_JOB_ID: batch_id, contract.ENV_RUNNER_ATTEMPT: attempt})
    return env


@pytest.mark.slow
def test_it_trains_the_job_again_when_batch_retries_the_interrupted_run(deployment, penguins):
    job = deployment.add_job(target_column="species", time_budget=2, **INTERRUPTED)

    done = run_container(_batch_env(deployment, job, penguins))

    record = deployment.job(job.job_id)
    assert done.returncode == 0, done.stderr
    assert (record["status"], record["attempt"]) == (JobStatus.COMPLETED, 2)
    assert record["error_type"] is None and record["error_message"] is None
    assert record["started_at"] > INTERRUPTED["completed_at"]
    assert record["metrics"]["accuracy"] > 0.9
    assert "re-claimed by attempt 2" in done.stderr


@pytest.mark.parametrize(
    ("batch_id", "attempt"),
    [(BATCH_ID, "1"), (OTHER_BATCH_ID, "2")],
    ids=["first-attempt", "other-batch-job"],
)
def test_it_leaves_an_interrupted_job_to_others_when_it_is_not_the_retry(
    deployment, penguins, batch_id, attempt
):
    job = deployment.add_job(target_column="species", time_budget=2, **INTERRUPTED)

    done = run_container(_batch_env(deployment, job, penguins, batch_id=batch_id, attempt=attempt))

    record = deployment.job(job.job_id)
    assert done.returncode == 0, done.stderr  # the job is terminal: nothing for this run
    assert (record["status"], record["attempt"]) == (JobStatus.FAILED, 1)
    assert record["error_type"] == ErrorType.INTERRUPTED
    assert record["started_at"] is None and record["metrics"] == {}


def test_it_never_reclaims_in_local_mode_where_there_are_no_runner_attempts(deployment, penguins):
    job = deployment.add_job(target_column="species", time_budget=2, **INTERRUPTED)

    done = run_container(deployment.env(job, penguins))  # no AWS_BATCH_* variables

    record = deployment.job(job.job_id)
    assert done.returncode == 0, done.stderr
    assert (record["status"], record["error_type"]) == (JobStatus.FAILED, ErrorType.INTERRUPTED)
