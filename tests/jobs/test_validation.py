"""Validation mode: a scored file that holds the target is measured like the test split was.

Real models (a few seconds of the container's pipeline), real files through the batch API
(Celery eager). The metrics are checked against scikit-learn on the downloaded predictions
and the file's own targets; drift against files built to have (or not have) moved.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as m
from sklearn.datasets import load_diabetes

from automl_lite import wiring
from tests.jobs.factories import store_dataset
from tests.jobs.test_prediction_batches import read_csv, start
from tests.jobs.trained import mixed_frame, store_trained_job, train
from training_image.contract import BATCH_OUTPUT_STORAGE

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

TRAIN_ROWS = 2000


@pytest.fixture(scope="module")
def churn_frames():
    frame = mixed_frame(3000, seed=7)
    return frame.iloc[:TRAIN_ROWS], frame.iloc[TRAIN_ROWS:].reset_index(drop=True)


@pytest.fixture(scope="module")
def churn_model(churn_frames, tmp_path_factory):
    out = tmp_path_factory.mktemp("churn")
    return train(churn_frames[0], "churn", out), out


@pytest.fixture
def churn_job(alice, churn_model):
    result, out = churn_model
    dataset = store_dataset(alice, filename="churn.csv")
    return store_trained_job(alice, dataset, result, out)


def score(client, job, frame: pd.DataFrame, filename: str = "check.csv") -> dict:
    """Score `frame` as a batch; the batch's detail as the API answers it."""
    body = start(client, job, frame.to_csv(index=False).encode(), filename=filename)
    assert client.post(body["confirm_url"]).status_code == 202
    detail = client.get(f"/api/jobs/{job.job_id}/batches/{body['batch_id']}")
    assert detail.status_code == 200
    shown = detail.json()
    assert shown["status"] == "completed", shown["error_message"]
    return shown


# --------------------------------------------------------------------------- bad input first


def test_a_file_without_the_target_is_scored_without_validation(
    alice_client, churn_job, churn_frames
):
    _, held_out = churn_frames
    shown = score(alice_client, churn_job, held_out.drop(columns=["churn"]).head(50))
    assert shown["validation"] is None and shown["validation_url"] is None
    base = f"/api/jobs/{churn_job.job_id}/batches/{shown['batch_id']}"
    missing = alice_client.get(f"{base}/validation")
    assert missing.status_code == 404
    assert "has no 'churn' column" in missing.json()["detail"]
    page = alice_client.get(f"/jobs/{churn_job.job_id}/batches/{shown['batch_id']}/validation/")
    assert page.status_code == 404
    assert b"No validation for this file" in page.content
    assert b"also holds the actual" in page.content


def test_rows_with_a_missing_or_unknown_target_are_counted_not_measured(
    alice_client, churn_job, churn_frames
):
    _, held_out = churn_frames
    rows = held_out.head(200).copy()
    rows.loc[0, "churn"] = ""
    rows.loc[1, "churn"] = "NA"
    rows.loc[2, "churn"] = "maybe"
    rows.loc[3, "churn"] = "maybe"
    rows.loc[4, "churn"] = "perhaps"
    shown = score(alice_client, churn_job, rows)
    report = shown["validation"]
    assert report["rows"] == 200 and report["rows_scored"] == 195
    assert report["skipped"] == {"missing_target": 2, "unseen_class": 3, "unreadable_target": 0}
    assert report["examples"] == {"unseen_class": ["maybe", "perhaps"]}
    # Every row still has its prediction.
    result = read_csv(alice_client.get(shown["download_url"]))
    assert len(result) == 200 and all(result["prediction"].isin(["yes", "no"]))


def test_a_file_whose_targets_are_all_unusable_has_no_metrics_but_its_predictions(
    alice_client, churn_job, churn_frames
):
    _, held_out = churn_frames
    rows = held_out.head(20).assign(churn="")
    report = score(alice_client, churn_job, rows)["validation"]
    assert report["rows_scored"] == 0 and report["metrics"] == []
    assert report["skipped"]["missing_target"] == 20


# --------------------------------------------------------------------------- the metrics


