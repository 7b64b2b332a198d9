"""Batch scoring as a job, local mode: create → upload → confirm → worker → progress → download.

Bad input first: each refusal is checked for its status, its message and what it leaves
behind (a `failed` record with the reason, no file). The happy path compares the
downloaded rows with the one-row predict path on the same model (a small real ONNX
model of the penguins). Celery runs eagerly, so confirm returns after the worker's run.
"""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest

from automl_lite import wiring
from jobs import inference, prediction_files
from jobs.adapters.sqlite import SqliteBatchRepository
from jobs.services import batches as batch_services
from jobs.tasks import score_batch
from tests.jobs.factories import store_dataset, store_job
from tests.jobs.models import GENTOO, PENGUINS_CSV, store_penguin_model
from training_image.contract import BatchStatus, JobStatus, PredictionBatch, new_id

pytestmark = pytest.mark.django_db


@pytest.fixture
def penguins(alice):
    return store_dataset(alice, content=PENGUINS_CSV.read_bytes(), filename="penguins.csv")


@pytest.fixture
def job(alice, penguins):
    """A completed job with the small hand-built penguins ONNX model."""
    stored = store_job(alice, penguins, status=JobStatus.COMPLETED)
    return wiring.job_repository().update(
        stored.job_id, artifacts=store_penguin_model(stored.job_id)
    )


def csv_bytes(rows: list[dict]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def create(client, job, *, filename="rows.csv", size=100):
    return client.post(
        f"/api/jobs/{job.job_id}/batches",
        {"filename": filename, "size": size},
        content_type="application/json",
    )


def start(client, job, content: bytes, filename="rows.csv"):
    """Create a batch and upload its file; returns the create answer."""
    created = create(client, job, filename=filename, size=len(content))
    assert created.status_code == 201, created.content
    body = created.json()
    put = client.put(body["upload"]["url"], content, content_type="text/csv")
    assert put.status_code == 200, put.content
    return body


def read_csv(response) -> pd.DataFrame:
    body = b"".join(response.streaming_content)
    return pd.read_csv(io.BytesIO(body), keep_default_na=False, dtype=str)


def stored_files(alias: str, job) -> list[str]:
    root = wiring.storage(alias).path(f"batches/{job.job_id}")
    import os

    return [os.path.join(d, f) for d, _, files in os.walk(root) for f in files]


# --------------------------------------------------------------------------- bad input: create


@pytest.mark.parametrize(
    ("filename", "size", "status", "message"),
    [
        ("rows.csv", 0, 400, "The file is empty."),
        ("rows.xlsx", 100, 400, "'rows.xlsx' is not a CSV file"),
        ("rows.csv", 101 * 1024**2, 413, "The file is 101.0 MB; files up to 100.0 MB"),
    ],
    ids=["empty", "not-csv", "over-the-limit"],
)
def test_create_refuses_a_file_it_cannot_score(alice_client, job, filename, size, status, message):
    response = create(alice_client, job, filename=filename, size=size)
    assert response.status_code == status
    assert response.json()["detail"].startswith(message)
    assert wiring.batch_repository().all_for_job(job.job_id) == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"status": JobStatus.RUNNING}, "Cannot score a file with a job that is running."),
        ({"status": JobStatus.COMPLETED, "artifacts": {}}, "No ONNX model available"),
    ],
    ids=["running", "no-onnx"],
)
def test_create_refuses_a_job_that_cannot_score(alice_client, alice, penguins, fields, message):
    other = store_job(alice, penguins, **fields)
    response = create(alice_client, other)
    assert response.status_code == 400
    assert response.json()["detail"].startswith(message)


def test_create_needs_a_filename_and_a_size(alice_client, job):
    response = alice_client.post(
        f"/api/jobs/{job.job_id}/batches", {}, content_type="application/json"
    )
    assert response.status_code == 422
    assert "filename" in response.json()["message"] and "size" in response.json()["message"]


# --------------------------------------------------------------------------- bad input: upload, confirm


