"""Leakage and imbalance, acted on: leakage warnings as sentences with "exclude and train
again"; imbalanced classes found in the analysis, weighted, and scored with F1 by default."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from django.core.files.base import ContentFile

from automl_lite import wiring
from tests.datasets.factories import analyzed
from tests.jobs.factories import store_job
from training_image.contract import (
    JobStatus,
    artifact_key,
    default_metric,
    is_imbalanced,
    validate_training_request,
)

pytestmark = pytest.mark.django_db

LEAK = {
    "feature": "refund_issued",
    "score": 0.999,
    "message": "'refund_issued' alone predicts the target almost perfectly (ROC AUC 0.999 in "
    "cross-validation). If its value is only known after the outcome, exclude it: the model "
    "would not work on new data.",
}


def fraud_csv(rare_share: float = 0.08, rows: int = 400) -> bytes:
    rng = np.random.default_rng(0)
    fraud = (rng.random(rows) < rare_share).astype(int)
    frame = pd.DataFrame(
        {
            "amount": rng.normal(50, 10, rows) + 30 * fraud,
            "refund_issued": fraud,
            "country": rng.choice(["FR", "DE", "US"], rows),
            "fraud": np.where(fraud == 1, "yes", "no"),
        }
    )
    return frame.to_csv(index=False).encode()


@pytest.fixture
def fraud(alice):
    return analyzed(alice, fraud_csv(), "fraud.csv")


def with_evaluation(job, evaluation):
    key = artifact_key(job.job_id, "evaluation.json")
    wiring.storage("models").save(key, ContentFile(json.dumps(evaluation).encode()))
    return wiring.job_repository().update(job.job_id, artifacts={"evaluation.json": key})


# --------------------------------------------------------------------------- leakage


def test_a_leakage_warning_reads_as_a_sentence_with_an_action(alice_client, alice, fraud):
    job = store_job(
        alice,
        fraud,
        status=JobStatus.COMPLETED,
        target_column="fraud",
        problem_type="binary",
        metric="f1",
        metrics={"f1": 0.99, "best_estimator": "lgbm", "training_time": 3},
    )
    with_evaluation(job, {"test_metrics": {"f1": 0.99}, "leakage_warnings": [LEAK]})
    html = alice_client.get(f"/jobs/{job.job_id}/").content.decode()
    block = html.split("Possible target leakage")[1].split("</ul>")[0]
    assert "alone predicts the target almost perfectly" in block
    assert "{&#x27;feature&#x27;" not in block and "{'feature'" not in block  # no raw dict
    link = f'href="/datasets/{fraud.dataset_id}/?from_job={job.job_id}&amp;exclude=refund_issued"'
    assert link in block and "Exclude refund_issued and train again" in block


def test_exclude_and_train_again_starts_from_the_run_minus_the_column(alice_client, alice, fraud):
    job = store_job(
        alice,
        fraud,
        status=JobStatus.COMPLETED,
        target_column="fraud",
        problem_type="binary",
        excluded_columns=["country"],
    )
    html = alice_client.get(
        f"/datasets/{fraud.dataset_id}/?from_job={job.job_id}&exclude=refund_issued&exclude=nope"
    ).content.decode()
    assert "Now also excluded: <strong>refund_issued</strong>." in html
    for column in ("refund_issued", "country"):
        assert f'value="{column}" aria-label="Exclude {column}" checked' in html
    assert 'aria-label="Exclude amount" checked' not in html


# --------------------------------------------------------------------------- imbalance


@pytest.mark.parametrize(
    ("counts", "imbalanced"),
    [
        ([92, 8], True),
        ([81, 19], True),
        ([80, 20], False),
        ([60, 40], False),
        ([152, 124, 68], False),  # penguins' species
        ([50, 45, 5], True),
        ([7], False),
    ],
)
def test_imbalance_is_a_rare_class_under_a_quarter_of_the_commonest(counts, imbalanced):
    assert is_imbalanced(counts) is imbalanced


def test_the_configure_page_says_the_classes_are_imbalanced(alice_client, fraud):
    html = alice_client.get(
        f"/datasets/{fraud.dataset_id}/target/?target_column=fraud"
    ).content.decode()
    assert "Imbalanced classes: &#x27;yes&#x27; is only" in html
    assert "the default metric is F1" in html
    assert '<option value="auto" selected>Default (F1)</option>' in html


def test_an_imbalanced_target_trains_for_f1_by_default(alice, fraud, runner):
    from jobs import services

    job = services.job_create(
        owner_id=str(alice.pk), dataset_id=fraud.dataset_id, target_column="fraud"
    )
    assert (job.problem_type, job.metric) == ("binary", "f1")
    balanced = analyzed(alice, fraud_csv(rare_share=0.5), "balanced.csv")
    other = services.job_create(
        owner_id=str(alice.pk), dataset_id=balanced.dataset_id, target_column="fraud"
    )
    assert other.metric == default_metric("binary") == "roc_auc"


def test_a_chosen_metric_is_kept_on_imbalanced_data():
    profiles = {
        "y": {
            "problem_type": "binary",
            "unique": 2,
            "top_values": [{"value": "a", "count": 95}, {"value": "b", "count": 5}],
        }
    }
    assert validate_training_request(target_column="y", profiles=profiles).metric == "f1"
    assert (
        validate_training_request(target_column="y", profiles=profiles, metric="accuracy").metric
        == "accuracy"
    )


def test_training_weights_imbalanced_classes_and_reports_it():
    from training_image.pipeline import train_frame

    frame = pd.read_csv(__import__("io").BytesIO(fraud_csv(rows=300))).drop(
        columns=["refund_issued"]
    )
    result = train_frame(frame, "fraud", time_budget=3, seed=0, reports=False, estimators=["lgbm"])
    assert result.metric == "f1"
    assert result.evaluation["class_weighting"] == "balanced"


@pytest.mark.parametrize(("metric", "weighting"), [("accuracy", None), ("roc_auc", None)])
def test_a_metric_that_counts_every_row_alike_trains_unweighted(metric, weighting):
    """Balanced weights serve the F1 scores; for accuracy they trade common-class hits for
    rare ones, and ranking metrics barely move (contract.CLASS_WEIGHTED_METRICS)."""
    from training_image.pipeline import train_frame

    frame = pd.read_csv(__import__("io").BytesIO(fraud_csv(rows=300))).drop(
        columns=["refund_issued"]
    )
    result = train_frame(
        frame, "fraud", metric=metric, time_budget=3, seed=0, reports=False, estimators=["lgbm"]
    )
    assert result.metric == metric
    assert result.evaluation["class_weighting"] is weighting
