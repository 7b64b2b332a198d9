"""The datasets API: the reference flow (upload -> PUT -> confirm -> GET) and ours."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from automl_lite import wiring
from tests.conftest import make_job
from tests.datasets.csv_files import awkward, iris_csv, penguins_csv
from tests.datasets.factories import analyzed, analyzing, uploaded
from training_image.contract import DatasetStatus

pytestmark = pytest.mark.django_db

MALFORMED = "not-a-uuid"


@pytest.fixture
def api(alice):
    """An API client with alice's token (the earlier edition's scripts use no session)."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=alice).key}")
    return client


@pytest.fixture
def bob_api(bob):
    client = APIClient()
    client.force_authenticate(bob)
    return client


def put_file(api, upload_url: str, content: bytes):
    # As an HTTP client does: a Content-Length even for an empty body (the test client
    # leaves it out, which the endpoint answers 411).
    return api.generic(
        "PUT", upload_url, content, content_type="text/csv", CONTENT_LENGTH=str(len(content))
    )


def upload(api, content: bytes, filename: str = "data.csv") -> dict:
    created = api.post("/api/upload", {"filename": filename}, format="json").json()
    assert put_file(api, created["upload_url"], content).status_code == 200
    return created


# --------------------------------------------------------------------------- the reference flow


def test_it_serves_the_earlier_clients_upload_confirm_get_flow(api, alice):
    created = api.post(
        "/api/upload", {"filename": "iris.csv", "content_type": "text/csv"}, format="json"
    )
    assert created.status_code == 200
    body = created.json()
    assert set(body) >= {"dataset_id", "upload_url", "expires_in"}
    assert body["upload_url"] == f"http://testserver/api/datasets/{body['dataset_id']}/file"
    assert body["upload_headers"] == {"Content-Type": "text/csv"}

    stored = put_file(api, body["upload_url"], iris_csv())
    assert stored.status_code == 200
    assert stored.json()["file_size"] == len(iris_csv())

    confirmed = api.post(f"/api/datasets/{body['dataset_id']}/confirm")
    assert confirmed.status_code == 200
    metadata = confirmed.json()
    assert metadata["dataset_id"] == body["dataset_id"]
    assert metadata["filename"] == "iris.csv"
    assert metadata["file_size"] == len(iris_csv())
    assert metadata["row_count"] == 150
    assert metadata["columns"][-1] == "species"
    assert metadata["column_types"]["species"] == "categorical"
    assert metadata["column_types"]["sepal length (cm)"] == "numeric"
    assert metadata["column_stats"]["species"] == {"unique": 3, "missing": 0, "missing_pct": 0.0}
    assert metadata["problem_type"] == "classification"  # the suggested target's, legacy name
    assert metadata["status"] == "ready"
    assert metadata["suggested_target"] == "species"
    assert metadata["detected_problem_type"] == "multiclass"
    assert metadata["analysis"]["columns"][0]["name"] == "sepal length (cm)"

    again = api.get(f"/api/datasets/{body['dataset_id']}")
    assert again.status_code == 200
    assert again.json()["row_count"] == 150
    assert again.json()["column_stats"] == metadata["column_stats"]


def test_it_tolerates_a_trailing_slash(api, alice):
    dataset = analyzed(alice)
    assert api.get(f"/api/datasets/{dataset.dataset_id}/").status_code == 200
    assert api.get("/api/datasets/").status_code == 200


def test_it_maps_missing_values_and_regression_targets(api, alice):
    created = upload(api, penguins_csv(), "penguins.csv")
    metadata = api.post(f"/api/datasets/{created['dataset_id']}/confirm").json()
    assert metadata["column_stats"]["sex"] == {"unique": 2, "missing": 11, "missing_pct": 3.2}
    assert metadata["column_types"]["year"] == "numeric"


def test_confirm_answers_analyzing_for_large_files_and_the_task_finishes(api, alice, monkeypatch):
    from datasets import services

    monkeypatch.setattr(services, "INLINE_ANALYSIS_MAX_BYTES", 10)
    queued: list[str] = []
    from datasets import tasks

    monkeypatch.setattr(tasks.analyze_dataset, "delay", queued.append)
    created = upload(api, iris_csv())
    metadata = api.post(f"/api/datasets/{created['dataset_id']}/confirm").json()
    assert metadata["status"] == "analyzing"
    assert queued == [created["dataset_id"]]
    tasks.analyze_dataset(created["dataset_id"])
    assert api.get(f"/api/datasets/{created['dataset_id']}").json()["row_count"] == 150