def test_an_empty_upload_is_refused_and_nothing_kept(alice_client, job):
    body = create(alice_client, job).json()
    response = alice_client.put(body["upload"]["url"], b"", content_type="text/csv")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("The file is empty.")
    assert stored_files("datasets", job) == []


def test_an_upload_over_the_limit_is_refused_with_413(alice_client, job, settings):
    body = create(alice_client, job, size=10).json()
    settings.AUTOML_MAX_PREDICT_BYTES = 50
    response = alice_client.put(body["upload"]["url"], b"x" * 80, content_type="text/csv")
    assert response.status_code == 413
    assert stored_files("datasets", job) == []


def test_confirm_without_an_upload_is_404_and_the_batch_waits(alice_client, job):
    body = create(alice_client, job).json()
    response = alice_client.post(body["confirm_url"])
    assert response.status_code == 404
    assert "No uploaded file was found" in response.json()["detail"]
    assert wiring.batch_repository().get(body["batch_id"]).status == BatchStatus.PENDING


def test_confirm_names_the_missing_columns_and_fails_the_batch(alice_client, job):
    rows = [{k: v for k, v in GENTOO.items() if k != "sex"}]
    body = start(alice_client, job, csv_bytes(rows))
    response = alice_client.post(body["confirm_url"])
    assert response.status_code == 400
    assert response.json()["detail"].startswith(
        "The file is missing 1 column the model needs: 'sex'."
    )
    assert response.json()["extra"]["missing_columns"] == ["sex"]
    batch = wiring.batch_repository().get(body["batch_id"])
    assert batch.status == BatchStatus.FAILED
    assert batch.error_details == {"missing_columns": ["sex"]}
    assert stored_files("datasets", job) == []  # the refused upload is deleted
    again = alice_client.post(body["confirm_url"])
    assert again.status_code == 409


def test_confirm_refuses_a_file_that_is_not_csv(alice_client, job):
    body = start(alice_client, job, b"\x89PNG\r\n\x1a\n" + bytes(200))
    response = alice_client.post(body["confirm_url"])
    assert response.status_code == 400
    assert response.json()["detail"].startswith("This file is a PNG image, not a CSV.")


def test_confirm_refuses_a_stored_file_over_the_limit_and_deletes_it(alice_client, job, settings):
    body = start(alice_client, job, csv_bytes([GENTOO] * 20))
    settings.AUTOML_MAX_PREDICT_BYTES = 100
    response = alice_client.post(body["confirm_url"])
    assert response.status_code == 413
    assert wiring.batch_repository().get(body["batch_id"]).status == BatchStatus.FAILED
    assert stored_files("datasets", job) == []


def test_a_bad_value_fails_the_batch_naming_its_row_and_column(alice_client, job, monkeypatch):
    monkeypatch.setattr(prediction_files, "CHUNK_ROWS", 4)
    rows = [GENTOO] * 9 + [{**GENTOO, "body_mass_g": "heavy"}]
    body = start(alice_client, job, csv_bytes(rows))
    confirmed = alice_client.post(body["confirm_url"])
    detail = alice_client.get(f"/api/jobs/{job.job_id}/batches/{body['batch_id']}").json()
    assert confirmed.status_code == 202
    assert detail["status"] == "failed"
    assert detail["error_message"] == (
        "Row 10 (line 11), column 'body_mass_g': 'heavy' is not a number. Fix the value, "
        "or leave the cell empty to let the model fill it in."
    )
    assert detail["error_details"] == {"row": 10, "line": 11, "column": "body_mass_g"}
    assert detail["download_url"] is None
    assert stored_files("reports", job) == []


def test_a_header_only_file_fails_with_a_message(alice_client, job):
    body = start(alice_client, job, ",".join(GENTOO).encode() + b"\n")
    alice_client.post(body["confirm_url"])
    batch = wiring.batch_repository().get(body["batch_id"])
    assert batch.status == BatchStatus.FAILED
    assert batch.error_message.startswith("The file has a header but no data rows")


