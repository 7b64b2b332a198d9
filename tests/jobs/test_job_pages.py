"""The job pages: list, detail (live / failed / completed), actions, downloads and reports."""

from __future__ import annotations

import json

import pytest
from django.core.files.base import ContentFile

from automl_lite import wiring
from tests.jobs.factories import store_dataset, store_job
from tests.jobs.models import GENTOO, store_penguin_model
from training_image.contract import ErrorType, JobStatus, artifact_key, new_id

pytestmark = pytest.mark.django_db

EVALUATION = {
    "test_metrics": {"accuracy": 0.9565, "f1_macro": 0.9453},
    "baseline": {"name": "majority class", "metrics": {"accuracy": 0.4348, "f1_macro": 0.2020}},
    "confusion_matrix": {"labels": ["Adelie", "Gentoo"], "matrix": [[29, 1], [0, 25]]},
    "roc_curve": {"fpr": [0, 0.1, 1], "tpr": [0, 0.9, 1], "auc": 0.97},
    "leaderboard": [
        {"estimator": "rf", "best_score": 0.956, "trials": 3, "time": 0.2},
        {"estimator": "lgbm", "best_score": 0.789, "trials": 1, "time": 3.5},
    ],
    "feature_importance": [
        {"feature": "bill_length_mm", "importance": 0.33},
        {"feature": "<script>alert(1)</script>", "importance": 0.1},
    ],
    "leakage_warnings": [],
    "dropped_columns": [{"column": "row_id", "reason": "identifier: unique per row"}],
    "split": {"train_rows": 275, "test_rows": 69},
}


def completed(owner, dataset, **overrides):
    job = store_job(
        owner,
        dataset,
        status=JobStatus.COMPLETED,
        metrics={
            "accuracy": 0.9565,
            "training_time": 5.2,
            "best_estimator": "rf",
            "validation_score": 0.95,
        },
        started_at="2025-01-01T10:00:00.000000Z",
        completed_at="2025-01-01T10:00:06.000000Z",
        **overrides,
    )
    artifacts = store_penguin_model(job.job_id)
    for name, alias, data in (
        ("evaluation.json", "models", json.dumps(EVALUATION).encode()),
        ("model.pkl", "models", b"pickle-bytes"),
        ("eda_report.html", "reports", b"<html><body>EDA</body></html>"),
    ):
        key = artifact_key(job.job_id, name)
        wiring.storage(alias).save(key, ContentFile(data))
        artifacts[name] = key
    return wiring.job_repository().update(job.job_id, artifacts=artifacts)


# --------------------------------------------------------------------------- list


def test_the_list_shows_the_users_jobs(alice_client, alice, bob, iris):
    mine = completed(alice, iris, tags=["penguins"])
    theirs = store_job(bob, None, dataset_name="secret.csv")
    html = alice_client.get("/jobs/").content.decode()
    assert mine.job_id in html
    assert "penguins" in html and "Random forest" in html
    assert theirs.job_id not in html and "secret.csv" not in html


def test_the_list_loads_more_rows_through_htmx(alice_client, alice, iris):
    for _ in range(21):
        store_job(alice, iris)
    page = alice_client.get("/jobs/").content.decode()
    assert 'hx-get="/jobs/?cursor=' in page
    cursor = page.split('hx-get="/jobs/?cursor=')[1].split('"')[0]
    rows = alice_client.get(f"/jobs/?cursor={cursor}", HTTP_HX_REQUEST="true")
    assert rows.status_code == 200
    assert rows.content.decode().count("<tr") == 1  # one more job, no further "load more"
    assert "<html" not in rows.content.decode()


def test_the_list_has_an_empty_state(alice_client):
    assert "No training jobs yet" in alice_client.get("/jobs/").content.decode()


