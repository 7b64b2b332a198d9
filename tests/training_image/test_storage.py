"""Storage adapters: a local folder per location, and S3 (through moto)."""

from __future__ import annotations

import pytest

from training_image.errors import StorageError
from training_image.storage import LocalStorage, S3Storage, open_storage


def test_it_maps_keys_to_files_in_the_folder(tmp_path):
    storage = LocalStorage(tmp_path)

    storage.write_bytes("jobs/j1/model_card.json", b"{}", content_type="application/json")
    source = tmp_path / "report.html"
    source.write_text("<html></html>")
    storage.write_file("jobs/j1/eda_report.html", source, content_type="text/html")

    assert (tmp_path / "jobs/j1/model_card.json").read_bytes() == b"{}"
    assert storage.read_bytes("jobs/j1/eda_report.html") == b"<html></html>"
    assert storage.exists("jobs/j1/model_card.json")
    assert not storage.exists("jobs/j1/model.pkl")
    assert storage.local_path("jobs/j1/model_card.json", tmp_path) == (
        tmp_path / "jobs/j1/model_card.json"
    )


def test_it_refuses_keys_that_leave_the_folder(tmp_path):
    storage = LocalStorage(tmp_path / "models")

    with pytest.raises(StorageError, match="outside the storage folder"):
        storage.write_bytes("../escape.txt", b"x", content_type="text/plain")
    assert not (tmp_path / "escape.txt").exists()


def test_it_says_which_file_is_missing(tmp_path):
    storage = LocalStorage(tmp_path)

    with pytest.raises(StorageError, match="datasets/d1/data.csv"):
        storage.local_path("datasets/d1/data.csv", tmp_path)


def test_it_reads_and_writes_s3_objects(tmp_path):
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    with moto.mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="models")
        storage = S3Storage("models", client=client)
        source = tmp_path / "model.pkl"
        source.write_bytes(b"pickle")

        storage.write_file("jobs/j1/model.pkl", source, content_type="application/octet-stream")
        storage.write_bytes("jobs/j1/evaluation.json", b"{}", content_type="application/json")
        downloaded = storage.local_path("jobs/j1/model.pkl", tmp_path / "work")

        head = client.head_object(Bucket="models", Key="jobs/j1/evaluation.json")
        assert head["ContentType"] == "application/json"
        assert downloaded.read_bytes() == b"pickle"
        assert storage.exists("jobs/j1/model.pkl") and not storage.exists("jobs/j1/nope")
        with pytest.raises(StorageError, match="jobs/j1/nope"):
            storage.read_bytes("jobs/j1/nope")


def test_it_opens_the_adapter_the_environment_names(tmp_path):
    assert isinstance(open_storage("local", str(tmp_path)), LocalStorage)
    assert isinstance(open_storage("s3", "bucket"), S3Storage)
    with pytest.raises(ValueError, match="unknown storage"):
        open_storage("ftp", "x")