# --------------------------------------------------------------------------- access


def test_another_users_job_and_batch_are_404(alice_client, bob_client, bob, job, penguins):
    body = create(alice_client, job).json()
    base = f"/api/jobs/{job.job_id}/batches"
    assert create(bob_client, job).status_code == 404
    assert bob_client.get(base).status_code == 404
    assert bob_client.get(f"{base}/{body['batch_id']}").status_code == 404
    assert bob_client.post(f"{base}/{body['batch_id']}/confirm").status_code == 404
    assert bob_client.delete(f"{base}/{body['batch_id']}").status_code == 404
    # A batch reached through another job (even one's own) is not found either.
    bobs_job = store_job(bob, penguins, status=JobStatus.COMPLETED)
    other = f"/api/jobs/{bobs_job.job_id}/batches/{body['batch_id']}"
    assert bob_client.get(other).status_code == 404


def test_anonymous_callers_get_401(anon, job):
    base = f"/api/jobs/{job.job_id}/batches"
    assert anon.get(base).status_code == 401
    assert create(anon, job).status_code == 401
    assert anon.get(f"{base}/{new_id()}").status_code == 401


def test_wrong_methods_get_405(alice_client, job):
    body = create(alice_client, job).json()
    base = f"/api/jobs/{job.job_id}/batches"
    assert alice_client.put(base, b"").status_code == 405
    assert alice_client.get(f"{base}/{body['batch_id']}/confirm").status_code == 405
    assert alice_client.post(f"{base}/{body['batch_id']}").status_code == 405
    assert alice_client.get(f"{base}/{body['batch_id']}/file").status_code == 405


def test_malformed_ids_get_404(alice_client, job):
    assert alice_client.get("/api/jobs/not-a-uuid/batches").status_code == 404
    assert alice_client.get(f"/api/jobs/{job.job_id}/batches/not-a-uuid").status_code == 404
    assert alice_client.get(f"/api/jobs/{job.job_id}/batches/{new_id()}").status_code == 404


# --------------------------------------------------------------------------- happy path


def test_it_scores_a_file_end_to_end_like_the_one_row_path(alice_client, anon, job, monkeypatch):
    monkeypatch.setattr(prediction_files, "CHUNK_ROWS", 7)
    frame = pd.read_csv(PENGUINS_CSV, keep_default_na=False, dtype=str).head(30)
    frame.insert(0, "id", [f"p{i}" for i in range(30)])
    content = frame.to_csv(index=False).encode()

    created = create(alice_client, job, filename="new birds.csv", size=len(content))
    body = created.json()
    uploaded = alice_client.put(body["upload"]["url"], content, content_type="text/csv")
    confirmed = alice_client.post(body["confirm_url"])
    detail = alice_client.get(f"/api/jobs/{job.job_id}/batches/{body['batch_id']}")

    assert created.status_code == 201
    assert body["status"] == "pending"
    assert body["upload"]["method"] == "PUT"
    assert body["upload"]["url"].endswith(f"/api/jobs/{job.job_id}/batches/{body['batch_id']}/file")
    assert set(body["upload"]) == {"method", "url", "fields", "headers", "expires_in"}
    assert uploaded.json()["size"] == len(content)
    assert confirmed.status_code == 202
    assert confirmed.json()["batch_id"] == body["batch_id"]
    shown = detail.json()
    assert shown["status"] == "completed"
    assert (shown["rows_total"], shown["rows_done"], shown["progress"]) == (30, 30, 1.0)
    assert shown["error_message"] is None and shown["created_at"]
    # The link is signed: it works without a session, as a presigned S3 URL would.
    download = anon.get(shown["download_url"])
    assert download.status_code == 200
    assert download["Content-Disposition"] == (
        f'attachment; filename="new_birds-{job.job_id[:8]}-predictions.csv"'
    )
    result = read_csv(download)
    assert list(result["id"]) == list(frame["id"])
    for index, row in frame.iterrows():
        features = {c: (None if row[c] == "NA" else row[c]) for c in GENTOO}
        one = inference.predict(job, features)
        assert result["prediction"][index] == one["prediction"]
        for label, p in one["probabilities"].items():
            assert float(result[f"probability_{label}"][index]) == pytest.approx(p, abs=1e-6)
    # The upload is gone (the result holds its columns); the result stays, and, as the file
    # held the target (species), its validation report beside it.
    assert stored_files("datasets", job) == []
    kept = sorted(path.rsplit("/", 1)[-1] for path in stored_files("reports", job))
    assert kept == ["predictions.csv", "validation.json"]
    assert shown["validation_url"] and alice_client.get(shown["validation_url"]).status_code == 200


