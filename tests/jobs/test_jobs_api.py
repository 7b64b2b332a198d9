"""GET/PATCH/DELETE /api/jobs[/{id}] and the cancel/resubmit actions (reference #7-#10)."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from automl_lite import wiring
from jobs import links
from tests.jobs.factories import store_job
from training_image.contract import ErrorType, JobStatus, artifact_key

pytestmark = pytest.mark.django_db


def url(job_or_id, suffix=""):
    job_id = getattr(job_or_id, "job_id", job_or_id)
    return f"/api/jobs/{job_id}{suffix}"


METRICS = {
    "accuracy": 0.0,
    "f1_macro": 0.25,
    "roc_auc_ovr": 0.5,
    "training_time": 12.5,
    "best_estimator": "lgbm",
    "validation_score": 0.1,
}


def completed(owner, dataset, **overrides):
    job = store_job(owner, dataset, status=JobStatus.COMPLETED, metrics=dict(METRICS), **overrides)
    artifacts = {}
    for name, alias in (
        ("model.pkl", "models"),
        ("model.onnx", "models"),
        ("eda_report.html", "reports"),
    ):
        key = artifact_key(job.job_id, name)
        wiring.storage(alias).save(key, ContentFile(b"data"))
        artifacts[name] = key
    return wiring.job_repository().update(job.job_id, artifacts=artifacts)


# --------------------------------------------------------------------------- #7 list


def test_it_lists_the_callers_jobs_newest_first(alice_client, alice, bob, iris):
    older = completed(alice, iris, created_at="2025-01-01T00:00:00.000000Z")
    newer = store_job(
        alice, iris, status=JobStatus.QUEUED, created_at="2025-02-01T00:00:00.000000Z"
    )
    store_job(bob, None, status=JobStatus.RUNNING)
    body = alice_client.get("/api/jobs?user_id=someone-else").json()
    assert [j["job_id"] for j in body["jobs"]] == [newer.job_id, older.job_id]
    assert body["next_token"] is None
    summary = body["jobs"][1]
    assert summary["primary_metric"] == 0.0  # a true 0.0 stays 0.0
    assert summary["problem_type"] == "classification"
    assert summary["best_estimator"] == "lgbm"
    assert summary["training_time"] == 12.5
    assert body["jobs"][0]["status"] == "pending"  # queued maps to pending
    assert body["jobs"][0]["status_detail"] == "queued"


def test_it_pages_with_an_opaque_token(alice_client, alice, iris):
    ids = {store_job(alice, iris).job_id for _ in range(3)}
    first = alice_client.get("/api/jobs?limit=2").json()
    second = alice_client.get(f"/api/jobs?limit=2&next_token={first['next_token']}").json()
    assert len(first["jobs"]) == 2 and len(second["jobs"]) == 1
    assert {j["job_id"] for j in first["jobs"] + second["jobs"]} == ids
    assert second["next_token"] is None


@pytest.mark.parametrize("limit", ["0", "101", "x"])
def test_it_answers_422_for_a_limit_out_of_range(alice_client, limit):
    assert alice_client.get(f"/api/jobs?limit={limit}").status_code == 422


@pytest.mark.parametrize("token", ["not-a-token", "eyJqb2JfaWQiOiIxIn0", "%7B%22job_id%22%3A1%7D"])
def test_it_answers_400_for_a_malformed_token(alice_client, token):
    response = alice_client.get(f"/api/jobs?next_token={token}")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("Invalid pagination token")


def test_the_list_refuses_anonymous_callers(anon):
    assert anon.get("/api/jobs").status_code == 401


def test_the_list_rejects_post(alice_client):
    assert alice_client.post("/api/jobs").status_code == 405


# --------------------------------------------------------------------------- #8 one job


def test_it_returns_the_reference_job_shape_with_urls_when_completed(alice_client, alice, iris):
    job = completed(
        alice,
        iris,
        tags=["t"],
        notes="n",
        preprocessing={
            "feature_columns": ["a", "b"],
            "feature_types": {"a": "numeric", "b": "categorical"},
            "dropped_columns": [{"column": "id", "reason": "identifier"}],
            "target_mapping": {"0": "Adelie"},
            "categorical_values": {"b": ["x", "y"]},
            "numeric_stats": {"a": {"min": 1, "max": 2, "is_integer": True}},
        },
    )
    response = alice_client.get(url(job))
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "completed"
    assert body["metrics"] == {
        "accuracy": 0.0,
        "f1_score": 0.25,
        "precision": None,
        "recall": None,
        "r2_score": None,
        "rmse": None,
        "mae": None,
        "training_time": 12.5,
        "best_estimator": "lgbm",
    }
    assert body["model_download_url"].startswith("http://testserver/jobs/")
    assert body["report_download_url"] == body["eda_report_download_url"]
    assert body["training_report_download_url"] is None  # no such artifact
    assert body["preprocessing_info"]["dropped_columns"] == ["id"]
    assert body["preprocessing_info"]["categorical_mappings"] == {"b": {"x": 0, "y": 1}}
    assert body["preprocessing_info"]["target_mapping"] == {"0": "Adelie"}
    assert body["tags"] == ["t"] and body["notes"] == "n"
    assert response["Cache-Control"] == "private, max-age=0, must-revalidate"
    assert "Authorization" in response["Vary"]


def test_the_download_url_serves_the_file_without_a_session(alice_client, anon, alice, iris):
    job = completed(alice, iris)
    link = alice_client.get(url(job)).json()["model_download_url"]
    download = anon.get(link.removeprefix("http://testserver"))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == b"data"


def test_it_has_no_urls_until_completed(alice_client, alice, iris):
    job = store_job(
        alice, iris, status=JobStatus.RUNNING, progress={"phase": "searching", "trials": 4}
    )
    body = alice_client.get(url(job)).json()
    assert body["status"] == "running"
    assert body["model_download_url"] is None and body["onnx_model_download_url"] is None
    assert body["metrics"] is None
    assert body["progress"]["trials"] == 4


def test_a_cancelled_job_reads_as_failed_with_a_message(alice_client, alice, iris):
    job = store_job(alice, iris, status=JobStatus.CANCELLED, error_message="Cancelled by the user.")
    body = alice_client.get(url(job)).json()
    assert (body["status"], body["status_detail"]) == ("failed", "cancelled")
    assert body["error_message"] == "Cancelled by the user."


def test_it_answers_304_when_the_etag_matches(alice_client, alice, iris):
    job = completed(alice, iris)
    first = alice_client.get(url(job))
    etag = first["ETag"]
    again = alice_client.get(url(job), HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag
    assert again["Cache-Control"] == "private, max-age=0, must-revalidate"


def test_it_compares_etags_weakly_in_a_list(alice_client, alice, iris):
    job = completed(alice, iris)
    etag = alice_client.get(url(job))["ETag"]
    listed = alice_client.get(url(job), HTTP_IF_NONE_MATCH=f'"other", W/{etag}')
    assert (listed.status_code, listed["ETag"]) == (304, etag)
    assert alice_client.get(url(job), HTTP_IF_NONE_MATCH="*").status_code == 304
    assert alice_client.get(url(job), HTTP_IF_NONE_MATCH='"other"').status_code == 200


def test_the_etag_changes_when_the_job_changes(alice_client, alice, iris):
    job = completed(alice, iris)
    etag = alice_client.get(url(job))["ETag"]
    wiring.job_repository().update(job.job_id, deployed=True)
    response = alice_client.get(url(job), HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200
    assert response["ETag"] != etag


def test_the_etag_changes_when_the_download_urls_roll_over(
    alice_client, alice, iris, monkeypatch, settings
):
    settings.AUTOML_PRESIGNED_TTL = 3600
    job = completed(alice, iris)
    now = 1_800_000_000.0
    monkeypatch.setattr(links.time, "time", lambda: now)
    first = alice_client.get(url(job))
    monkeypatch.setattr(links.time, "time", lambda: now + 1800)  # next half-TTL window
    second = alice_client.get(url(job), HTTP_IF_NONE_MATCH=first["ETag"])
    assert second.status_code == 200
    assert second["ETag"] != first["ETag"]
    assert second.json()["model_download_url"] != first.json()["model_download_url"]


def test_links_from_one_window_stay_valid_for_half_the_ttl(alice, iris, settings):
    settings.AUTOML_PRESIGNED_TTL = 3600
    job = completed(alice, iris)
    start = 1_800_000_000.0 - (1_800_000_000.0 % 1800)
    expires = links.url_expiry(start + 1799)  # handed out at the very end of a window
    assert expires - (start + 1799) > 1800
    sig = links.signature(job, "model.pkl", expires)
    assert links.verify(job, "model.pkl", str(expires), sig, now=start + 1799)
    assert not links.verify(job, "model.pkl", str(expires), sig, now=expires + 1)
    assert not links.verify(job, "model.onnx", str(expires), sig, now=start)


def test_it_answers_404_for_another_users_job(bob_client, alice, iris):
    job = completed(alice, iris)
    response = bob_client.get(url(job))
    assert response.status_code == 404
    assert response.json()["detail"] == "Job not found"


def test_an_admin_sees_every_job(client, django_user_model, alice, iris):
    admin = django_user_model.objects.create_superuser("root", "r@example.com", "pw-root-123")
    client.force_login(admin)
    assert client.get(url(completed(alice, iris))).status_code == 200


@pytest.mark.parametrize("job_id", ["not-a-uuid", "1", "6f1c8a2e-3b4d-4e5f-9a7b-1c2d3e4f5a6b"])
def test_it_answers_404_for_malformed_or_unknown_ids(alice_client, job_id):
    response = alice_client.get(url(job_id))
    assert response.status_code == 404
    assert response.json()["detail"] == "Job not found"


def test_the_job_refuses_anonymous_callers(anon, alice, iris):
    assert anon.get(url(completed(alice, iris))).status_code == 401


def test_the_job_rejects_put(alice_client, alice, iris):
    response = alice_client.put(url(completed(alice, iris)), {}, content_type="application/json")
    assert response.status_code == 405


# --------------------------------------------------------------------------- #9 patch


def patch(client, job, body):
    return client.patch(url(job), body, content_type="application/json")


def test_it_updates_tags_and_notes_and_returns_the_job(alice_client, alice, iris):
    job = completed(alice, iris)
    response = patch(alice_client, job, {"tags": ["loan", "v2"], "notes": "good"})
    assert response.status_code == 200
    assert response.json()["tags"] == ["loan", "v2"] and response.json()["notes"] == "good"
    assert response["ETag"]


def test_empty_notes_are_removed(alice_client, alice, iris):
    job = completed(alice, iris, notes="old")
    assert patch(alice_client, job, {"notes": "  "}).json()["notes"] is None


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"tags": [f"t{i}" for i in range(11)]}, 422, None),
        ({"notes": "n" * 1001}, 422, None),
        ({"tags": ["  "]}, 400, "Tags cannot be empty or whitespace"),
        ({"tags": ["x" * 51]}, 400, "Each tag must be 50 characters or less"),
    ],
)
def test_it_rejects_bad_tags_and_notes(alice_client, alice, iris, body, status, detail):
    response = patch(alice_client, completed(alice, iris), body)
    assert response.status_code == status
    if detail:
        assert response.json()["detail"] == detail


def test_patch_answers_404_for_another_users_job(bob_client, alice, iris):
    assert patch(bob_client, completed(alice, iris), {"tags": ["x"]}).status_code == 404


# --------------------------------------------------------------------------- #10 delete


def test_it_deletes_the_job_and_its_files(alice_client, alice, iris):
    job = completed(alice, iris)
    response = alice_client.delete(url(job, "?delete_data=false"))
    assert response.status_code == 200
    body = response.json()
    assert body["message"] == "Job deleted successfully"
    assert f"onnx_model: {job.artifacts['model.onnx']}" in body["deleted_resources"]
    assert response["Cache-Control"] == "no-store, no-cache, must-revalidate, max-age=0"
    assert wiring.job_repository().get(job.job_id) is None
    assert wiring.dataset_repository().get(iris.dataset_id) is not None


def test_delete_data_defaults_to_true_but_spares_shared_datasets(alice_client, alice, iris):
    job = completed(alice, iris)
    store_job(alice, iris)
    body = alice_client.delete(url(job)).json()
    assert body["kept_resources"] == [f"dataset: {iris.dataset_id} (used by 1 other job)"]
    assert wiring.dataset_repository().get(iris.dataset_id) is not None


def test_delete_answers_404_for_another_users_job(bob_client, alice, iris):
    job = completed(alice, iris)
    assert bob_client.delete(url(job)).status_code == 404
    assert wiring.job_repository().get(job.job_id) is not None


def test_delete_answers_422_for_a_bad_flag(alice_client, alice, iris):
    assert alice_client.delete(url(completed(alice, iris), "?delete_data=maybe")).status_code == 422


# --------------------------------------------------------------------------- cancel, resubmit


def test_it_cancels_a_running_job(alice_client, alice, iris, runner):
    job = store_job(alice, iris, status=JobStatus.RUNNING)
    response = alice_client.post(url(job, "/cancel"))
    assert response.status_code == 200
    assert response.json()["status_detail"] == "cancelled"
    assert runner.cancelled == [job.job_id]


def test_cancel_answers_409_for_a_finished_job(alice_client, alice, iris, runner):
    response = alice_client.post(url(completed(alice, iris), "/cancel"))
    assert response.status_code == 409


def test_it_resubmits_a_failed_job(alice_client, alice, iris, runner):
    job = store_job(alice, iris, status=JobStatus.FAILED, error_type=ErrorType.LOST)
    response = alice_client.post(url(job, "/resubmit"))
    assert response.status_code == 200
    assert response.json()["status_detail"] == "queued"
    assert response.json()["attempt"] == 2


def test_actions_answer_404_for_another_users_job(bob_client, alice, iris, runner):
    job = store_job(alice, iris, status=JobStatus.RUNNING)
    assert bob_client.post(url(job, "/cancel")).status_code == 404
    assert runner.cancelled == []


def test_actions_reject_get(alice_client, alice, iris):
    job = store_job(alice, iris, status=JobStatus.RUNNING)
    assert alice_client.get(url(job, "/cancel")).status_code == 405
    assert alice_client.get(url(job, "/resubmit")).status_code == 405
