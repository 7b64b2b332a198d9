"""The TrainForm the configure page renders and `jobs:create` validates."""

from __future__ import annotations

import pytest

from jobs.forms import TrainForm, metric_choices
from tests.datasets.csv_files import penguins_raw_csv
from tests.datasets.factories import analyzed

pytestmark = pytest.mark.django_db


@pytest.fixture
def iris(alice):
    return analyzed(alice)


def form(dataset, **data) -> TrainForm:
    values = {"dataset_id": dataset.dataset_id, "target_column": "species"}
    values.update(data)
    return TrainForm(values, dataset=dataset)


def test_it_accepts_a_plain_request_with_auto_choices(iris):
    bound = form(iris, problem_type="auto", metric="auto", time_budget="")
    assert bound.is_valid(), bound.errors
    assert bound.cleaned_data["problem_type"] is None
    assert bound.cleaned_data["metric"] is None
    assert bound.cleaned_data["time_budget"] is None
    assert bound.cleaned_data["dataset_id"] == iris.dataset_id


def test_it_offers_the_datasets_columns_and_the_auto_budget(iris):
    empty = TrainForm(dataset=iris)
    assert [v for v, _ in empty.fields["excluded_columns"].choices] == iris.columns
    assert empty.auto_budget == 120
    assert empty.fields["time_budget"].widget.attrs["placeholder"] == "auto (120 s)"


def test_it_rejects_an_unknown_target(iris):
    bound = form(iris, target_column="colour")
    assert not bound.is_valid()
    assert "Target column 'colour' not found in dataset" in bound.errors["target_column"]


def test_it_rejects_an_excluded_target(iris):
    bound = form(iris, excluded_columns=["species"])
    assert not bound.is_valid()
    assert "cannot also be excluded" in bound.errors["excluded_columns"][0]


def test_it_rejects_excluding_every_feature(iris):
    features = [c for c in iris.columns if c != "species"]
    bound = form(iris, excluded_columns=features)
    assert not bound.is_valid()
    assert "No feature columns are left" in bound.errors["excluded_columns"][0]


def test_it_checks_the_metric_against_the_detected_problem_type(iris):
    bound = form(iris, metric="rmse")
    assert not bound.is_valid()
    assert "RMSE does not apply to multiclass classification" in bound.errors["metric"][0]
    assert form(iris, metric="f1_macro").is_valid()


def test_it_checks_the_metric_against_a_chosen_problem_type(iris):
    assert form(
        iris, target_column="petal width (cm)", problem_type="regression", metric="mae"
    ).is_valid()
    bound = form(
        iris, target_column="petal width (cm)", problem_type="regression", metric="accuracy"
    )
    assert not bound.is_valid()


def test_it_refuses_a_target_that_cannot_be_one_unless_a_type_is_chosen(alice):
    raw = analyzed(alice, penguins_raw_csv(), "raw.csv")
    bound = form(raw, target_column="Individual ID")
    assert not bound.is_valid()
    message = bound.errors["target_column"][0]
    assert "'Individual ID' cannot be a training target: it looks like an identifier" in message


@pytest.mark.parametrize(
    ("value", "ok"), [("29", False), ("30", True), ("3600", True), ("3601", False)]
)
def test_it_bounds_the_time_budget(iris, value, ok):
    assert form(iris, time_budget=value).is_valid() is ok


def test_it_follows_the_configured_budget_floor(iris, settings):
    settings.AUTOML_MIN_TIME_BUDGET = 1
    assert form(iris, time_budget="2").is_valid()


def test_it_refuses_a_form_for_another_dataset(iris, alice):
    other = analyzed(alice, filename="other.csv")
    bound = TrainForm({"dataset_id": other.dataset_id, "target_column": "species"}, dataset=iris)
    assert not bound.is_valid()
    assert "another dataset" in bound.errors["dataset_id"][0]


def test_without_a_dataset_it_checks_shapes_only(iris):
    bound = TrainForm(
        {"dataset_id": iris.dataset_id, "target_column": "anything", "excluded_columns": ["x"]}
    )
    assert bound.is_valid(), bound.errors
    assert not TrainForm({"dataset_id": "nope", "target_column": "x"}).is_valid()


def test_metric_choices_start_with_the_default():
    assert metric_choices("binary")[0] == ("auto", "Default (ROC AUC)")
    assert [v for v, _ in metric_choices("regression")][1:] == ["r2", "rmse", "mae", "mape"]


def test_the_configure_page_form_starts_a_job(alice_client, iris, runner):
    """What the rendered configure page posts, `jobs:create` accepts (runner faked)."""
    import re

    from django.urls import reverse

    page = alice_client.get(reverse("datasets:detail", args=[iris.dataset_id])).content.decode()
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)
    response = alice_client.post(
        reverse("jobs:create"),
        {
            "dataset_id": iris.dataset_id,
            "idempotency_key": key,
            "target_column": "species",
            "problem_type": "auto",
            "metric": "auto",
            "time_budget": "",
        },
    )
    assert response.status_code == 302
    [(job_id, dataset_key)] = runner.submitted
    assert response["Location"] == reverse("jobs:detail", args=[job_id])
    assert dataset_key == iris.storage_key


def test_an_invalid_configure_form_comes_back_with_the_error(alice_client, iris, runner):
    from django.urls import reverse

    response = alice_client.post(
        reverse("jobs:create"),
        {"dataset_id": iris.dataset_id, "target_column": "species", "metric": "rmse"},
    )
    assert response.status_code == 400
    assert "Training could not start" in response.content.decode()
    assert runner.submitted == []