def test_a_forged_or_expired_download_link_is_404(anon, alice_client, job):
    body = start(alice_client, job, csv_bytes([GENTOO]))
    alice_client.post(body["confirm_url"])
    url = alice_client.get(f"/api/jobs/{job.job_id}/batches/{body['batch_id']}").json()[
        "download_url"
    ]
    assert anon.get(url.replace("signature=", "signature=0")).status_code == 404
    assert anon.get(url.split("?")[0]).status_code == 302  # no link, no session: log in


class RecordingRepository(SqliteBatchRepository):
    """The SQLite adapter, remembering every progress write (CONVENTIONS 28)."""

    def __init__(self, path) -> None:
        super().__init__(path)
        self.progress: list[tuple[int, int]] = []

    def update(self, batch_id, *, only_if_status=None, **fields):
        if "rows_done" in fields:
            self.progress.append((fields["rows_done"], fields["bytes_done"]))
        return super().update(batch_id, only_if_status=only_if_status, **fields)


def test_the_worker_records_progress_after_every_chunk(settings, job, monkeypatch):
    monkeypatch.setattr(prediction_files, "CHUNK_ROWS", 4)
    repository = RecordingRepository(settings.AUTOML_RECORDS_PATH)
    content = csv_bytes([GENTOO] * 10)
    batch = _queued_batch(repository, job, content)

    done = batch_services.batch_score(batch_id=batch.batch_id, repository=repository)

    assert [rows for rows, _ in repository.progress] == [4, 8, 10]
    assert repository.progress[-1][1] == len(content)
    assert done.status == BatchStatus.COMPLETED and done.rows_total == 10


def _queued_batch(repository, job, content: bytes) -> PredictionBatch:
    from django.core.files.base import ContentFile

    batch_id = new_id()
    batch = repository.add(
        PredictionBatch(
            batch_id=batch_id,
            owner_id=job.owner_id,
            job_id=job.job_id,
            filename="rows.csv",
            input_key=f"batches/{job.job_id}/{batch_id}/rows.csv",
            size=len(content),
            status=BatchStatus.QUEUED,
        )
    )
    wiring.storage("datasets").save(batch.input_key, ContentFile(content))
    return batch


def test_a_task_delivered_twice_scores_once(job):
    repository = wiring.batch_repository()
    batch = _queued_batch(repository, job, csv_bytes([GENTOO] * 3))

    first = score_batch.apply(args=[batch.batch_id]).get()
    done = repository.get(batch.batch_id)
    second = score_batch.apply(args=[batch.batch_id]).get()

    assert (first, second) == ("completed", "completed")
    assert done.attempt == 1
    assert repository.get(batch.batch_id) == done  # the second delivery wrote nothing


def test_a_delivery_while_another_worker_scores_leaves_it_alone(job):
    repository = wiring.batch_repository()
    batch = _queued_batch(repository, job, csv_bytes([GENTOO] * 3))
    claimed = repository.transition(batch.batch_id, BatchStatus.SCORING, attempt=1)

    assert score_batch.apply(args=[batch.batch_id]).get() == "scoring"
    assert repository.get(batch.batch_id) == claimed


