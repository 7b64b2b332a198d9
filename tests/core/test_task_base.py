"""The tasks' base class in a local worker: Celery's retries, then the final-failure hook."""

from __future__ import annotations

import pytest
from celery import shared_task

from automl_lite import wiring
from automl_lite.celery import app
from core.task_base import AutomlTask, Redeliver, current_delivery, run_final_failure, sqs_delivery
from datasets import services, tasks
from jobs.tasks import run_training, training_gave_up
from tests.datasets.factories import uploaded
from tests.jobs.factories import store_job
from training_image.contract import DatasetStatus, ErrorType, JobStatus

pytestmark = pytest.mark.django_db


@shared_task(bind=True, name="tests.core.asks_for_a_retry")
def asks_for_a_retry(self) -> None:  # noqa: ANN001
    raise self.retry(exc=ValueError("later"), countdown=0, max_retries=0)


def test_every_task_gets_the_base_class():
    assert isinstance(tasks.analyze_dataset._get_current_object(), AutomlTask)
    assert isinstance(app.tasks["tests.core.asks_for_a_retry"], AutomlTask)
    assert tasks.analyze_dataset.final_failure is tasks.analysis_gave_up
    assert run_training.final_failure is training_gave_up


def test_a_retry_under_sqs_delivery_fails_the_delivery_instead_of_looping():
    with sqs_delivery(2) as delivery, pytest.raises(Redeliver) as raised:
        asks_for_a_retry.apply(retries=1, throw=True)

    assert delivery.receive_count == 2
    assert not delivery.is_last
    assert isinstance(raised.value.error, ValueError)
    assert current_delivery() is None  # the context ends with the delivery


def test_a_local_worker_fails_the_dataset_on_an_error_it_does_not_retry(alice, monkeypatch):
    def broken(*, dataset_id):  # noqa: ANN202
        raise KeyError("a bug")

    dataset = uploaded(alice)
    wiring.dataset_repository().update(dataset.dataset_id, status=DatasetStatus.ANALYZING)
    monkeypatch.setattr(services, "dataset_analyze", broken)
    monkeypatch.setitem(app.conf, "task_eager_propagates", False)

    result = tasks.analyze_dataset.apply(args=[dataset.dataset_id])

    record = wiring.dataset_repository().get(dataset.dataset_id)
    assert result.failed()
    assert record.status == DatasetStatus.FAILED
    assert record.error_message == (
        "The analysis could not read or record the dataset. The analysis was tried 1 times; "
        "confirm the upload again later."
    )


def test_the_training_hook_fails_a_queued_job_so_it_can_be_resubmitted(alice):
    job = store_job(alice, status=JobStatus.QUEUED)

    training_gave_up(job.job_id, error=RuntimeError("boom"), attempts=5)

    stored = wiring.job_repository().get(job.job_id)
    assert stored.status == JobStatus.FAILED
    assert stored.error_type == ErrorType.SUBMIT
    assert stored.error_message == (
        "The training task failed 5 times (RuntimeError) before the training could run. "
        "Resubmit the job."
    )


def test_the_training_hook_leaves_a_finished_job_alone(alice):
    job = store_job(alice, status=JobStatus.COMPLETED)

    training_gave_up(job.job_id, error=RuntimeError("late"), attempts=5)
    training_gave_up("no-such-job", error=RuntimeError("gone"), attempts=5)

    assert wiring.job_repository().get(job.job_id).status == JobStatus.COMPLETED


def test_a_failing_hook_is_logged_not_raised(monkeypatch, caplog):
    def hook(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise RuntimeError("the table is gone too")

    monkeypatch.setattr(type(asks_for_a_retry._get_current_object()), "final_failure", hook)

    assert run_final_failure(asks_for_a_retry, [], {}, error=ValueError("x"), attempts=5) is False
    assert "final-failure hook of tests.core.asks_for_a_retry failed" in caplog.text


def test_a_task_without_a_hook_has_nothing_to_run():
    from core.tasks import ping

    assert run_final_failure(ping, ["x"], {}, error=ValueError("x"), attempts=5) is False
