"""`POST /datasets/upload/start/`: upload.js's first step before it sends a file itself.

In local mode the page posts its form through the web (data-upload-method="form"); the
endpoint still checks what the browser says about the file before any record exists.
The S3 side (the presigned POST, the real HTTP upload, confirm) is tests/aws.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from automl_lite import wiring

pytestmark = pytest.mark.django_db

URL = reverse("datasets:upload-start")


def owned(user) -> list:
    return wiring.dataset_repository().list_for_owner(str(user.pk)).items


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        ({"filename": "sales.xlsx", "size": 10}, 400, "'sales.xlsx' is not a CSV file"),
        ({"filename": "iris.csv", "size": 0}, 400, "The file is empty"),
        ({"filename": "iris.csv", "size": 2048}, 413, "the limit is 1.0 KB"),
        ({"filename": "iris.csv", "size": "big"}, 400, "whole number of bytes"),
        ({"filename": "iris.csv", "size": -5}, 400, "whole number of bytes"),
        ({"size": 10}, 400, "Choose a CSV file to upload."),
        ({"filename": "iris.csv"}, 400, "did not say how large the file is"),
    ],
    ids=[
        "spreadsheet",
        "empty",
        "too-large",
        "size-not-a-number",
        "negative",
        "no-name",
        "no-size",
    ],
)
def test_it_refuses_a_file_it_could_not_take_before_creating_anything(
    alice_client, alice, settings, data, status, message
):
    settings.AUTOML_MAX_UPLOAD_BYTES = 1024

    response = alice_client.post(URL, data)

    assert response.status_code == status
    assert message in response.json()["message"]
    assert owned(alice) == []


def test_it_tells_the_page_to_post_its_form_through_the_web_in_local_mode(alice_client):
    body = alice_client.get(reverse("datasets:upload")).content.decode()

    assert 'data-upload-method="form"' in body
    assert f'data-upload-start-url="{URL}"' in body


def test_it_creates_the_dataset_and_points_at_the_local_file_endpoint(alice_client, alice):
    response = alice_client.post(URL, {"filename": "My Iris.csv", "size": 4000})

    body = response.json()
    [dataset] = owned(alice)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    assert body["dataset_id"] == dataset.dataset_id
    assert body["filename"] == "My_Iris.csv"
    assert body["upload"]["method"] == "PUT"  # the file API streams it; no S3 here
    assert body["upload"]["url"].endswith(f"/api/datasets/{dataset.dataset_id}/file")
    assert body["confirm_url"] == reverse("datasets:confirm", args=[dataset.dataset_id])
    assert body["detail_url"] == reverse("datasets:detail", args=[dataset.dataset_id])


def test_it_sends_anonymous_visitors_to_sign_in(anon):
    response = anon.post(URL, {"filename": "iris.csv", "size": 10})

    assert response.status_code == 302
    assert "/login" in response["Location"]


def test_it_rejects_get(alice_client):
    assert alice_client.get(URL).status_code == 405
