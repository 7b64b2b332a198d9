"""`contract.validate_training_request`: the one check the form, the API, the job service and
the container make of a training request, and the one budget floor they share."""

from __future__ import annotations

import pytest

from tests.conftest import make_job
from training_image.contract import (
    ENV_METRIC,
    ENV_TIME_BUDGET,
    MIN_TIME_BUDGET,
    Backend,
    ContainerEnvError,
    TrainingRequestError,
    container_env,
    read_container_env,
    validate_training_request,
)

COLUMNS = ["id", "age", "income", "churned"]
PROFILES = {
    "id": {"kind": "id", "unique": 500, "problem_type": None},
    "age": {"kind": "integer", "unique": 60, "problem_type": "regression"},
    "income": {"kind": "numeric", "unique": 480, "problem_type": "regression"},
    "churned": {"kind": "boolean", "unique": 2, "problem_type": "binary"},
}


def check(**request):
    values = dict(target_column="churned", columns=COLUMNS, profiles=PROFILES, row_count=500)
    values.update(request)
    return validate_training_request(**values)


def refusal(**request) -> dict[str, str]:
    with pytest.raises(TrainingRequestError) as caught:
        check(**request)
    return dict(caught.value.errors)


def test_it_resolves_auto_from_the_analysis_and_the_row_count():
    settings = check(problem_type="auto", metric="", time_budget="", excluded_columns=["id"])
    assert (settings.problem_type, settings.metric, settings.time_budget) == (
        "binary",
        "roc_auc",
        120,
    )
    assert settings.excluded_columns == ("id",)


def test_it_keeps_what_it_cannot_resolve_for_later():
    settings = validate_training_request(target_column="y", metric="auto")
    assert (settings.problem_type, settings.metric, settings.time_budget) == (None, None, None)


@pytest.mark.parametrize(
    ("request_", "field", "message"),
    [
        ({"target_column": "colour"}, "target_column", "Target column 'colour' not found"),
        ({"target_column": "id"}, "target_column", "looks like an identifier"),
        ({"excluded_columns": ["churned"]}, "excluded_columns", "cannot also be excluded"),
        ({"excluded_columns": ["nope"]}, "excluded_columns", "not found in dataset: ['nope']"),
        (
            {"excluded_columns": ["id", "age", "income"]},
            "excluded_columns",
            "No feature columns are left",
        ),
        ({"problem_type": "clustering"}, "problem_type", "Unknown problem type"),
        ({"metric": "rmse"}, "metric", "RMSE does not apply to binary classification"),
        ({"metric": "bleu"}, "metric", "Unknown metric 'bleu'"),
        (
            {"time_budget": MIN_TIME_BUDGET - 1},
            "time_budget",
            f"between {MIN_TIME_BUDGET} and 3600",
        ),
        ({"time_budget": 3601}, "time_budget", "between"),
        ({"time_budget": "soon"}, "time_budget", "whole number of seconds"),
        ({"time_budget": 12.5}, "time_budget", "whole number of seconds"),
    ],
)
def test_it_names_the_field_at_fault(request_, field, message):
    errors = refusal(**request_)
    assert field in errors and message in errors[field]


def test_it_reports_every_problem_at_once():
    errors = refusal(metric="rmse", time_budget=5, excluded_columns=["nope"])
    assert set(errors) == {"metric", "time_budget", "excluded_columns"}


def test_a_lower_floor_is_the_callers_choice():
    assert check(time_budget=2, min_time_budget=1).time_budget == 2


def test_the_container_refuses_what_the_web_refuses():
    job = make_job(target_column="churned", problem_type="binary", metric="rmse", time_budget=60)
    env = container_env(
        job, dataset_key="k", backend=Backend("local", "a", "b", "c", "sqlite", "d")
    )
    with pytest.raises(ContainerEnvError) as caught:
        read_container_env(env)
    assert caught.value.variable == ENV_METRIC and "RMSE does not apply" in str(caught.value)
    env.update({ENV_METRIC: "auto", ENV_TIME_BUDGET: "4000"})
    with pytest.raises(
        ContainerEnvError, match=f"{ENV_TIME_BUDGET}: Time budget must be between 1"
    ):
        read_container_env(env)
    env[ENV_TIME_BUDGET] = "2"  # the container trusts the deployment's floor the web applied
    config = read_container_env(env)
    assert (config.time_budget, config.metric) == (2, None)  # excluded: from the job record


def test_the_product_floor_is_one_number():
    from automl_lite import settings as project_settings
    from jobs.forms import TrainForm

    assert project_settings.AUTOML_MIN_TIME_BUDGET == MIN_TIME_BUDGET
    assert TrainForm().fields["time_budget"].widget.attrs["min"] == MIN_TIME_BUDGET