def test_the_list_sends_anonymous_users_to_login(anon):
    response = anon.get("/jobs/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_list_rejects_post(alice_client):
    assert alice_client.post("/jobs/").status_code == 405


# --------------------------------------------------------------------------- detail + progress


def test_a_running_job_polls_its_progress_card(alice_client, alice, iris):
    job = store_job(
        alice,
        iris,
        status=JobStatus.RUNNING,
        time_budget=60,
        started_at="2025-01-01T10:00:00.000000Z",
        progress={
            "phase": "searching",
            "trials": 7,
            "best_estimator": "lgbm",
            "best_score": 0.91,
            "metric": "accuracy",
            "elapsed": 30.0,
            "eta": 25.0,
        },
    )
    html = alice_client.get(f"/jobs/{job.job_id}/").content.decode()
    assert f'hx-get="/jobs/{job.job_id}/progress/?live=1"' in html
    assert 'hx-trigger="every 2s"' in html
    assert "LightGBM" in html and "0.9100" in html and ">7<" in html
    assert "width: 50%" in html  # 30 s of a 60 s budget


def test_the_progress_fragment_polls_while_live(alice_client, alice, iris):
    job = store_job(alice, iris, status=JobStatus.QUEUED)
    response = alice_client.get(f"/jobs/{job.job_id}/progress/", HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'hx-trigger="every 2s"' in html and 'hx-swap="outerHTML"' in html
    assert "waiting for a free worker" in html
    assert "<html" not in html


def test_the_progress_fragment_stops_polling_when_terminal(alice_client, alice, iris):
    job = store_job(alice, iris, status=JobStatus.FAILED, error_type=ErrorType.LOST)
    response = alice_client.get(f"/jobs/{job.job_id}/progress/?live=1", HTTP_HX_REQUEST="true")
    assert "hx-trigger" not in response.content.decode()
    assert response["HX-Refresh"] == "true"  # the page reloads to show the outcome


def test_the_progress_fragment_checks_ownership(bob_client, alice, iris):
    job = store_job(alice, iris, status=JobStatus.RUNNING)
    assert (
        bob_client.get(f"/jobs/{job.job_id}/progress/", HTTP_HX_REQUEST="true").status_code == 404
    )


def test_a_failed_job_says_what_happened_and_offers_a_resubmit(alice_client, alice, iris):
    job = store_job(
        alice,
        iris,
        status=JobStatus.FAILED,
        error_type=ErrorType.LOST,
        error_phase="searching",
        error_message="The training process exited with code 3 without reporting a result.",
    )
    html = alice_client.get(f"/jobs/{job.job_id}/").content.decode()
    assert "exited with code 3" in html
    assert "During: searching" in html
    assert f'action="/jobs/{job.job_id}/resubmit/"' in html
    assert "hx-trigger" not in html


def test_a_data_error_shows_advice_but_no_resubmit(alice_client, alice, iris):
    job = store_job(
        alice, iris, status=JobStatus.FAILED, error_type=ErrorType.DATA, error_message="bad target"
    )
    html = alice_client.get(f"/jobs/{job.job_id}/").content.decode()
    assert "bad target" in html and "Check the target column" in html
    assert "/resubmit/" not in html


def test_a_completed_job_shows_its_results(alice_client, alice, iris):
    job = completed(alice, iris)
    html = alice_client.get(f"/jobs/{job.job_id}/").content.decode()
    assert "Model performance" in html
    assert "0.9565" in html and "baseline 0.4348" in html
    assert "Random forest" in html and "is-best" in html
    assert "Confusion matrix" in html and "ROC curve" in html
    assert "identifier: unique per row" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    assert f"/jobs/{job.job_id}/artifacts/model.onnx" in html
    assert f"/jobs/{job.job_id}/reports/eda_report.html" in html
    assert "hx-trigger" not in html


def test_the_detail_page_checks_ownership_and_ids(alice_client, bob_client, alice, iris):
    job = completed(alice, iris)
    assert bob_client.get(f"/jobs/{job.job_id}/").status_code == 404
    assert alice_client.get("/jobs/not-a-uuid/").status_code == 404
    assert alice_client.get(f"/jobs/{new_id()}/").status_code == 404


def test_the_detail_page_sends_anonymous_users_to_login(anon, alice, iris):
    job = completed(alice, iris)
    assert anon.get(f"/jobs/{job.job_id}/").status_code == 302


def test_the_detail_page_rejects_post(alice_client, alice, iris):
    assert alice_client.post(f"/jobs/{completed(alice, iris).job_id}/").status_code == 405


# --------------------------------------------------------------------------- actions


def test_cancel_stops_the_job(alice_client, alice, iris, runner):
    job = store_job(alice, iris, status=JobStatus.RUNNING)
    response = alice_client.post(f"/jobs/{job.job_id}/cancel/")
    assert response.status_code == 302
    assert wiring.job_repository().get(job.job_id).status == JobStatus.CANCELLED
    assert runner.cancelled == [job.job_id]


def test_cancel_through_htmx_refreshes_the_page(alice_client, alice, iris, runner):
    job = store_job(alice, iris, status=JobStatus.RUNNING)
    response = alice_client.post(f"/jobs/{job.job_id}/cancel/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and response["HX-Refresh"] == "true"


def test_resubmit_queues_the_next_attempt(alice_client, alice, iris, runner):
    job = store_job(alice, iris, status=JobStatus.FAILED, error_type=ErrorType.SUBMIT)
    alice_client.post(f"/jobs/{job.job_id}/resubmit/")
    stored = wiring.job_repository().get(job.job_id)
    assert (stored.status, stored.attempt) == (JobStatus.QUEUED, 2)


def test_delete_removes_the_job_and_returns_to_the_list(alice_client, alice, iris, runner):
    job = completed(alice, iris)
    response = alice_client.post(f"/jobs/{job.job_id}/delete/")
    assert response.status_code == 302 and response["Location"] == "/jobs/"
    assert wiring.job_repository().get(job.job_id) is None
    assert wiring.dataset_repository().get(iris.dataset_id) is not None  # kept unless asked


@pytest.mark.parametrize("action", ["cancel", "resubmit", "delete", "meta", "deploy"])
def test_actions_check_ownership_and_method(alice_client, bob_client, alice, iris, runner, action):
    job = store_job(alice, iris, status=JobStatus.RUNNING)
    assert bob_client.post(f"/jobs/{job.job_id}/{action}/").status_code == 404
    assert alice_client.get(f"/jobs/{job.job_id}/{action}/").status_code == 405
    assert alice_client.post(f"/jobs/not-a-uuid/{action}/").status_code == 404
    assert wiring.job_repository().get(job.job_id).status == JobStatus.RUNNING


def test_actions_send_anonymous_users_to_login(anon, alice, iris):
    job = store_job(alice, iris, status=JobStatus.RUNNING)
    assert anon.post(f"/jobs/{job.job_id}/cancel/").status_code == 302
    assert wiring.job_repository().get(job.job_id).status == JobStatus.RUNNING


def test_tags_and_notes_save_through_htmx(alice_client, alice, iris):
    job = completed(alice, iris)
    response = alice_client.post(
        f"/jobs/{job.job_id}/meta/", {"tags": "loan, v2", "notes": "first"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert "Saved" in response.content.decode()
    stored = wiring.job_repository().get(job.job_id)
    assert stored.tags == ["loan", "v2"] and stored.notes == "first"


def test_bad_tags_come_back_with_the_error(alice_client, alice, iris):
    job = completed(alice, iris)
    response = alice_client.post(
        f"/jobs/{job.job_id}/meta/", {"tags": "x" * 51, "notes": ""}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400
    assert "Each tag must be 50 characters or less" in response.content.decode()


def test_deploy_then_predict_through_htmx(alice_client, alice, iris):
    job = completed(alice, iris)
    card = alice_client.post(f"/jobs/{job.job_id}/deploy/", {"deploy": "1"}, HTTP_HX_REQUEST="true")
    html = card.content.decode()
    assert card.status_code == 200 and "Undeploy" in html
    assert 'name="f:island"' in html and '<option value="Biscoe"' in html
    features = {f"f:{k}": str(v) for k, v in GENTOO.items()}
    result = alice_client.post(f"/jobs/{job.job_id}/predict/", features, HTTP_HX_REQUEST="true")
    assert result.status_code == 200
    assert 'data-testid="prediction">Gentoo<' in result.content.decode()


def test_a_refused_row_comes_back_with_each_error_next_to_its_field(alice_client, alice, iris):
    job = completed(alice, iris, deployed=True)
    features = {f"f:{k}": str(v) for k, v in GENTOO.items()} | {
        "f:body_mass_g": "heavy",
        "f:bill_depth_mm": "inf",
    }
    result = alice_client.post(f"/jobs/{job.job_id}/predict/", features, HTTP_HX_REQUEST="true")
    assert result.status_code == 400
    html = result.content.decode()
    assert 'id="playground"' in html
    assert 'data-testid="prediction"' not in html  # no prediction, old or new
    assert "No prediction" in html and "2 values to fix" in html
    for column, message in (
        ("body_mass_g", "Cannot convert &#x27;heavy&#x27; to number"),
        ("bill_depth_mm", "must be a finite number"),
    ):
        field = html.split(f'data-feature="{column}"', 1)[1].split('data-feature="', 1)[0]
        assert message in field, column
        assert 'aria-invalid="true"' in field
    # The other values stay as typed.
    assert 'value="47.5"' in html


def test_the_form_invents_no_values(alice_client, alice, iris):
    job = completed(alice, iris, deployed=True)
    html = alice_client.get(f"/jobs/{job.job_id}/").content.decode()
    form = html.split('id="playground"', 1)[1].split("</form>", 1)[0]
    assert '<option value="" selected>(missing: the model fills it in)</option>' in form
    assert " selected>Biscoe" not in form
    assert 'value=""' in form.split('name="f:body_mass_g"', 1)[1].split(">", 1)[0]


def test_the_no_javascript_form_predicts_on_the_page(alice_client, alice, iris):
    job = completed(alice, iris, deployed=True)
    features = {f"f:{k}": str(v) for k, v in GENTOO.items()}
    page = alice_client.post(f"/jobs/{job.job_id}/predict/", features)
    assert page.status_code == 200
    html = page.content.decode()
    assert "<html" in html and 'data-testid="prediction">Gentoo<' in html
    refused = alice_client.post(f"/jobs/{job.job_id}/predict/", {**features, "f:island": "Mars"})
    assert refused.status_code == 400
    assert "&#x27;Mars&#x27; is not a value of &#x27;island&#x27;" in refused.content.decode()


def test_a_get_of_the_predict_url_goes_to_the_form(alice_client, bob_client, alice, iris):
    job = completed(alice, iris, deployed=True)
    response = alice_client.get(f"/jobs/{job.job_id}/predict/")
    assert response.status_code == 302
    assert response["Location"] == f"/jobs/{job.job_id}/#deploy-card"
    assert bob_client.get(f"/jobs/{job.job_id}/predict/").status_code == 404
    assert alice_client.put(f"/jobs/{job.job_id}/predict/").status_code == 405


def test_predict_on_an_undeployed_model_says_so_on_the_page(alice_client, alice, iris):
    job = completed(alice, iris, deployed=False)
    features = {f"f:{k}": str(v) for k, v in GENTOO.items()}
    page = alice_client.post(f"/jobs/{job.job_id}/predict/", features)
    assert page.status_code == 400
    assert "Model is not deployed" in page.content.decode()


# --------------------------------------------------------------------------- files


def test_the_owner_downloads_an_artifact_as_an_attachment(alice_client, alice, iris):
    job = completed(alice, iris)
    response = alice_client.get(f"/jobs/{job.job_id}/artifacts/model.pkl")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert b"".join(response.streaming_content) == b"pickle-bytes"


def test_downloads_check_ownership_names_and_signatures(
    alice_client, bob_client, anon, alice, iris
):
    job = completed(alice, iris)
    assert bob_client.get(f"/jobs/{job.job_id}/artifacts/model.pkl").status_code == 404
    assert alice_client.get(f"/jobs/{job.job_id}/artifacts/evaluation.json").status_code == 404
    assert alice_client.get(f"/jobs/{job.job_id}/artifacts/..%2Fmodel.pkl").status_code == 404
    forged = f"/jobs/{job.job_id}/artifacts/model.pkl?expires=9999999999&signature=abc"
    assert anon.get(forged).status_code == 404
    assert anon.get(f"/jobs/{job.job_id}/artifacts/model.pkl").status_code == 302
    assert alice_client.post(f"/jobs/{job.job_id}/artifacts/model.pkl").status_code == 405
    assert alice_client.get("/jobs/nope/artifacts/model.pkl").status_code == 404


def test_reports_are_served_inline_and_sandboxed(alice_client, bob_client, alice, iris):
    job = completed(alice, iris)
    response = alice_client.get(f"/jobs/{job.job_id}/reports/eda_report.html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert "sandbox" in response["Content-Security-Policy"]
    assert "attachment" not in response.get("Content-Disposition", "")
    assert bob_client.get(f"/jobs/{job.job_id}/reports/eda_report.html").status_code == 404
    assert alice_client.get(f"/jobs/{job.job_id}/reports/training_report.html").status_code == 404


@pytest.mark.slow
def test_the_results_say_whether_the_run_is_reproducible_and_its_target_scale(
    alice_client, alice, tmp_path
):
    from tests.jobs.trained import store_trained_job, train
    from tests.training_image.test_target_transform import price_frame

    result = train(price_frame(1200), "price", tmp_path, estimators=None, budget=8)
    job = store_trained_job(alice, store_dataset(alice, filename="prices.csv"), result, tmp_path)
    html = alice_client.get(f"/jobs/{job.job_id}/").content.decode()
    cut = result.evaluation["cut"]
    assert 'id="reproducible"' in html
    if cut:
        assert "cut short" in html and cut[0].split(":")[0] in html
    else:
        assert "the same data, settings and seed give this model again" in html
    assert result.evaluation["target_transform"]["transform"] == "log1p"
    assert 'id="target-scale"' in html and "log(1 + price)" in html
