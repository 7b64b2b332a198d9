"""AWS faults and repeats: throttling, double clicks, double hand-offs, racing reconcilers.

Records in DynamoDB and jobs in Batch, both moto; faults injected at botocore's send
hook (what a real endpoint would answer). Outcomes are read back from the tables and
from Batch's own job list, never from mocks.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config

from core.exceptions import InvalidTransition, ServiceUnavailable
from jobs import services
from jobs.runners.batch import BatchRunner
from tests.aws.aws_resources import s3_backend
from tests.aws.conftest import REGION
from tests.aws.http_answers import server_error
from tests.aws.records import Records, create_records
from tests.aws.stack import deploy_stack, stack_runner
from tests.conftest import make_dataset
from training_image.contract import DatasetStatus, JobStatus

COLUMNS = ["bill_length_mm", "flipper_length_mm", "island", "species"]


def _error(code: str, message: str) -> tuple[AWSResponse, dict]:
    return (
        AWSResponse("https://dynamodb.us-east-1.amazonaws.com/", 400, {}, None),
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}},
    )


def throttle(table_client, operation: str, times: int) -> list[int]:
    """DynamoDB refuses the next `times` calls of `operation` (ThrottlingException, not applied)."""
    left = [times]
    calls: list[int] = []

    def answer(**_):
        calls.append(1)
        if left[0] > 0:
            left[0] -= 1
            return _error("ThrottlingException", "Rate of requests exceeds the allowed throughput.")
        return None

    # before-call answers instead of DynamoDB: the request is never applied.
    table_client.meta.events.register(f"before-call.dynamodb.{operation}", answer)
    return calls


def lose_answer(table_client, operation: str, times: int) -> list[int]:
    """DynamoDB applies the next `times` calls of `operation` but the answer is lost.

    moto (in-process, on before-send) applies the write; this handler then replaces its
    answer with a 500, as a dropped connection or read timeout after the write would.
    """
    left = [times]
    lost: list[int] = []

    def answer(request, **_):
        if left[0] > 0:
            left[0] -= 1
            lost.append(1)
            return server_error(request, b'{"__type":"InternalServerError"}')
        return None

    table_client.meta.events.register_last(f"before-send.dynamodb.{operation}", answer)
    return lost


@pytest.fixture
def runner(batch):
    return stack_runner(deploy_stack(), client=batch)


@pytest.fixture
def records(moto_batch) -> Records:
    # No botocore retries and no backoff sleeps: each injected fault is seen by our code.
    create_records()
    resource = boto3.resource(
        "dynamodb", region_name=REGION, config=Config(retries={"max_attempts": 1})
    )
    from datasets.adapters.dynamodb import DynamoDatasetRepository
    from jobs.adapters.dynamodb import DynamoJobRepository

    zero = {"retry_delays": (0, 0, 0, 0), "sleep": lambda _s: None}
    return Records(
        jobs=DynamoJobRepository(resource.Table("automl-test-jobs"), **zero),
        datasets=DynamoDatasetRepository(resource.Table("automl-test-datasets"), **zero),
        jobs_table=resource.Table("automl-test-jobs"),
    )


@pytest.fixture
def dataset(records):
    return records.datasets.add(
        make_dataset(
            filename="penguins.csv",
            status=DatasetStatus.READY,
            row_count=344,
            columns=COLUMNS,
            analysis={"columns": [{"name": "species", "problem_type": "multiclass"}]},
        )
    )


def _create(records, runner, dataset, **extra):
    return services.job_create(
        owner_id=dataset.owner_id,
        dataset_id=dataset.dataset_id,
        target_column="species",
        time_budget=60,
        repository=records.jobs,
        datasets=records.datasets,
        runner=runner,
        **extra,
    )


def _batch_jobs(batch, runner) -> list[dict]:
    return batch.list_jobs(jobQueue=runner.job_queue, jobStatus="SUCCEEDED")["jobSummaryList"]


def test_it_starts_one_job_for_a_double_click(records, runner, batch, dataset):
    first = _create(records, runner, dataset, idempotency_key="click-1")
    second = _create(records, runner, dataset, idempotency_key="click-1")

    assert first.job_id == second.job_id
    assert len(records.jobs.list_for_dataset(dataset.dataset_id)) == 1
    assert [j["jobId"] for j in _batch_jobs(batch, runner)] == [first.runner_job_id]


def test_it_hands_a_job_to_batch_only_once_when_the_hand_off_repeats(
    records, runner, batch, dataset
):
    job = _create(records, runner, dataset)

    with pytest.raises(InvalidTransition):  # pending -> queued was claimed by the first
        services.hand_off(
            records.jobs.get(job.job_id),
            dataset_key=dataset.storage_key,
            expected=(JobStatus.PENDING,),
            repository=records.jobs,
            runner=runner,
        )

    assert len(_batch_jobs(batch, runner)) == 1


def test_it_retries_a_throttled_write_and_submits_once(records, runner, batch, dataset):
    calls = throttle(records.jobs_table.meta.client, "PutItem", times=2)

    job = _create(records, runner, dataset)

    assert len(calls) == 3  # two throttled attempts, then the write
    assert records.jobs.get(job.job_id).status == JobStatus.QUEUED
    assert len(_batch_jobs(batch, runner)) == 1


def test_it_reports_persistent_throttling_and_submits_nothing(records, runner, batch, dataset):
    throttle(records.jobs_table.meta.client, "PutItem", times=100)

    with pytest.raises(ServiceUnavailable) as caught:
        _create(records, runner, dataset)

    assert "throttled" in caught.value.message
    assert "Try again in a few seconds" in caught.value.message
    assert records.jobs.list_for_dataset(dataset.dataset_id) == []
    assert _batch_jobs(batch, runner) == []


def test_it_hands_off_a_job_whose_write_landed_but_whose_answer_was_lost(
    records, runner, batch, dataset
):
    from jobs.adapters.dynamodb import DynamoJobRepository

    # Default botocore retries: the 500 is retried, and the retried put finds the item.
    table = boto3.resource("dynamodb", region_name=REGION).Table("automl-test-jobs")
    jobs = DynamoJobRepository(table)
    lost = lose_answer(table.meta.client, "PutItem", times=1)

    job = services.job_create(
        owner_id=dataset.owner_id,
        dataset_id=dataset.dataset_id,
        target_column="species",
        time_budget=60,
        repository=jobs,
        datasets=records.datasets,
        runner=runner,
    )

    assert lost == [1]
    assert job.status == JobStatus.QUEUED  # not left pending forever
    assert [j["jobId"] for j in _batch_jobs(batch, runner)] == [job.runner_job_id]


def test_it_leaves_a_failed_resubmittable_job_when_batch_refuses(records, batch, dataset):
    refusing = BatchRunner(batch, job_queue="gone", job_definition="gone", backend=s3_backend())

    job = _create(records, refusing, dataset)

    assert job.status == JobStatus.FAILED
    assert job.error_type == "submit"
    assert job.error_message.startswith("Could not start training: AWS Batch refused")
    assert services.is_resubmittable(job)


def test_it_resubmits_a_job_batch_refused_once_batch_accepts(records, runner, batch, dataset):
    refusing = BatchRunner(batch, job_queue="gone", job_definition="gone", backend=s3_backend())
    failed = _create(records, refusing, dataset)

    job = services.job_resubmit(
        job=failed, repository=records.jobs, datasets=records.datasets, runner=runner
    )

    assert (job.status, job.attempt) == (JobStatus.QUEUED, 2)
    assert [j["jobId"] for j in _batch_jobs(batch, runner)] == [job.runner_job_id]
    assert _batch_jobs(batch, runner)[0]["jobName"].endswith("-a2")


def test_it_resubmits_a_spot_interrupted_job_once_when_two_reconcilers_race(
    records, runner, batch, dataset
):
    from jobs.runners.base import RunnerState

    job = _create(records, runner, dataset)
    records.jobs.transition(job.job_id, JobStatus.RUNNING)
    snapshot = records.jobs.list_by_status([JobStatus.QUEUED, JobStatus.RUNNING])

    class SpotReclaimed:
        """Batch's view, as both reconcilers read it before either acted."""

        def __init__(self) -> None:
            self.submitted = 0

        def describe(self, jobs):
            return {
                j.job_id: RunnerState(
                    alive=False,
                    status="FAILED",
                    reason="The Spot capacity running the training was reclaimed by AWS.",
                    interrupted=True,
                )
                for j in jobs
            }

        def submit(self, job, *, dataset_key):
            self.submitted += 1
            return runner.submit(job, dataset_key=dataset_key)

        def cancel(self, job):
            runner.cancel(job)

    class StaleList:
        """The second reconciler's list, read before the first one wrote anything."""

        def __init__(self, repository) -> None:
            self._repository = repository

        def list_by_status(self, statuses, **_):
            return snapshot

        def __getattr__(self, name):
            return getattr(self._repository, name)

    batch_view = SpotReclaimed()
    first = services.jobs_reconcile(
        repository=records.jobs, datasets=records.datasets, runner=batch_view
    )
    second = services.jobs_reconcile(
        repository=StaleList(records.jobs), datasets=records.datasets, runner=batch_view
    )

    stored = records.jobs.get(job.job_id)
    assert first.requeued == [job.job_id] and second.requeued == []
    assert batch_view.submitted == 1
    assert (stored.status, stored.attempt) == (JobStatus.QUEUED, 2)


def test_it_cancels_a_queued_job_and_terminates_its_batch_run(records, runner, batch, dataset):
    from botocore.stub import ANY, Stubber

    job = _create(records, runner, dataset)

    with Stubber(batch) as stub:
        stub.add_response("terminate_job", {}, {"jobId": job.runner_job_id, "reason": ANY})
        cancelled = services.job_cancel(job=job, repository=records.jobs, runner=runner)
        stub.assert_no_pending_responses()

    assert cancelled.status == JobStatus.CANCELLED
    # A late claim from the container that was already starting is refused.
    with pytest.raises(InvalidTransition):
        records.jobs.transition(job.job_id, JobStatus.RUNNING)
    assert records.jobs.get(job.job_id).status == JobStatus.CANCELLED
