"""Deploy and predict (reference #11-#13) against a real ONNX model of the penguins."""

from __future__ import annotations

import pytest

from automl_lite import wiring
from jobs.inference import ModelCache, model_cache
from tests.jobs.factories import store_job
from tests.jobs.models import GENTOO, store_penguin_model
from training_image.contract import JobStatus

pytestmark = pytest.mark.django_db


def penguin_job(owner, dataset, *, deployed=True, **overrides):
    job = store_job(
        owner,
        dataset,
        status=JobStatus.COMPLETED,
        metrics={"accuracy": 0.98, "training_time": 3.0, "best_estimator": "lrl2"},
        deployed=deployed,
        **overrides,
    )
    return wiring.job_repository().update(job.job_id, artifacts=store_penguin_model(job.job_id))


def predict(client, job, features):
    return client.post(
        f"/api/predict/{job.job_id}", {"features": features}, content_type="application/json"
    )


# --------------------------------------------------------------------------- #11 deploy


def test_deploy_sets_the_flag_and_sends_the_cache_headers(alice_client, alice, iris):
    job = penguin_job(alice, iris, deployed=False)
    response = alice_client.post(
        f"/api/jobs/{job.job_id}/deploy", {"deploy": True}, content_type="application/json"
    )
    assert response.status_code == 200
    assert response.json()["message"] == "Model successfully deployed"
    assert response["Cache-Control"] == "no-cache, no-store, must-revalidate"
    assert response["X-Cache-Invalidated"] == "deploy-status-changed"
    assert wiring.job_repository().get(job.job_id).deployed is True


def test_undeploy_evicts_the_cached_model(alice_client, alice, iris):
    job = penguin_job(alice, iris)
    assert predict(alice_client, job, GENTOO).status_code == 200
    assert job.job_id in model_cache
    response = alice_client.post(
        f"/api/jobs/{job.job_id}/deploy", {"deploy": False}, content_type="application/json"
    )
    assert response.json()["message"] == "Model successfully undeployed"
    assert job.job_id not in model_cache


def test_deploy_answers_400_for_an_unfinished_job(alice_client, alice, iris):
    job = store_job(alice, iris, status=JobStatus.RUNNING)
    response = alice_client.post(
        f"/api/jobs/{job.job_id}/deploy", {"deploy": True}, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "Cannot deploy job with status 'running'. Only completed jobs can be deployed."
    )


def test_deploy_answers_422_without_the_flag(alice_client, alice, iris):
    job = penguin_job(alice, iris, deployed=False)
    assert (
        alice_client.post(
            f"/api/jobs/{job.job_id}/deploy", {}, content_type="application/json"
        ).status_code
        == 422
    )


def test_deploy_answers_404_for_another_user(bob_client, alice, iris):
    job = penguin_job(alice, iris, deployed=False)
    response = bob_client.post(
        f"/api/jobs/{job.job_id}/deploy", {"deploy": True}, content_type="application/json"
    )
    assert response.status_code == 404


def test_deploy_rejects_get(alice_client, alice, iris):
    assert (
        alice_client.get(f"/api/jobs/{penguin_job(alice, iris).job_id}/deploy").status_code == 405
    )


# --------------------------------------------------------------------------- #12 predict


