"""The results page's batch scoring: the form, the history, the polling row, the download."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from automl_lite import wiring
from tests.jobs.factories import store_dataset, store_job
from tests.jobs.models import GENTOO, PENGUINS_CSV, store_penguin_model
from training_image.contract import BatchStatus, JobStatus, PredictionBatch, new_id

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(alice):
    dataset = store_dataset(alice, content=PENGUINS_CSV.read_bytes(), filename="penguins.csv")
    stored = store_job(alice, dataset, status=JobStatus.COMPLETED)
    return wiring.job_repository().update(
        stored.job_id, artifacts=store_penguin_model(stored.job_id)
    )


def rows(n: int, **changes) -> bytes:
    header = ",".join(GENTOO)
    line = ",".join(str(changes.get(k, v)) for k, v in GENTOO.items())
    return (header + "\n" + "\n".join([line] * n) + "\n").encode()


def add_batch(job, status: BatchStatus, **fields) -> PredictionBatch:
    batch_id = new_id()
    return wiring.batch_repository().add(
        PredictionBatch(
            batch_id=batch_id,
            owner_id=job.owner_id,
            job_id=job.job_id,
            filename="big.csv",
            input_key=f"batches/{job.job_id}/{batch_id}/big.csv",
            size=1000,
            status=status,
            **fields,
        )
    )


def fragment(client, job, batch):
    return client.get(f"/jobs/{job.job_id}/batches/{batch.batch_id}/", HTTP_HX_REQUEST="true")


def test_the_page_shows_the_empty_history(alice_client, job):
    html = alice_client.get(f"/jobs/{job.job_id}/").content.decode()
    assert 'id="batch-history-empty"' in html
    assert "No files scored with this model yet." in html
    assert 'data-upload-method="form"' in html
    assert f'data-create-url="/api/jobs/{job.job_id}/batches"' in html


def test_a_scoring_batch_polls_with_its_progress(alice_client, job):
    batch = add_batch(job, BatchStatus.SCORING, rows_done=1200, bytes_done=400)
    html = fragment(alice_client, job, batch).content.decode()
    assert 'hx-trigger="every 2s"' in html
    assert f'hx-get="/jobs/{job.job_id}/batches/{batch.batch_id}/"' in html
    assert 'aria-valuenow="40"' in html and "1,200 rows scored · 40%" in html


def test_a_queued_batch_polls_and_says_it_waits(alice_client, job):
    html = fragment(alice_client, job, add_batch(job, BatchStatus.QUEUED)).content.decode()
    assert 'hx-trigger="every 2s"' in html
    assert "Waiting for a worker" in html


@pytest.mark.parametrize("status", [BatchStatus.COMPLETED, BatchStatus.FAILED, BatchStatus.PENDING])
def test_a_batch_that_is_not_live_stops_polling(alice_client, job, status):
    fields = {"error_message": "Row 2 (line 3), column 'sex': no."} if status == "failed" else {}
    batch = add_batch(job, status, **fields)
    html = fragment(alice_client, job, batch).content.decode()
    assert "hx-trigger" not in html
    if status == BatchStatus.FAILED:
        assert "Row 2 (line 3), column &#x27;sex&#x27;: no." in html


def test_the_form_scores_a_file_and_the_history_offers_it_again(alice_client, job):
    response = alice_client.post(
        f"/jobs/{job.job_id}/predict/file/", {"file": ContentFile(rows(3), name="birds.csv")}
    )
    page = alice_client.get(response["Location"]).content.decode()
    (batch,) = wiring.batch_repository().all_for_job(job.job_id)
    assert 'id="batch-history"' in page and "birds.csv" in page
    assert 'class="batch-row is-new"' in page  # the batch just sent is marked
    assert "3 rows" in page
    assert f"/jobs/{job.job_id}/batches/{batch.batch_id}/download/?expires=" in page
    download = alice_client.get(f"/jobs/{job.job_id}/batches/{batch.batch_id}/download/")
    assert download.status_code == 200
    assert b"".join(download.streaming_content).decode().count("Gentoo") >= 3


def test_a_failed_file_shows_its_error_in_the_history(alice_client, job):
    content = rows(2, body_mass_g="heavy")
    response = alice_client.post(
        f"/jobs/{job.job_id}/predict/file/", {"file": ContentFile(content, name="bad.csv")}
    )
    page = alice_client.get(response["Location"]).content.decode()
    assert "Row 1 (line 2), column &#x27;body_mass_g&#x27;: &#x27;heavy&#x27; is not" in page
    assert 'class="badge dot failed"' in page


def test_the_form_shows_a_refusal_next_to_the_field(alice_client, job, settings):
    settings.AUTOML_MAX_PREDICT_BYTES = 10
    response = alice_client.post(
        f"/jobs/{job.job_id}/predict/file/", {"file": ContentFile(rows(2), name="rows.csv")}
    )
    assert response.status_code == 413
    html = response.content.decode()
    assert 'id="predict-file-error"' in html and "files up to 10" in html
    assert wiring.batch_repository().all_for_job(job.job_id) == []


def test_delete_removes_the_row(alice_client, job):
    batch = add_batch(job, BatchStatus.FAILED, error_message="x")
    url = f"/jobs/{job.job_id}/batches/{batch.batch_id}/delete/"
    response = alice_client.post(url, HTTP_HX_REQUEST="true")
    assert (response.status_code, response.content) == (200, b"")
    assert wiring.batch_repository().get(batch.batch_id) is None


def test_the_batch_views_check_login_owner_method_and_ids(anon, alice_client, bob_client, job):
    batch = add_batch(job, BatchStatus.COMPLETED)
    row = f"/jobs/{job.job_id}/batches/{batch.batch_id}/"
    assert anon.get(row).status_code == 302
    assert bob_client.get(row).status_code == 404
    assert bob_client.get(row + "download/").status_code == 404
    assert bob_client.post(row + "delete/").status_code == 404
    assert alice_client.post(row).status_code == 405
    assert alice_client.get(row + "delete/").status_code == 405
    assert alice_client.get(f"/jobs/{job.job_id}/batches/not-a-uuid/").status_code == 404
    assert alice_client.get(row + "download/").status_code == 404  # no result file stored
