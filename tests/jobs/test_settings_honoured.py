"""Settings that do what they say: an unticked exclusion keeps its column, ensemble on/off
and the seed travel from the configure page and the API to the container, MAPE only where
it means something, a warning for regression on a few-valued target."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from automl_lite import wiring
from tests.datasets.factories import analyzed
from tests.training_image import frames
from training_image.contract import (
    ENV_ENSEMBLE,
    ENV_KEPT_COLUMNS,
    ENV_SEED,
    Backend,
    container_env,
    mape_applies,
    read_container_env,
)
from training_image.data import profile_frame
from training_image.metrics import regression_metrics
from training_image.preprocess import plan_features

pytestmark = pytest.mark.django_db

BACKEND = Backend("local", "d", "m", "r", "sqlite", "j", seed=42)


def churn_csv() -> bytes:
    rng = np.random.default_rng(0)
    n = 120
    frame = pd.DataFrame(
        {
            "customer_id": [f"C{i:04d}" for i in range(n)],
            "country": ["FR"] * n,
            "tenure": rng.integers(1, 60, n),
            "churned": rng.integers(0, 2, n),
        }
    )
    return frame.to_csv(index=False).encode()


@pytest.fixture
def churn(alice):
    return analyzed(alice, churn_csv(), "churn.csv")


def post(client, dataset, **fields):
    data = {"dataset_id": dataset.dataset_id, "target_column": "churned", **fields}
    return client.post("/jobs/create/", data)


def created(response):
    job_id = response["Location"].strip("/").split("/")[-1]
    return wiring.job_repository().get(job_id)


# --------------------------------------------------------------------------- kept columns


def test_the_analysis_pre_ticks_identifier_and_constant_columns(alice_client, churn):
    html = alice_client.get(f"/datasets/{churn.dataset_id}/").content.decode()
    assert set((churn.analysis or {}).get("excluded_columns") or {}) == {"customer_id", "country"}
    assert 'value="customer_id" aria-label="Exclude customer_id" checked' in html


def test_unticking_a_pre_ticked_exclusion_keeps_the_column(alice_client, churn, runner):
    job = created(post(alice_client, churn, excluded_columns=["country"]))
    assert job.excluded_columns == ["country"] and job.kept_columns == ["customer_id"]
    env = container_env(job, dataset_key="k", backend=BACKEND)
    assert read_container_env(env).kept_columns == ("customer_id",)
    # Ticked as the analysis suggested: nothing is kept.
    again = created(post(alice_client, churn, excluded_columns=["country", "customer_id"]))
    assert again.kept_columns == []


def test_the_container_keeps_a_kept_identifier_as_a_feature():
    df = frames.mixed()
    dropped = plan_features(df, "churn", profile_frame(df))
    kept = plan_features(df, "churn", profile_frame(df), kept=["customer_id"])
    assert "customer_id" in {d["column"] for d in dropped.dropped}
    assert "customer_id" in kept.columns
    assert "country" not in kept.columns  # still dropped: not kept


def test_the_api_keeps_columns_on_request(alice_client, churn, runner):
    body = {
        "dataset_id": churn.dataset_id,
        "target_column": "churned",
        "config": {"kept_columns": ["customer_id"], "excluded_columns": ["customer_id"]},
    }
    response = alice_client.post("/api/train", body, content_type="application/json")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == "config.kept_columns"
    body["config"] = {"kept_columns": ["customer_id"], "seed": 7, "ensemble": False}
    response = alice_client.post("/api/train", body, content_type="application/json")
    job = wiring.job_repository().get(response.json()["job_id"])
    assert (job.kept_columns, job.seed, job.ensemble) == (["customer_id"], 7, False)
    detail = alice_client.get(f"/api/jobs/{job.job_id}").json()
    assert (detail["kept_columns"], detail["seed"], detail["ensemble"]) == (
        ["customer_id"],
        7,
        False,
    )


# --------------------------------------------------------------------------- ensemble and seed


def test_ensemble_off_and_a_seed_reach_the_container(alice_client, churn, runner):
    job = created(post(alice_client, churn, ensemble=["0"], seed="7"))
    assert job.ensemble is False and job.seed == 7
    env = container_env(job, dataset_key="k", backend=BACKEND)
    assert (env[ENV_ENSEMBLE], env[ENV_SEED]) == ("false", "7")
    config = read_container_env(env)
    assert config.ensemble is False and config.seed == 7


def test_the_default_is_ensemble_on_and_the_deployments_seed(alice_client, churn, runner):
    job = created(post(alice_client, churn, ensemble=["0", "1"], seed=""))
    assert job.ensemble is True and job.seed is None
    env = container_env(job, dataset_key="k", backend=BACKEND)
    assert (env[ENV_ENSEMBLE], env[ENV_SEED], env[ENV_KEPT_COLUMNS]) == (
        "true",
        "42",
        '["customer_id", "country"]',
    )


def test_a_bad_seed_comes_back_on_the_page(alice_client, churn, runner):
    response = post(alice_client, churn, seed="-3")
    assert response.status_code == 400
    assert "Seed must be a whole number from 0 to 2147483647" in response.content.decode()
    assert runner.submitted == []


def test_the_configure_page_offers_ensemble_and_seed(alice_client, churn):
    html = alice_client.get(f"/datasets/{churn.dataset_id}/").content.decode()
    assert 'name="ensemble" value="1" id="id_ensemble" checked' in html
    assert 'name="seed" id="id_seed"' in html and "default: 42" in html


def test_train_again_keeps_ensemble_seed_and_kept_columns(alice_client, churn, runner):
    job = created(post(alice_client, churn, ensemble=["0"], seed="9", excluded_columns=["country"]))
    wiring.job_repository().transition(job.job_id, "cancelled")
    html = alice_client.get(f"/datasets/{churn.dataset_id}/?from_job={job.job_id}").content.decode()
    assert 'id="train-again-note"' in html
    assert 'id="id_ensemble" checked' not in html and 'value="9"' in html
    new = alice_client.post(f"/api/jobs/{job.job_id}/resubmit")
    copy = wiring.job_repository().get(new.json()["job_id"])
    assert (copy.seed, copy.ensemble, copy.kept_columns) == (9, False, ["customer_id"])


# --------------------------------------------------------------------------- warnings and MAPE


def test_regression_on_a_zero_one_target_warns_before_it_starts(alice_client, churn):
    html = alice_client.get(
        f"/datasets/{churn.dataset_id}/target/?target_column=churned&problem_type=regression"
    ).content.decode()
    assert "churned&#x27; takes only 2 distinct values (" in html
    assert "choose binary or multiclass" in html
    plain = alice_client.get(f"/datasets/{churn.dataset_id}/target/?target_column=churned")
    assert "distinct values" not in plain.content.decode()


@pytest.mark.parametrize(
    ("values", "ok"),
    [
        ([10.0, 12.5, 300.0], True),
        ([-4.0, -2.0, -3.0], True),
        ([0.0, 1.0, 2.0], False),
        ([1e-12, 5.0, 6.0], False),
        ([-1.0, 1.0, 2.0], False),
        ([], False),
    ],
)
def test_mape_applies_only_away_from_zero(values, ok):
    assert mape_applies(values) is ok


def test_evaluation_leaves_mape_out_on_near_zero_targets():
    y = np.array([1e-12, 1.0, 2.0, 3.0])
    assert "mape" not in regression_metrics(y, y + 0.1)
    assert regression_metrics(y + 10, y + 10.1)["mape"] == pytest.approx(0.1 / 11.5, rel=0.1)


def test_mape_is_refused_for_a_target_that_reaches_zero(alice, runner):
    from core.exceptions import InvalidInput
    from jobs import services

    frame = pd.DataFrame({"x": range(50), "y": [float(i % 7) for i in range(50)]})
    dataset = analyzed(alice, frame.to_csv(index=False).encode(), "zeros.csv")
    with pytest.raises(InvalidInput, match="MAPE divides by the target"):
        services.job_create(
            owner_id=str(alice.pk),
            dataset_id=dataset.dataset_id,
            target_column="y",
            problem_type="regression",
            metric="mape",
        )


def test_mape_reads_as_a_percentage_on_the_pages():
    from jobs.templatetags.job_format import metric_text

    assert metric_text(0.0823, "mape") == "8.2%"
    assert metric_text(0.0823, "rmse") == "0.0823"
    assert metric_text(None, "mape") == "—"