def test_confirm_is_idempotent_once_ready(api, alice):
    dataset = analyzed(alice)
    first = api.post(f"/api/datasets/{dataset.dataset_id}/confirm").json()
    second = api.post(f"/api/datasets/{dataset.dataset_id}/confirm").json()
    assert first == second


def test_confirm_without_a_file_answers_the_reference_404(api, alice):
    created = api.post("/api/upload", {"filename": "x.csv"}, format="json").json()
    response = api.post(f"/api/datasets/{created['dataset_id']}/confirm")
    assert response.status_code == 404
    assert response.json()["detail"] == f"No files found for dataset {created['dataset_id']}"


@pytest.mark.parametrize(
    ("name", "phrase"),
    [
        ("empty", None),
        ("header_only", "no data rows"),
        ("ragged", "Line 9 has 9 fields but the header has 8"),
        ("png", "PNG image"),
        ("xlsx", "Excel workbook"),
    ],
)
def test_confirm_rejects_bad_files_with_400_and_marks_them_failed(api, alice, name, phrase):
    created = api.post("/api/upload", {"filename": f"{name}.csv"}, format="json").json()
    file = awkward(name)
    stored = put_file(api, created["upload_url"], file.content)
    if name == "empty":
        assert stored.status_code == 400
        assert "The file is empty" in stored.json()["detail"]
        return
    response = api.post(f"/api/datasets/{created['dataset_id']}/confirm")
    assert response.status_code == 400
    assert phrase in response.json()["detail"]
    record = wiring.dataset_repository().get(created["dataset_id"])
    assert record.status == DatasetStatus.FAILED
    assert phrase in record.error_message
    shown = api.get(f"/api/datasets/{created['dataset_id']}").json()
    assert shown["status"] == "failed" and phrase in shown["error_message"]


@pytest.mark.parametrize(
    "name", ["bom", "semicolon_decimal_comma_crlf", "latin1", "multiline_quoted"]
)
def test_confirm_reads_awkward_but_valid_files(api, alice, name):
    file = awkward(name)
    created = upload(api, file.content, file.filename)
    metadata = api.post(f"/api/datasets/{created['dataset_id']}/confirm").json()
    assert (metadata["row_count"], len(metadata["columns"])) == (file.rows, file.cols)
    assert metadata["columns"][0] == "species"


def test_upload_refuses_names_that_are_not_csv(api):
    response = api.post("/api/upload", {"filename": "book.xlsx"}, format="json")
    assert response.status_code == 400
    assert "is not a CSV file" in response.json()["detail"]


def test_upload_validates_its_body_with_422(api):
    response = api.post("/api/upload", {}, format="json")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == "filename"


def test_the_file_put_refuses_bodies_over_the_limit(api, alice, settings):
    settings.AUTOML_MAX_UPLOAD_BYTES = 1000
    created = api.post("/api/upload", {"filename": "big.csv"}, format="json").json()
    response = put_file(api, created["upload_url"], iris_csv())
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]
    record = wiring.dataset_repository().get(created["dataset_id"])
    assert not wiring.storage("datasets").exists(record.storage_key)


def test_the_file_put_stops_reading_past_the_limit_without_a_length(alice, settings, tmp_path):
    from datasets import services

    settings.AUTOML_MAX_UPLOAD_BYTES = 1000
    dataset = services.dataset_create_upload(owner_id=str(alice.pk), filename="x.csv")
    import io

    from core.exceptions import PayloadTooLarge

    with pytest.raises(PayloadTooLarge):
        services.dataset_store_file(
            dataset=dataset, stream=io.BytesIO(iris_csv()), content_length=None
        )
    assert not wiring.storage("datasets").exists(dataset.storage_key)


def test_the_file_put_is_refused_once_the_dataset_is_analyzed(api, alice):
    dataset = analyzed(alice)
    response = put_file(api, f"/api/datasets/{dataset.dataset_id}/file", iris_csv())
    assert response.status_code == 409


# --------------------------------------------------------------------------- list and delete


