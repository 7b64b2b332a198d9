"""job_create: validation against the dataset, hand-off, idempotency, submit failure."""

from __future__ import annotations

import pytest

from core.exceptions import AlreadyExists, InvalidInput, NotFound
from jobs import services
from jobs.runners.base import SubmitError
from tests.jobs.factories import iris_csv, store_dataset
from training_image.contract import DatasetStatus, ErrorType, JobStatus

pytestmark = pytest.mark.django_db


def create(owner, dataset, **overrides):
    values = dict(
        owner_id=str(owner.pk),
        dataset_id=dataset.dataset_id,
        target_column="species",
        problem_type=None,
        metric=None,
        time_budget=60,
        excluded_columns=[],
    )
    values.update(overrides)
    return services.job_create(**values)


def test_the_job_carries_the_dialect_its_dataset_was_analysed_with(alice, runner):
    from tests.datasets.csv_files import cp1252_csv
    from training_image.csv_dialect import CsvDialect

    dataset = store_dataset(alice, content=cp1252_csv(), filename="windows.csv")
    assert dataset.csv_dialect == CsvDialect(encoding="cp1252").to_dict()

    job = create(alice, dataset)

    assert job.csv_dialect == dataset.csv_dialect
    assert runner.submitted == [(job.job_id, dataset.storage_key)]


def test_it_rejects_a_target_that_is_not_a_column(alice, iris, runner):
    with pytest.raises(InvalidInput, match="Target column 'colour' not found in dataset"):
        create(alice, iris, target_column="colour")
    assert runner.submitted == []


def test_it_rejects_another_users_dataset(alice, bob, iris, runner):
    with pytest.raises(NotFound, match="Dataset not found"):
        create(bob, iris)


def test_it_rejects_a_missing_dataset(alice, runner):
    from tests.conftest import make_dataset

    with pytest.raises(NotFound, match="Dataset not found"):
        create(alice, make_dataset(owner_id=str(alice.pk)))


def test_it_rejects_a_dataset_still_being_analyzed(alice, runner):
    dataset = store_dataset(alice, status=DatasetStatus.ANALYZING)
    with pytest.raises(InvalidInput, match="not ready for training"):
        create(alice, dataset)


def test_it_rejects_an_excluded_target(alice, iris, runner):
    with pytest.raises(InvalidInput, match="cannot also be excluded"):
        create(alice, iris, excluded_columns=["species"])


def test_it_rejects_unknown_excluded_columns(alice, iris, runner):
    with pytest.raises(InvalidInput, match=r"Excluded columns not found in dataset: \['nope'\]"):
        create(alice, iris, excluded_columns=["nope"])


def test_it_rejects_excluding_every_feature(alice, iris, runner):
    features = [c for c in iris.columns if c != "species"]
    with pytest.raises(InvalidInput, match="No feature columns are left"):
        create(alice, iris, excluded_columns=features)


@pytest.mark.parametrize("budget", [0, 29, 3601])
def test_it_rejects_a_budget_out_of_range(alice, iris, runner, budget):
    with pytest.raises(InvalidInput, match="Time budget must be between 30 and 3600 seconds"):
        create(alice, iris, time_budget=budget)


def test_it_rejects_a_metric_of_another_problem_type(alice, iris, runner):
    with pytest.raises(InvalidInput, match="R² does not apply to multiclass"):
        create(alice, iris, metric="r2")


def test_it_says_a_date_column_cannot_be_predicted(alice, runner):
    rows = iris_csv().decode().splitlines()
    dated = [rows[0] + ",measured"] + [
        f"{row},2024-{i % 12 + 1:02d}-{i % 28 + 1:02d}" for i, row in enumerate(rows[1:])
    ]
    dataset = store_dataset(alice, content="\n".join(dated).encode())
    with pytest.raises(InvalidInput, match="it holds dates; AutoML Lite predicts categories"):
        create(alice, dataset, target_column="measured")


