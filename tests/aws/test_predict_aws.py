"""Serving in AWS mode (moto): the deployed model and its model.pkl come from the models bucket;
a prediction is explained, a refused row lists every problem, `manage.py predict` scores a file."""

from __future__ import annotations

import pandas as pd
import pytest
from django.core.management import call_command

from jobs.inference import model_cache
from tests.aws.aws_mode import aws_mode
from tests.jobs.trained import mixed_frame, store_trained_job, train

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("aws-model")
    frame = mixed_frame()
    return frame, train(frame, "churn", out), out


@pytest.fixture
def job(settings, moto_batch, alice, trained):
    model_cache.clear()
    with aws_mode(settings) as mode:
        _, result, out = trained
        stored = store_trained_job(alice, None, result, out)
        listed = mode.s3.list_objects_v2(Bucket=mode.bucket("models"))["Contents"]
        keys = {o["Key"] for o in listed}
        assert set(stored.artifacts.values()) <= keys  # the artifacts really are in S3
        yield stored
    model_cache.clear()


def test_a_prediction_from_s3_is_explained(alice_client, job, trained):
    frame, _, _ = trained
    row = frame.drop(columns=["churn"]).iloc[5].to_dict()
    row = {k: None if pd.isna(v) else v for k, v in row.items()}
    response = alice_client.post(
        f"/api/predict/{job.job_id}?explain=true",
        {"features": row},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["prediction"] in ("yes", "no")
    assert body["explanation_info"]["method"] == "tree_shap"
    assert {e["feature"] for e in body["explanation"]} == set(row)


def test_a_bad_row_is_refused_with_every_problem(alice_client, job):
    response = alice_client.post(
        f"/api/predict/{job.job_id}",
        {"features": {"amount": "lots", "plan": "gold", "member": "no", "comment": "ok"}},
        content_type="application/json",
    )
    assert response.status_code == 400
    codes = {e["feature"]: e["code"] for e in response.json()["extra"]["errors"]}
    assert codes == {"amount": "wrong_type", "plan": "unseen_category", "signup": "missing"}


def test_manage_py_predict_scores_a_file_with_the_model_in_s3(job, trained, tmp_path):
    frame, _, _ = trained
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    frame.drop(columns=["churn"]).head(50).to_csv(source, index=False)
    call_command("predict", job.job_id, str(source), str(target))
    assert len(pd.read_csv(target)) == 50
