"""Reconciliation passes against Batch answers served through botocore's Stubber.

moto's Batch cannot make a job time out, run out of memory, stay RUNNABLE or lose its
Spot capacity, so these tests hand `jobs_reconcile` the `describe_jobs` shapes Batch
returns in each case, and read the outcome back from the DynamoDB records (moto).
"""

from __future__ import annotations

from typing import Any

from botocore.stub import ANY, Stubber

from jobs.runners.batch import BatchRunner
from jobs.services import ReconcileReport, jobs_reconcile
from tests.aws.aws_resources import s3_backend
from tests.aws.records import Records
from tests.conftest import make_dataset, make_job
from training_image.contract import Job

QUEUE_ARN = "arn:aws:batch:us-east-1:123456789012:job-queue/automl-test-training"
JOB_DEFINITION = "automl-test-training"


def stubbed_runner(batch: Any, **options: Any) -> BatchRunner:
    """The Batch runner of the test deployment, on a client the test stubs."""
    return BatchRunner(
        batch, job_queue=QUEUE_ARN, job_definition=JOB_DEFINITION, backend=s3_backend(), **options
    )


def add_penguins_job(records: Records, **values: Any) -> Job:
    """A multiclass `species` job on a fresh penguins dataset; `values` override any field."""
    dataset = records.datasets.add(make_dataset(filename="penguins.csv"))
    fields = dict(
        dataset_id=dataset.dataset_id,
        dataset_name="penguins.csv",
        target_column="species",
        problem_type="multiclass",
        metric="accuracy",
    )
    fields.update(values)
    return records.jobs.add(make_job(**fields))


def reconcile(
    records: Records,
    runner: BatchRunner,
    batch: Any,
    details: list[dict] | None,
    *,
    batch_id: str,
    submits: int = 0,
) -> tuple[ReconcileReport, list[dict]]:
    """One reconciliation pass against stubbed Batch answers.

    Args:
        records: The DynamoDB record repositories.
        runner: The runner on `batch`.
        batch: The Batch client to stub; any call not answered here fails the pass.
        details: What `describe_jobs` of `batch_id` returns, or None when the pass must not
            describe any run.
        batch_id: The Batch run the records name.
        submits: How many `submit_job` calls Batch accepts, as `resubmitted-batch-id-<n>`.

    Returns:
        The pass's report and the parameters of each `submit_job` call it made.
    """
    submitted: list[dict] = []
    with Stubber(batch) as stub:
        if details is not None:
            stub.add_response("describe_jobs", {"jobs": details}, {"jobs": [batch_id]})
        for n in range(submits):
            expected = {
                "jobName": ANY,
                "jobQueue": QUEUE_ARN,
                "jobDefinition": JOB_DEFINITION,
                "containerOverrides": ANY,
                "retryStrategy": ANY,
                "timeout": ANY,
                "tags": ANY,
                "propagateTags": True,
            }
            stub.add_response(
                "submit_job",
                {"jobName": f"resubmitted-{n}", "jobId": f"resubmitted-batch-id-{n}"},
                expected,
            )
        batch.meta.events.register(
            "provide-client-params.batch.SubmitJob",
            lambda params, **_: submitted.append(params),
        )
        report = jobs_reconcile(repository=records.jobs, datasets=records.datasets, runner=runner)
        stub.assert_no_pending_responses()
    return report, submitted