def test_it_rejects_a_target_detection_says_cannot_be_one(alice, runner):
    rows = iris_csv().decode().splitlines()
    named = [rows[0] + ",name"] + [f"{row},flower number {i}" for i, row in enumerate(rows[1:])]
    dataset = store_dataset(alice, content="\n".join(named).encode())
    with pytest.raises(
        InvalidInput, match="'name' cannot be a training target: it looks like free text"
    ):
        create(alice, dataset, target_column="name")
    job = create(alice, dataset, target_column="name", problem_type="multiclass")
    assert job.problem_type == "multiclass"  # the user's choice overrides detection


def test_it_uses_the_detected_problem_type_and_its_default_metric(alice, iris, runner):
    job = create(alice, iris)
    assert job.problem_type == "multiclass"
    assert job.metric == "accuracy"


def test_it_honours_the_users_problem_type_and_metric(alice, iris, runner):
    job = create(
        alice, iris, target_column="petal width (cm)", problem_type="regression", metric="mae"
    )
    assert (job.problem_type, job.metric) == ("regression", "mae")


def test_it_picks_the_budget_from_the_row_count_when_none_is_given(alice, iris, runner):
    assert create(alice, iris, time_budget=None).time_budget == 120


def test_it_stores_the_job_before_submitting_and_queues_it(alice, iris, runner, jobs_repo):
    job = create(alice, iris, excluded_columns=["sepal width (cm)"])
    stored = jobs_repo.get(job.job_id)
    assert stored.status == JobStatus.QUEUED
    assert stored.runner_job_id == "fake-run-1"
    assert stored.excluded_columns == ["sepal width (cm)"]
    assert stored.dataset_name == "iris.csv"
    assert runner.submitted == [(job.job_id, iris.storage_key)]


def test_it_creates_one_job_for_a_repeated_idempotency_key(alice, iris, runner, jobs_repo):
    first = create(alice, iris, idempotency_key="click-1")
    second = create(alice, iris, idempotency_key="click-1")
    assert first.job_id == second.job_id
    assert len(runner.submitted) == 1
    assert len(jobs_repo.list_for_owner(str(alice.pk)).items) == 1


def test_it_keeps_keys_of_different_users_apart(alice, bob, iris, runner):
    bobs = store_dataset(bob)
    a = create(alice, iris, idempotency_key="same")
    b = create(bob, bobs, idempotency_key="same")
    assert a.job_id != b.job_id


def test_it_refuses_a_reused_key_for_a_different_request(alice, iris, runner):
    create(alice, iris, idempotency_key="k")
    with pytest.raises(AlreadyExists, match="already used for a different training request"):
        create(
            alice,
            iris,
            idempotency_key="k",
            target_column="petal width (cm)",
            problem_type="regression",
        )


def test_it_leaves_a_failed_resubmittable_job_when_submit_fails(alice, iris, runner, jobs_repo):
    runner.fail_with = SubmitError("The local task queue did not accept the job.")
    job = create(alice, iris)
    stored = jobs_repo.get(job.job_id)
    assert stored.status == JobStatus.FAILED
    assert stored.error_type == ErrorType.SUBMIT
    assert stored.error_message == (
        "Could not start training: The local task queue did not accept the job."
    )
    assert services.is_resubmittable(stored)


def test_it_hides_an_unexpected_runner_error_behind_a_clear_message(alice, iris, runner, jobs_repo):
    runner.fail_with = RuntimeError("botocore internals")
    job = create(alice, iris)
    assert job.status == JobStatus.FAILED
    assert "botocore" not in job.error_message
    assert "Resubmit" in job.error_message


def test_it_retries_a_failed_submission_when_the_same_key_comes_again(alice, iris, runner):
    runner.fail_with = SubmitError("down")
    failed = create(alice, iris, idempotency_key="retry-me")
    runner.fail_with = None
    again = create(alice, iris, idempotency_key="retry-me")
    assert again.job_id == failed.job_id
    assert again.status == JobStatus.QUEUED
    assert again.attempt == 2
