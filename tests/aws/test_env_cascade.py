"""Every variable the container requires crosses every level: contract -> BatchRunner ->
Batch (describe_jobs) -> the container's process; and without any one of them the container
stops at once, naming it.

Batch and DynamoDB are a moto server on 127.0.0.1, so the container (a real
`python -m training_image` process started by the Batch emulator) reaches them.
"""

from __future__ import annotations

import pytest

from tests.aws.batch_emulator import BatchEmulator, submitted_environment
from tests.aws.stack import deploy_stack, stack_records, stack_runner
from tests.conftest import make_dataset, make_job
from training_image import contract
from training_image.contract import ErrorType, JobStatus
from training_image.csv_dialect import CsvDialect

# Without these the container cannot find the record to write the failure into.
RECORD_LOCATORS = {contract.ENV_JOB_ID, contract.ENV_JOB_STORE, contract.ENV_JOB_STORE_LOCATION}


@pytest.fixture
def submitted(moto_server):
    """A queued job in the stack's jobs table, submitted to its Batch queue."""
    stack = deploy_stack(endpoint_url=moto_server)
    records = stack_records(stack)
    batch = stack.client("batch")
    runner = stack_runner(stack)
    dataset = records.datasets.add(make_dataset(filename="penguins.csv"))
    job = records.jobs.add(
        make_job(
            dataset_id=dataset.dataset_id,
            target_column="species",
            problem_type="multiclass",
            metric="accuracy",
            time_budget=30,
            status=JobStatus.QUEUED,
            csv_dialect=CsvDialect(line_terminator="\n").to_dict(),  # penguins.csv's dialect
        )
    )
    batch_id = runner.submit(job, dataset_key=dataset.storage_key)
    emulator = BatchEmulator(batch, endpoint_url=moto_server)
    return records, batch, job, dataset, batch_id, emulator, runner.backend()


def test_it_submits_every_variable_the_container_requires(submitted):
    _records, batch, job, dataset, batch_id, _emulator, backend = submitted

    environment = submitted_environment(batch, batch_id)

    missing = [name for name in contract.REQUIRED_ENV if not environment.get(name)]
    assert missing == []
    expected = contract.container_env(job, dataset_key=dataset.storage_key, backend=backend)
    assert {name: environment[name] for name in expected} == expected
    # And the container reads it back without complaint.
    config = contract.read_container_env(environment)
    assert (config.job_id, config.dataset_key) == (job.job_id, dataset.storage_key)
    assert config.csv_dialect == CsvDialect.from_dict(job.csv_dialect)


@pytest.mark.parametrize("variable", contract.REQUIRED_ENV)
def test_it_stops_the_container_at_once_naming_a_missing_variable(submitted, variable):
    records, _batch, job, _dataset, batch_id, emulator, _backend = submitted

    run = emulator.run(batch_id, drop=[variable])

    assert run.returncode == 2  # the container's "bad environment" exit, before any work
    assert f"{variable}: is missing or empty" in run.stderr
    stored = records.jobs.get(job.job_id)
    if variable in RECORD_LOCATORS:
        assert stored.status == JobStatus.QUEUED  # nowhere to write; the log says why
        assert "cannot be reached to record it" in run.stderr
    else:
        assert stored.status == JobStatus.FAILED
        assert stored.error_type == ErrorType.CONFIG
        assert variable in stored.error_message
        assert stored.started_at is None  # it never started training