def test_batches_are_listed_newest_first(alice_client, job):
    first = start(alice_client, job, csv_bytes([GENTOO]), filename="first.csv")
    alice_client.post(first["confirm_url"])
    second = start(alice_client, job, csv_bytes([GENTOO] * 2), filename="second.csv")
    alice_client.post(second["confirm_url"])

    listed = alice_client.get(f"/api/jobs/{job.job_id}/batches").json()["batches"]

    assert [b["filename"] for b in listed] == ["second.csv", "first.csv"]
    assert [b["rows_total"] for b in listed] == [2, 1]
    assert all(b["download_url"] for b in listed)


def test_deleting_a_batch_deletes_its_files(alice_client, job):
    body = start(alice_client, job, csv_bytes([GENTOO]))
    alice_client.post(body["confirm_url"])
    url = f"/api/jobs/{job.job_id}/batches/{body['batch_id']}"

    response = alice_client.delete(url)

    assert response.status_code == 200
    assert response.json() == {"message": "Prediction batch deleted", "batch_id": body["batch_id"]}
    assert alice_client.get(url).status_code == 404
    assert stored_files("reports", job) == [] and stored_files("datasets", job) == []


def test_deleting_the_job_deletes_its_batches(alice_client, job):
    done = start(alice_client, job, csv_bytes([GENTOO]))
    alice_client.post(done["confirm_url"])
    waiting = start(alice_client, job, csv_bytes([GENTOO]))  # uploaded, never confirmed

    response = alice_client.delete(f"/api/jobs/{job.job_id}")

    assert response.status_code == 200
    assert "prediction batches: 2" in response.json()["deleted_resources"]
    repository = wiring.batch_repository()
    assert repository.get(done["batch_id"]) is None and repository.get(waiting["batch_id"]) is None
    assert stored_files("reports", job) == [] and stored_files("datasets", job) == []


def test_the_api_is_in_the_openapi_schema(alice_client):
    schema = alice_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = {path.rstrip("/"): item for path, item in schema["paths"].items()}
    assert {"get", "post"} <= set(paths["/api/jobs/{job_id}/batches"])
    assert {"get", "delete"} <= set(paths["/api/jobs/{job_id}/batches/{batch_id}"])
    assert "202" in paths["/api/jobs/{job_id}/batches/{batch_id}/confirm"]["post"]["responses"]


def test_a_storage_failure_releases_the_batch_for_the_retry_then_fails_it(job, monkeypatch):
    repository = wiring.batch_repository()
    batch = _queued_batch(repository, job, csv_bytes([GENTOO] * 3))
    storage = wiring.storage("reports")

    def refuse(name, content, max_length=None):
        raise OSError("disk full")

    monkeypatch.setattr(storage, "save", refuse)
    with pytest.raises(batch_services.ServiceUnavailable):
        batch_services.batch_score(batch_id=batch.batch_id)
    assert repository.get(batch.batch_id).status == BatchStatus.QUEUED  # claimable again

    # Eager apply() runs the retries itself unless it is told to propagate the first Retry.
    from automl_lite.celery import app

    monkeypatch.setitem(app.conf, "task_eager_propagates", False)
    score_batch.apply(args=[batch.batch_id])  # retries, then gives up

    failed = repository.get(batch.batch_id)
    assert failed.status == BatchStatus.FAILED
    assert failed.error_message.startswith("The result could not be stored")
    assert "Scoring was tried 4 times" in failed.error_message
    assert stored_files("datasets", job)  # the upload is kept: nothing was lost


def test_a_batch_whose_worker_died_is_claimed_again(job):
    repository = wiring.batch_repository()
    batch = _queued_batch(repository, job, csv_bytes([GENTOO] * 2))
    repository.transition(batch.batch_id, BatchStatus.SCORING, attempt=1, rows_done=1)
    # No progress for longer than a worker can run: its worker is gone.
    repository._store.update(
        batch.batch_id, {"updated_at": "2025-01-01T00:00:00.000000Z"}, only_if_status=None
    )

    done = batch_services.batch_score(batch_id=batch.batch_id)

    assert (done.status, done.attempt, done.rows_total) == (BatchStatus.COMPLETED, 2, 2)