def test_it_predicts_the_original_label_with_probabilities(alice_client, alice, iris):
    job = penguin_job(alice, iris)
    response = predict(alice_client, job, GENTOO)
    assert response.status_code == 200
    body = response.json()
    assert body["prediction"] == "Gentoo"
    # The earlier edition's keys: class codes, as in preprocessing_info.target_mapping.
    assert set(body["probabilities"]) == {"0", "1", "2"}
    assert body["class_probabilities"] == {
        "Adelie": body["probabilities"]["0"],
        "Chinstrap": body["probabilities"]["1"],
        "Gentoo": body["probabilities"]["2"],
    }
    assert body["probability"] == max(body["probabilities"].values())
    assert body["probability"] == body["class_probabilities"]["Gentoo"]
    assert sum(body["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    assert body["model_type"] == "lrl2"
    assert isinstance(body["inference_time_ms"], float)


def test_it_accepts_numbers_as_strings_and_ignores_extra_keys(alice_client, alice, iris):
    job = penguin_job(alice, iris)
    features = {k: str(v) for k, v in GENTOO.items()} | {"colour": "blue"}
    assert predict(alice_client, job, features).json()["prediction"] == "Gentoo"


def test_one_400_lists_every_problem_of_the_row(alice_client, alice, iris):
    job = penguin_job(alice, iris)
    features = {
        "island": "Atlantis",  # unseen category
        "bill_length_mm": True,  # a boolean for a number
        "bill_depth_mm": "inf",  # not finite
        "flipper_length_mm": ["218"],  # a list
        "body_mass_g": 5200,
    }  # "sex" is missing
    response = predict(alice_client, job, features)
    assert response.status_code == 400
    body = response.json()
    errors = {e["feature"]: e for e in body["extra"]["errors"]}
    assert set(errors) == {"island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "sex"}
    assert errors["island"]["code"] == "unseen_category"
    assert errors["island"]["allowed"] == ["Biscoe", "Dream", "Torgersen"]
    assert errors["bill_length_mm"]["code"] == "wrong_type"
    assert errors["bill_depth_mm"]["code"] == "not_finite"
    assert errors["flipper_length_mm"]["code"] == "wrong_type"
    assert errors["sex"]["code"] == "missing"
    assert body["detail"].startswith("Missing required features: ['sex']; ")
    for name in errors:
        assert f"'{name}'" in body["detail"]


@pytest.mark.parametrize(
    ("feature", "value", "code"),
    [
        ("island", "green", "unseen_category"),
        ("island", 5, "unseen_category"),
        ("island", ["Biscoe"], "wrong_type"),
        ("island", {"name": "Biscoe"}, "wrong_type"),
        ("body_mass_g", True, "wrong_type"),
        ("body_mass_g", "inf", "not_finite"),
        ("body_mass_g", "-Infinity", "not_finite"),
        ("body_mass_g", "heavy", "wrong_type"),
    ],
)
def test_it_refuses_each_wrong_value_by_the_one_rule(
    alice_client, alice, iris, feature, value, code
):
    job = penguin_job(alice, iris)
    response = predict(alice_client, job, {**GENTOO, feature: value})
    assert response.status_code == 400, response.content
    [error] = response.json()["extra"]["errors"]
    assert (error["feature"], error["code"]) == (feature, code)


@pytest.mark.parametrize("missing", [None, "", "  ", "NA", "NaN", "null", "?"])
def test_missing_values_are_imputed_by_the_model_whatever_their_spelling(
    alice_client, alice, iris, missing
):
    job = penguin_job(alice, iris)
    response = predict(alice_client, job, {**GENTOO, "sex": missing, "body_mass_g": missing})
    assert response.status_code == 200, response.content
    assert response.json()["prediction"] == "Gentoo"
    assert response.json()["warnings"] == []


def test_a_number_outside_the_training_range_warns_but_predicts(alice_client, alice, iris):
    job = penguin_job(alice, iris)
    response = predict(alice_client, job, {**GENTOO, "body_mass_g": 99_000})
    assert response.status_code == 200
    [warning] = response.json()["warnings"]
    assert (warning["feature"], warning["code"]) == ("body_mass_g", "out_of_range")
    assert "outside the training range 2700 – 6300" in warning["message"]


def test_json_nan_and_infinity_are_refused_not_a_500(alice_client, alice, iris):
    import json

    job = penguin_job(alice, iris)
    for literal in ("NaN", "Infinity"):
        response = alice_client.post(
            f"/api/predict/{job.job_id}",
            '{"features": {"body_mass_g": ' + literal + "}}",
            content_type="application/json",
        )
        assert response.status_code in (400, 422), literal  # DRF's strict parser: not JSON
    # 1e999 is valid JSON that overflows to infinity: the serializer refuses it too.
    body = json.dumps({"features": {**GENTOO, "body_mass_g": 0}}).replace(
        '"body_mass_g": 0', '"body_mass_g": 1e999'
    )
    response = alice_client.post(
        f"/api/predict/{job.job_id}", body, content_type="application/json"
    )
    assert response.status_code == 422
    assert "features" in response.json()["detail"][0]["loc"]


def test_it_lists_missing_features(alice_client, alice, iris):
    job = penguin_job(alice, iris)
    features = {k: v for k, v in GENTOO.items() if k not in ("island", "sex")}
    response = predict(alice_client, job, features)
    assert response.status_code == 400
    assert response.json()["detail"] == "Missing required features: ['island', 'sex']"


def test_it_rejects_a_non_number_for_a_numeric_feature(alice_client, alice, iris):
    job = penguin_job(alice, iris)
    response = predict(alice_client, job, {**GENTOO, "body_mass_g": "heavy"})
    assert response.status_code == 400
    assert response.json()["detail"] == "Cannot convert 'heavy' to number for feature 'body_mass_g'"


def test_it_refuses_an_undeployed_model(alice_client, alice, iris):
    job = penguin_job(alice, iris, deployed=False)
    response = predict(alice_client, job, GENTOO)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Model is not deployed. Deploy the model first")


def test_it_refuses_a_job_without_onnx(alice_client, alice, iris):
    job = store_job(alice, iris, status=JobStatus.COMPLETED, deployed=True)
    response = predict(alice_client, job, GENTOO)
    assert response.status_code == 400
    assert response.json()["detail"] == "No ONNX model available for this job"


def test_it_answers_500_when_the_card_has_no_features(alice_client, alice, iris):
    from django.core.files.base import ContentFile

    job = penguin_job(alice, iris)
    storage = wiring.storage("models")
    storage.delete(job.artifacts["model_card.json"])
    storage.save(job.artifacts["model_card.json"], ContentFile(b'{"features": []}'))
    response = predict(alice_client, job, GENTOO)
    assert response.status_code == 500
    assert response.json()["detail"] == "Model metadata missing feature columns information"


def test_it_answers_422_without_features(alice_client, alice, iris):
    job = penguin_job(alice, iris)
    response = alice_client.post(f"/api/predict/{job.job_id}", {}, content_type="application/json")
    assert response.status_code == 422


def test_predict_answers_404_for_another_user_and_bad_ids(bob_client, alice_client, alice, iris):
    job = penguin_job(alice, iris)
    assert predict(bob_client, job, GENTOO).status_code == 404
    assert (
        alice_client.post(
            "/api/predict/nope", {"features": {}}, content_type="application/json"
        ).status_code
        == 404
    )


def test_predict_refuses_anonymous_callers_and_get(anon, alice_client, alice, iris):
    job = penguin_job(alice, iris)
    assert predict(anon, job, GENTOO).status_code == 401
    assert alice_client.get(f"/api/predict/{job.job_id}").status_code == 405


def test_the_cache_is_bounded(alice, iris, settings):
    cache = ModelCache(storage=wiring.storage, maxsize=2)
    jobs = [penguin_job(alice, iris) for _ in range(3)]
    for job in jobs:
        cache.get(job)
    assert len(cache) == 2
    assert jobs[0].job_id not in cache and jobs[2].job_id in cache


# --------------------------------------------------------------------------- #13 info


def test_info_describes_the_features_with_an_example_that_predicts(alice_client, alice, iris):
    job = penguin_job(alice, iris)
    response = alice_client.get(f"/api/predict/{job.job_id}/info")
    assert response.status_code == 200
    body = response.json()
    assert body["deployed"] is True
    assert body["feature_count"] == 6
    assert body["feature_info"]["island"] == {
        "type": "categorical",
        "input_type": "select",
        "kind": "categorical",
        "allowed_values": ["Biscoe", "Dream", "Torgersen"],
    }
    assert body["feature_info"]["body_mass_g"]["type"] == "numeric"
    assert body["feature_info"]["body_mass_g"]["input_type"] == "number"
    example = body["example_request"]
    assert predict(alice_client, job, example["features"]).status_code == 200


def test_info_answers_400_for_an_undeployed_model(alice_client, alice, iris):
    job = penguin_job(alice, iris, deployed=False)
    response = alice_client.get(f"/api/predict/{job.job_id}/info")
    assert response.status_code == 400
    assert response.json()["detail"] == "Model is not deployed"


def test_info_answers_404_for_another_user(bob_client, alice, iris):
    assert bob_client.get(f"/api/predict/{penguin_job(alice, iris).job_id}/info").status_code == 404