def test_metrics_are_the_training_metrics_measured_on_the_files_rows(
    alice_client, churn_job, churn_frames
):
    _, held_out = churn_frames
    shown = score(alice_client, churn_job, held_out, filename="last month.csv")
    report = shown["validation"]
    result = read_csv(alice_client.get(shown["download_url"]))
    actual = (held_out["churn"] == "yes").to_numpy().astype(int)
    p_yes = result["probability_yes"].astype(float).to_numpy()
    predicted = (result["prediction"] == "yes").to_numpy().astype(int)
    by_name = {row["name"]: row for row in report["metrics"]}

    assert report["target"] == "churn" and report["rows_scored"] == 1000
    assert report["metrics"][0]["name"] == churn_job.metric  # the optimised metric first
    assert by_name["roc_auc"]["validation"] == pytest.approx(
        m.roc_auc_score(actual, p_yes), abs=1e-5
    )
    assert by_name["accuracy"]["validation"] == pytest.approx(
        m.accuracy_score(actual, predicted), abs=1e-6
    )
    assert by_name["f1_macro"]["validation"] == pytest.approx(
        m.f1_score(actual, predicted, average="macro"), abs=1e-6
    )
    # Beside each, the number training measured on its own test rows (the job's metrics).
    for name, row in by_name.items():
        assert row["training_test"] == pytest.approx(churn_job.metrics[name], abs=1e-6), name
        assert row["difference"] == pytest.approx(
            row["validation"] - row["training_test"], abs=1e-5
        )
        assert row["change"] in ("better", "worse", "same")
    assert by_name["log_loss"]["lower_is_better"] and not by_name["accuracy"]["lower_is_better"]
    # The same report at its own endpoint, and on a page.
    alone = alice_client.get(shown["validation_url"])
    assert alone.status_code == 200 and alone.json() == report
    page = alice_client.get(f"/jobs/{churn_job.job_id}/batches/{shown['batch_id']}/validation/")
    assert page.status_code == 200
    assert b"Validation of" in page.content and shown["filename"].encode() in page.content
    assert f'data-metric="{churn_job.metric}"'.encode() in page.content


def test_a_regression_file_is_measured_with_r2_and_errors(alice_client, alice, tmp_path):
    data = load_diabetes(as_frame=True).frame
    train_rows, held_out = data.iloc[:330], data.iloc[330:].reset_index(drop=True)
    result = train(train_rows, "target", tmp_path, budget=3)
    job = store_trained_job(alice, store_dataset(alice, filename="diabetes.csv"), result, tmp_path)
    rows = held_out.copy()
    rows["target"] = rows["target"].astype(object)
    rows.loc[0, "target"] = "n/a"
    rows.loc[1, "target"] = "lots"
    shown = score(alice_client, job, rows)
    report = shown["validation"]
    scored = read_csv(alice_client.get(shown["download_url"]))
    predicted = scored["prediction"].astype(float).to_numpy()[2:]
    actual = held_out["target"].to_numpy()[2:]
    by_name = {row["name"]: row for row in report["metrics"]}

    assert report["skipped"] == {"missing_target": 1, "unseen_class": 0, "unreadable_target": 1}
    assert report["examples"] == {"unreadable_target": ["lots"]}
    assert by_name["r2"]["validation"] == pytest.approx(m.r2_score(actual, predicted), abs=1e-5)
    assert by_name["mae"]["validation"] == pytest.approx(
        m.mean_absolute_error(actual, predicted), rel=1e-5
    )
    assert by_name["rmse"]["lower_is_better"]


# --------------------------------------------------------------------------- drift


def test_a_file_like_the_training_rows_shows_no_drift(alice_client, churn_job, churn_frames):
    _, held_out = churn_frames
    drift = score(alice_client, churn_job, held_out)["validation"]["drift"]
    assert drift["method"] == "psi" and drift["bands"] == {"moderate": 0.1, "major": 0.25}
    # The reference is the training split: 80 % of the rows the job trained on.
    assert drift["rows"] == 1000 and drift["training_rows"] == TRAIN_ROWS * 4 // 5
    assert drift["drifted"] == [] and not drift["few_rows"]
    compared = {f["feature"]: f for f in drift["features"]}
    assert set(compared) == {"amount", "plan", "member", "signup"}
    assert compared["signup"]["kind"] == "date"
    assert all(f["band"] == "stable" for f in compared.values()), compared
    assert "comment" in drift["skipped"]  # free text has no bins


def test_moved_features_are_flagged_and_the_others_stay_stable(
    alice_client, churn_job, churn_frames
):
    _, held_out = churn_frames
    moved = held_out.copy()
    moved["amount"] = moved["amount"] * 3  # prices tripled
    moved.loc[: len(moved) * 0.8, "plan"] = "pro"  # most customers on one plan
    shown = score(alice_client, churn_job, moved)
    drift = shown["validation"]["drift"]
    compared = {f["feature"]: f for f in drift["features"]}

    assert set(drift["drifted"]) == {"amount", "plan"}
    assert [f["feature"] for f in drift["features"][:2]] == sorted(
        ["amount", "plan"], key=lambda name: -compared[name]["psi"]
    )
    assert compared["amount"]["psi"] >= 0.25 and compared["amount"]["band"] == "major"
    assert compared["member"]["band"] == "stable"
    pro = next(b for b in compared["plan"]["bins"] if b["label"] == "pro")
    assert pro["actual"] > 0.8 > pro["expected"]
    assert sum(b["expected"] for b in compared["amount"]["bins"]) == pytest.approx(1, abs=1e-3)
    page = alice_client.get(f"/jobs/{churn_job.job_id}/batches/{shown['batch_id']}/validation/")
    assert b'data-feature="amount" data-band="major"' in page.content
    assert b'id="drifted-count">2<' in page.content


