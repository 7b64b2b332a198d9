"""Dataset services: conditional status writes, no half-written records, delete rules."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.base import ContentFile

from automl_lite import wiring
from core.exceptions import InvalidInput, NotFound, PayloadTooLarge, ServiceUnavailable
from core.task_base import STORAGE_RETRIES
from datasets import services, tasks
from tests.conftest import make_dataset, make_job
from tests.datasets.csv_files import iris_csv, png_bytes
from tests.datasets.factories import analyzed, uploaded
from training_image.contract import DatasetStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def repo():
    return wiring.dataset_repository()


def test_it_analyzes_a_confirmed_dataset_once(alice, repo):
    dataset = uploaded(alice)
    repo.update(dataset.dataset_id, status=DatasetStatus.ANALYZING)
    first = services.dataset_analyze(dataset_id=dataset.dataset_id)
    assert first.status == DatasetStatus.READY
    assert first.row_count == 150
    assert first.columns[-1] == "species"
    # A second delivery of the task finds the record no longer analyzing and does nothing.
    second = services.dataset_analyze(dataset_id=dataset.dataset_id)
    assert second.updated_at == first.updated_at


def test_the_analysis_stores_the_dialect_with_the_dataset(alice, repo):
    from tests.datasets.csv_files import utf16_csv
    from training_image.csv_dialect import CsvDialect

    dataset = analyzed(alice, utf16_csv(byte_order="be", bom=False), "unicode.csv")

    assert dataset.status == DatasetStatus.READY
    expected = CsvDialect(encoding="utf-16-be").to_dict()
    assert dataset.csv_dialect == expected
    assert repo.get(dataset.dataset_id).csv_dialect == expected
    assert dataset.analysis["dialect"]["description"] == "comma-separated, UTF-16 (big-endian)"


def test_a_new_file_clears_the_stored_dialect(alice, repo):
    dataset = analyzed(alice)
    assert dataset.csv_dialect is not None
    repo.update(dataset.dataset_id, status=DatasetStatus.FAILED)

    again = services.dataset_store_file(
        dataset=repo.get(dataset.dataset_id),
        stream=ContentFile(iris_csv()),
        content_length=None,
    )

    assert again.csv_dialect is None and again.analysis is None


def test_it_does_nothing_for_a_dataset_deleted_before_its_analysis(alice):
    assert services.dataset_analyze(dataset_id="d0e1d2c3-0000-4000-8000-000000000000") is None


def test_a_rejected_file_leaves_a_failed_record_with_the_reason(alice):
    dataset = analyzed(alice, b"a,b\n")
    assert dataset.status == DatasetStatus.FAILED
    assert "no data rows" in dataset.error_message
    assert dataset.analysis == {"rejection": {"code": "no_rows", "line": None}}
    assert dataset.row_count is None


def test_an_unexpected_error_fails_the_record_instead_of_leaving_it_analyzing(alice, monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(services, "analyze_csv", explode)
    dataset = analyzed(alice)
    assert dataset.status == DatasetStatus.FAILED
    assert dataset.error_message == services.UNEXPECTED_FAILURE
    assert "bug" not in dataset.error_message


def test_the_task_retries_storage_errors_then_fails_the_record(alice, repo, monkeypatch):
    calls = []

    def unreachable(*args, **kwargs):
        calls.append(1)
        raise OSError("connection reset")

    monkeypatch.setattr(services, "_analyze_stored", unreachable)
    dataset = uploaded(alice)
    repo.update(dataset.dataset_id, status=DatasetStatus.ANALYZING)
    # Eager apply() runs the retries itself unless it is told to propagate the first Retry.
    from automl_lite.celery import app

    monkeypatch.setitem(app.conf, "task_eager_propagates", False)
    tasks.analyze_dataset.apply(args=[dataset.dataset_id])
    record = repo.get(dataset.dataset_id)
    assert len(calls) == STORAGE_RETRIES + 1
    assert record.status == DatasetStatus.FAILED
    assert "File storage did not answer" in record.error_message


def test_confirm_re_queues_an_analysis_whose_worker_died(alice, repo, monkeypatch):
    dataset = uploaded(alice)
    queued: list[str] = []
    monkeypatch.setattr(tasks.analyze_dataset, "delay", queued.append)
    live = services.dataset_confirm(dataset=dataset)
    assert live.status == DatasetStatus.ANALYZING
    assert services.dataset_confirm(dataset=live).updated_at == live.updated_at  # still fresh
    assert queued == [dataset.dataset_id]
    stale = dt.datetime.now(dt.UTC) - services.STALE_ANALYSIS - dt.timedelta(seconds=5)
    old = live.__class__(
        **{**live.to_item(), "updated_at": stale.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    )
    services.dataset_confirm(dataset=old)
    assert queued == [dataset.dataset_id, dataset.dataset_id]


def test_confirm_puts_the_dataset_back_when_queueing_fails(alice, repo, monkeypatch):
    def broker_down(dataset_id):
        raise ConnectionError("broker")

    monkeypatch.setattr(tasks.analyze_dataset, "delay", broker_down)
    dataset = uploaded(alice)
    with pytest.raises(ServiceUnavailable):
        services.dataset_confirm(dataset=dataset)
    assert repo.get(dataset.dataset_id).status == DatasetStatus.UPLOADING


def test_confirm_fails_and_deletes_a_stored_file_over_the_limit(alice, repo, settings):
    dataset = uploaded(alice)
    settings.AUTOML_MAX_UPLOAD_BYTES = 100
    with pytest.raises(PayloadTooLarge):
        services.dataset_confirm(dataset=dataset)
    assert repo.get(dataset.dataset_id).status == DatasetStatus.FAILED
    assert not wiring.storage("datasets").exists(dataset.storage_key)


def test_confirm_without_a_file_is_not_found(alice):
    dataset = services.dataset_create_upload(owner_id=str(alice.pk), filename="x.csv")
    with pytest.raises(NotFound, match="No files found"):
        services.dataset_confirm(dataset=dataset)


def test_create_upload_checks_content_before_making_a_record(alice, repo):
    with pytest.raises(InvalidInput, match="PNG image"):
        services.dataset_create_upload(
            owner_id=str(alice.pk), filename="x.csv", file=ContentFile(png_bytes(), "x.csv")
        )
    assert repo.list_for_owner(str(alice.pk)).items == []


def test_create_upload_removes_the_record_when_storage_fails(alice, repo):
    class BrokenStorage:
        def exists(self, name):
            return False

        def save(self, name, content, max_length=None):
            raise OSError("bucket gone")

    with pytest.raises(ServiceUnavailable):
        services.dataset_create_upload(
            owner_id=str(alice.pk),
            filename="iris.csv",
            file=ContentFile(iris_csv(), "iris.csv"),
            storage=BrokenStorage(),
        )
    assert repo.list_for_owner(str(alice.pk)).items == []


def test_store_file_replaces_an_earlier_file_under_the_same_key(alice, repo):
    import io

    dataset = services.dataset_create_upload(owner_id=str(alice.pk), filename="iris.csv")
    services.dataset_store_file(dataset=dataset, stream=io.BytesIO(b"a,b\n1,2\n"), content_length=8)
    stored = services.dataset_store_file(
        dataset=dataset, stream=io.BytesIO(iris_csv()), content_length=len(iris_csv())
    )
    assert stored.file_size == len(iris_csv())
    assert wiring.storage("datasets").open(dataset.storage_key).read() == iris_csv()


def test_delete_refuses_while_jobs_use_the_dataset(alice, repo):
    dataset = analyzed(alice)
    wiring.job_repository().add(make_job(owner_id=str(alice.pk), dataset_id=dataset.dataset_id))
    with pytest.raises(services.DatasetInUse) as refused:
        services.dataset_delete(dataset=dataset)
    assert refused.value.status_code == 409
    services.dataset_delete(dataset=dataset, force=True)
    assert repo.get(dataset.dataset_id) is None


def test_delete_twice_is_not_an_error(alice, repo):
    dataset = repo.add(make_dataset(owner_id=str(alice.pk)))
    services.dataset_delete(dataset=dataset)
    services.dataset_delete(dataset=dataset)
    assert repo.get(dataset.dataset_id) is None


def test_upload_target_points_local_clients_at_our_put_endpoint(alice, rf):
    dataset = services.dataset_create_upload(owner_id=str(alice.pk), filename="iris.csv")
    target = services.upload_target(dataset=dataset, request=rf.get("/"))
    assert target.method == "PUT"
    assert target.url == f"http://testserver/api/datasets/{dataset.dataset_id}/file"
    assert target.headers == {"Content-Type": "text/csv"}