def test_it_lists_only_the_callers_datasets_newest_first_with_a_cursor(api, alice, bob):
    older = analyzed(alice, filename="older.csv")
    newer = analyzed(alice, filename="newer.csv")
    analyzed(bob, filename="bobs.csv")
    first = api.get("/api/datasets", {"limit": 1}).json()
    assert [d["dataset_id"] for d in first["datasets"]] == [newer.dataset_id]
    assert "analysis" not in first["datasets"][0]
    second = api.get("/api/datasets", {"limit": 1, "next_token": first["next_token"]}).json()
    assert [d["dataset_id"] for d in second["datasets"]] == [older.dataset_id]
    assert second["next_token"] is None


def test_the_list_rejects_a_bad_cursor_and_limit(api):
    assert api.get("/api/datasets", {"next_token": "garbage!"}).status_code == 400
    assert api.get("/api/datasets", {"limit": 0}).status_code == 422


def test_it_deletes_a_dataset_and_its_file(api, alice):
    dataset = analyzed(alice)
    response = api.delete(f"/api/datasets/{dataset.dataset_id}")
    assert response.status_code == 200
    assert response.json() == {
        "message": "Dataset deleted successfully",
        "dataset_id": dataset.dataset_id,
    }
    assert api.get(f"/api/datasets/{dataset.dataset_id}").status_code == 404
    assert not wiring.storage("datasets").exists(dataset.storage_key)


def test_delete_refuses_a_dataset_jobs_used_unless_forced(api, alice):
    dataset = analyzed(alice)
    job = wiring.job_repository().add(
        make_job(owner_id=str(alice.pk), dataset_id=dataset.dataset_id)
    )
    refused = api.delete(f"/api/datasets/{dataset.dataset_id}")
    assert refused.status_code == 409
    assert "1 training job used this dataset" in refused.json()["detail"]
    assert refused.json()["extra"] == {"jobs": [job.job_id]}
    assert api.delete(f"/api/datasets/{dataset.dataset_id}?force=true").status_code == 200


# --------------------------------------------------------------------------- access


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/datasets/{id}"),
        ("delete", "/api/datasets/{id}"),
        ("post", "/api/datasets/{id}/confirm"),
        ("put", "/api/datasets/{id}/file"),
    ],
)
def test_another_users_dataset_is_not_found(bob_api, alice, method, path):
    dataset = analyzing(alice)
    response = getattr(bob_api, method)(path.format(id=dataset.dataset_id))
    assert response.status_code == 404
    assert response.json()["detail"] == f"Dataset {dataset.dataset_id} not found"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/datasets/{id}"),
        ("delete", "/api/datasets/{id}"),
        ("post", "/api/datasets/{id}/confirm"),
        ("put", "/api/datasets/{id}/file"),
    ],
)
def test_a_malformed_id_is_not_found(api, method, path):
    response = getattr(api, method)(path.format(id=MALFORMED))
    assert response.status_code == 404
    assert response.json()["detail"] == f"Dataset {MALFORMED} not found"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/upload"),
        ("get", "/api/datasets"),
        ("get", "/api/datasets/{id}"),
        ("delete", "/api/datasets/{id}"),
        ("post", "/api/datasets/{id}/confirm"),
        ("put", "/api/datasets/{id}/file"),
    ],
)
def test_anonymous_callers_are_refused(alice, method, path):
    dataset = uploaded(alice)
    response = getattr(APIClient(), method)(path.format(id=dataset.dataset_id))
    assert response.status_code == 401
    assert "detail" in response.json()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/upload"),
        ("post", "/api/datasets"),
        ("post", "/api/datasets/{id}"),
        ("get", "/api/datasets/{id}/confirm"),
        ("post", "/api/datasets/{id}/file"),
    ],
)
def test_the_wrong_method_is_refused(api, alice, method, path):
    dataset = uploaded(alice)
    assert getattr(api, method)(path.format(id=dataset.dataset_id)).status_code == 405


def test_the_api_is_in_the_openapi_schema(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").content.decode()
    for path in (
        "/api/upload",
        "/api/datasets/{dataset_id}/confirm",
        "/api/datasets/{dataset_id}/file",
    ):
        assert path in schema


def test_reverse_names_resolve():
    assert reverse("api:dataset-file", kwargs={"dataset_id": "x"}) == "/api/datasets/x/file"