def test_the_report_is_kept_beside_the_result_and_deleted_with_the_batch(
    alice_client, churn_job, churn_frames
):
    _, held_out = churn_frames
    shown = score(alice_client, churn_job, held_out.head(120))
    batch = wiring.batch_repository().get(shown["batch_id"])
    storage = wiring.storage(BATCH_OUTPUT_STORAGE)
    with storage.open(batch.validation_key) as handle:
        assert json.load(io.TextIOWrapper(handle)) == shown["validation"]
    listed = alice_client.get(f"/api/jobs/{churn_job.job_id}/batches").json()["batches"]
    assert listed[0]["validation_url"] == shown["validation_url"]
    assert "validation" not in listed[0]  # a list reads no report from storage
    deleted = alice_client.delete(f"/api/jobs/{churn_job.job_id}/batches/{shown['batch_id']}")
    assert deleted.status_code == 200
    assert not storage.exists(batch.validation_key) and not storage.exists(batch.output_key)


def test_a_model_trained_before_drift_was_recorded_says_so(alice_client, churn_job, churn_frames):
    card_key = churn_job.artifacts["model_card.json"]
    storage = wiring.storage("models")
    with storage.open(card_key) as handle:
        card = json.load(handle)
    card.pop("drift_reference")
    storage.delete(card_key)
    from django.core.files.base import ContentFile

    storage.save(card_key, ContentFile(json.dumps(card).encode()))
    _, held_out = churn_frames
    report = score(alice_client, churn_job, held_out.head(50))["validation"]
    assert report["drift"] is None
    assert "trained before drift was recorded" in report["drift_unavailable"]
    assert report["rows_scored"] == 50 and report["metrics"]


def test_the_batch_history_marks_a_validated_file_and_links_its_report(
    alice_client, churn_job, churn_frames
):
    _, held_out = churn_frames
    shown = score(alice_client, churn_job, held_out.head(80))
    page = alice_client.get(f"/jobs/{churn_job.job_id}/")
    assert b">validated</span>" in page.content
    assert f"/jobs/{churn_job.job_id}/batches/{shown['batch_id']}/validation/".encode() in (
        page.content
    )


def test_numbers_count_into_the_training_bins_by_the_same_rule(
    alice_client, churn_job, churn_frames
):
    """Text cells the serving rule reads as numbers (' 12.5 ') count into the same bins."""
    _, held_out = churn_frames
    rows = held_out.head(300).copy()
    spaced = rows.copy()
    spaced["amount"] = [f" {v} " if v == v else "NA" for v in rows["amount"]]
    plain = score(alice_client, churn_job, rows)["validation"]["drift"]
    padded = score(alice_client, churn_job, spaced)["validation"]["drift"]
    by = {f["feature"]: f for f in plain["features"]}
    by_padded = {f["feature"]: f for f in padded["features"]}
    assert by_padded["amount"]["bins"] == by["amount"]["bins"]
    assert np.isclose(by_padded["amount"]["psi"], by["amount"]["psi"])


# --------------------------------------------------------------------------- the web image's worker

WEB_IMAGE_LACKS = ("sklearn", "pandas", "scipy", "lightgbm", "xgboost", "flaml")


def test_the_web_images_worker_validates_without_the_training_libraries(
    alice_client, churn_job, churn_frames, monkeypatch
):
    """Scoring and validating a file loads no training library (numpy and onnxruntime do it
    all), at module level (a fresh interpreter) or on the way: a worker stays light and its
    cold start short, and a web image built without them validates all the same."""
    blocked = "; ".join(f"sys.modules[{name!r}] = None" for name in WEB_IMAGE_LACKS)
    code = (
        f"import sys; {blocked}; import django; django.setup(); "
        "import jobs.validation, jobs.prediction_files, jobs.services.batches, jobs.tasks"
    )
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "automl_lite.settings", "PYTHONPATH": str(root)}
    fresh = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=root, capture_output=True, text=True, check=False
    )
    assert fresh.returncode == 0, fresh.stderr[-2000:]

    _, held_out = churn_frames
    for name in WEB_IMAGE_LACKS:  # a lazy import on the scoring path would now fail
        monkeypatch.setitem(sys.modules, name, None)
    report = score(alice_client, churn_job, held_out.head(300))["validation"]
    assert report["rows_scored"] == 300 and report["metrics"] and report["drift"]["features"]
