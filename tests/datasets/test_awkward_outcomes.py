"""Every awkward file gives the same outcome on the page, in the API and in `manage.py analyze`."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from rest_framework.test import APIClient

from automl_lite import wiring
from tests.datasets.csv_files import Awkward, awkward, awkward_files
from training_image.contract import DatasetStatus

pytestmark = pytest.mark.django_db

FILES = [f.name for f in awkward_files()]
# Rejected from the first bytes, so the upload form refuses them before any record exists.
REFUSED_AT_UPLOAD = {"empty", "png", "xlsx"}


def analyze_command(tmp_path, file: Awkward) -> dict:
    path = tmp_path / file.filename
    path.write_bytes(file.content)
    import io

    out = io.StringIO()
    call_command("analyze", str(path), stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.parametrize("name", FILES)
def test_the_page_shows_the_outcome(alice_client, alice, name):
    file = awkward(name)
    upload = SimpleUploadedFile(file.filename, file.content, content_type="text/csv")
    response = alice_client.post(reverse("datasets:upload"), {"file": upload}, follow=True)
    body = response.content.decode()
    records = wiring.dataset_repository().list_for_owner(str(alice.pk)).items
    if name in REFUSED_AT_UPLOAD:
        assert response.status_code == 400
        assert file.message in body
        assert records == []
        return
    [dataset] = records
    if file.code is not None:
        assert dataset.status == DatasetStatus.FAILED
        assert file.message in dataset.error_message
        assert file.message in body
        assert "What to do" in body
    else:
        assert dataset.status == DatasetStatus.READY
        assert (dataset.row_count, len(dataset.columns)) == (file.rows, file.cols)
        assert dataset.columns[0] == "species"
        assert f"{file.rows}" in body and "Start training" in body


@pytest.mark.parametrize("name", FILES)
def test_the_api_gives_the_outcome(alice, name):
    file = awkward(name)
    api = APIClient()
    api.force_authenticate(alice)
    created = api.post("/api/upload", {"filename": file.filename}, format="json").json()
    # As an HTTP client does: a Content-Length even for an empty body.
    stored = api.generic(
        "PUT",
        created["upload_url"],
        file.content,
        content_type="text/csv",
        CONTENT_LENGTH=str(len(file.content)),
    )
    if not file.content:
        assert stored.status_code == 400
        assert file.message in stored.json()["detail"]
        return
    response = api.post(f"/api/datasets/{created['dataset_id']}/confirm")
    if file.code is not None:
        assert response.status_code == 400
        assert file.message in response.json()["detail"]
    else:
        assert response.status_code == 200
        body = response.json()
        assert (body["row_count"], len(body["columns"])) == (file.rows, file.cols)


@pytest.mark.parametrize("name", FILES)
def test_the_command_gives_the_outcome(tmp_path, name):
    file = awkward(name)
    if file.code is not None:
        with pytest.raises(CommandError) as caught:
            analyze_command(tmp_path, file)
        message = str(caught.value)
        assert file.message in message
        assert "\n" not in message  # one line
    else:
        analysis = analyze_command(tmp_path, file)
        assert (analysis["rows"], analysis["column_count"]) == (file.rows, file.cols)
