"""The upload page: plain multipart POST (what upload.js sends too), limits and checks."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from automl_lite import wiring
from tests.datasets.csv_files import awkward, iris_csv, png_bytes
from training_image.contract import DatasetStatus

pytestmark = pytest.mark.django_db

URL = reverse("datasets:upload")


def csv_file(content: bytes = b"", name: str = "iris.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content or iris_csv(), content_type="text/csv")


def owned(user) -> list:
    return wiring.dataset_repository().list_for_owner(str(user.pk)).items


def test_it_shows_the_drop_zone_and_the_limit(alice_client, settings):
    settings.AUTOML_MAX_UPLOAD_BYTES = 5 * 1024**2
    response = alice_client.get(URL)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="dropzone"' in body
    assert 'enctype="multipart/form-data"' in body
    assert 'data-max-bytes="5242880"' in body
    assert "js/upload.js" in body


def test_it_stores_the_file_analyzes_it_and_opens_the_dataset(alice_client, alice):
    response = alice_client.post(URL, {"file": csv_file(name="My Iris (copy).csv")})
    [dataset] = owned(alice)
    assert response.status_code == 302
    assert response["Location"] == reverse("datasets:detail", args=[dataset.dataset_id])
    assert dataset.filename == "My_Iris_copy_.csv"
    assert dataset.status == DatasetStatus.READY  # the task ran eagerly
    assert dataset.row_count == 150
    assert dataset.analysis["suggested_target"] == "species"
    storage = wiring.storage("datasets")
    assert dataset.storage_key == f"datasets/{dataset.dataset_id}/My_Iris_copy_.csv"
    assert storage.open(dataset.storage_key).read() == iris_csv()


def test_it_streams_large_uploads_through_a_temporary_file(alice_client, alice, settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024  # iris (~4 KB) spools to disk
    response = alice_client.post(URL, {"file": csv_file()})
    assert response.status_code == 302
    [dataset] = owned(alice)
    assert dataset.file_size == len(iris_csv())
    assert dataset.status == DatasetStatus.READY


def test_it_refuses_files_over_the_limit_without_a_record(alice_client, alice, settings):
    settings.AUTOML_MAX_UPLOAD_BYTES = 1000
    response = alice_client.post(URL, {"file": csv_file()})
    assert response.status_code == 413
    assert "the limit is 1,000 bytes" in response.content.decode()
    assert owned(alice) == []


def test_it_refuses_a_request_body_far_over_the_limit_unread(alice_client, alice, settings):
    settings.AUTOML_MAX_UPLOAD_BYTES = 10
    response = alice_client.post(URL, {"file": csv_file(iris_csv() * 30)})
    assert response.status_code == 413
    assert "over the" in response.content.decode()
    assert owned(alice) == []


@pytest.mark.parametrize(
    ("name", "content", "phrase"),
    [
        ("photo.png", png_bytes(), "is not a CSV file"),
        ("book.xlsx", awkward("xlsx").content, "is not a CSV file"),
        ("image.csv", png_bytes(), "PNG image"),
        ("book.csv", awkward("xlsx").content, "Excel workbook"),
    ],
)
def test_it_refuses_what_is_not_a_csv_by_name_or_content(
    alice_client, alice, name, content, phrase
):
    response = alice_client.post(URL, {"file": csv_file(content, name)})
    assert response.status_code == 400
    assert phrase in response.content.decode()
    assert owned(alice) == []


def test_it_refuses_an_empty_file(alice_client, alice):
    response = alice_client.post(URL, {"file": SimpleUploadedFile("empty.csv", b"")})
    assert response.status_code == 400
    assert "The file is empty" in response.content.decode()
    assert owned(alice) == []


def test_it_asks_for_a_file_when_none_is_sent(alice_client):
    response = alice_client.post(URL, {})
    assert response.status_code == 400
    assert "Choose a CSV file to upload." in response.content.decode()


def test_it_keeps_no_record_when_storing_fails(alice_client, alice, monkeypatch):
    from django.core.files.storage import FileSystemStorage

    def broken_save(self, name, content, max_length=None):
        raise OSError("disk full")

    monkeypatch.setattr(FileSystemStorage, "save", broken_save)
    response = alice_client.post(URL, {"file": csv_file()})
    assert response.status_code == 503
    assert "could not be stored" in response.content.decode()
    assert owned(alice) == []


def test_it_redirects_anonymous_users_to_login(anon):
    response = anon.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_it_rejects_other_methods(alice_client):
    assert alice_client.put(URL).status_code == 405
    assert alice_client.delete(URL).status_code == 405
