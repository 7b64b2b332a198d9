"""Dataset use cases: create an upload, store its file, confirm it, analyze it, delete it.

Status moves `uploading -> analyzing -> ready | failed` through conditional writes, so a
late or repeated step (a task delivered twice, a confirm clicked twice) finds the record
in another state and stops. A record never outlives a failed store of its file, and a
rejected file leaves a `failed` record whose `error_message` says what to do.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from django.conf import settings
from django.core.files import File
from django.urls import reverse

from automl_lite import wiring
from core.exceptions import (
    ApplicationError,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
)
from core.file_bodies import megabytes, save, store_body
from datasets.analysis import CsvRejected, analyze_csv, sniff_source, stored_dialect
from training_image.contract import (
    Dataset,
    DatasetStatus,
    dataset_key,
    new_id,
    parse_time,
    sanitize_filename,
)

if TYPE_CHECKING:
    from django.core.files.storage import Storage
    from django.http import HttpRequest

    from datasets.repository import DatasetRepository

logger = logging.getLogger(__name__)

ALLOWED_EXTENSIONS = (".csv", ".tsv", ".txt")
# The API's confirm analyzes files up to this size before answering (about a second of
# work), so the earlier client gets its column list at once; larger ones are analyzed by
# the Celery task and the answer says `analyzing` (poll GET /api/datasets/{id}).
INLINE_ANALYSIS_MAX_BYTES = 50 * 1024**2
# An `analyzing` record older than this lost its worker: confirming it again re-queues it.
STALE_ANALYSIS = dt.timedelta(minutes=10)
UNEXPECTED_FAILURE = (
    "The analysis stopped on an unexpected error (it was logged). Try again; if it keeps "
    "failing, open the file in a spreadsheet and export it again as CSV (UTF-8)."
)


class DatasetInUse(ApplicationError):
    """Training jobs still use the dataset; deleting it needs `force`."""

    status_code = 409


@dataclass(frozen=True)
class UploadTarget:
    """Where a client sends the file: `method` + `url` with `headers` (reference #3)."""

    url: str
    method: str
    headers: dict[str, str]
    expires_in: int
    # Form fields to send before the file (a presigned S3 POST); empty for a PUT.
    fields: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- checks


def max_upload_bytes() -> int:
    return int(settings.AUTOML_MAX_UPLOAD_BYTES)


def check_filename(filename: str) -> str:
    """The storage-safe name of an upload, or InvalidInput when it is not a CSV name."""
    name = sanitize_filename(str(filename or ""))
    if not name.lower().endswith(ALLOWED_EXTENSIONS):
        raise InvalidInput(
            f"'{filename}' is not a CSV file: upload a .csv, .tsv or .txt file. Spreadsheets "
            "(.xlsx, .ods) must be exported as CSV first."
        )
    return name


def check_size(size: int) -> None:
    if size > max_upload_bytes():
        raise PayloadTooLarge(
            f"The file is {megabytes(size)}; the limit is {megabytes(max_upload_bytes())}. "
            "Upload a smaller file (for example a sample of the rows).",
            {"size_bytes": size, "limit_bytes": max_upload_bytes()},
        )
    if size == 0:
        raise InvalidInput("The file is empty. Choose a CSV file with a header row and data rows.")


def _check_content(file: IO[bytes]) -> None:
    """Reject what is not a CSV from its first bytes (binary, HTML, one column, empty)."""
    try:
        sniff_source(file)
    except CsvRejected as rejected:
        raise InvalidInput(rejected.message, {"code": rejected.code}) from None
    finally:
        file.seek(0)


# --------------------------------------------------------------------------- upload


def dataset_create_upload(
    *,
    owner_id: str,
    filename: str,
    file: File | None = None,
    repository: DatasetRepository | None = None,
    storage: Storage | None = None,
) -> Dataset:
    """Create an `uploading` dataset record; with `file`, check it and store it too.

    Args:
        owner_id: the uploading user's id.
        filename: the name the user gave the file (sanitized here).
        file: the uploaded file (the web form); None when the client sends it later
            to `upload_target` (the API).

    Raises:
        InvalidInput: not a CSV name, an empty file, or content that is not a CSV.
        PayloadTooLarge: over AUTOML_MAX_UPLOAD_BYTES.
        ServiceUnavailable: the file could not be stored (no record is left behind).
    """
    repository = repository or wiring.dataset_repository()
    name = check_filename(filename)
    size = 0
    if file is not None:
        size = int(file.size or 0)
        check_size(size)
        _check_content(file)
    dataset_id = new_id()
    dataset = repository.add(
        Dataset(
            dataset_id=dataset_id,
            owner_id=str(owner_id),
            filename=name,
            storage_key=dataset_key(dataset_id, name),
            status=DatasetStatus.UPLOADING,
            file_size=size,
        )
    )
    if file is not None:
        try:
            save(storage or wiring.storage("datasets"), dataset.storage_key, file)
        except Exception:
            logger.exception("Storing the upload of dataset %s failed", dataset_id)
            _forget(repository, dataset_id)
            raise ServiceUnavailable(
                "The file could not be stored. Nothing was kept; try the upload again."
            ) from None
    return dataset


def _forget(repository: DatasetRepository, dataset_id: str) -> None:
    try:
        repository.delete(dataset_id)
    except Exception:
        logger.exception("Could not remove dataset record %s after a failed store", dataset_id)


def browser_upload_method(*, storage: Storage | None = None) -> str:
    """How the upload page sends a file: `presigned-post` straight to the datasets bucket
    when the datasets storage is one, else `form` (the multipart POST the web streams)."""
    from datasets.s3_upload import upload_method

    return upload_method(storage or wiring.storage("datasets"))


def upload_target(*, dataset: Dataset, request: HttpRequest, form: bool = False) -> UploadTarget:
    """Where the API client PUTs the file (reference #3 `upload_url`).

    A datasets storage on the file system (local mode): our own
    `PUT /api/datasets/{id}/file`, which streams the body to storage. An S3 bucket (AWS
    mode): a presigned S3 PUT signed for `Content-Type: text/csv`; with `form`, a
    presigned S3 POST for a browser form (policy: this key, text/csv, at most
    AUTOML_MAX_UPLOAD_BYTES), so the file goes straight to S3.
    """
    from datasets.s3_upload import direct_upload_bucket

    ttl = int(settings.AUTOML_PRESIGNED_TTL)
    headers = {"Content-Type": "text/csv"}
    bucket = direct_upload_bucket(wiring.storage("datasets"))
    if bucket and form:
        from datasets.s3_upload import browser_post_target

        post = browser_post_target(
            bucket=bucket,
            key=dataset.storage_key,
            max_bytes=max_upload_bytes(),
            expires_in=ttl,
        )
        return UploadTarget(
            url=post.url, method="POST", headers={}, expires_in=ttl, fields=post.fields
        )
    if bucket:
        from datasets.s3_upload import presigned_put

        url = presigned_put(
            wiring.boto3_client("s3"), bucket=bucket, key=dataset.storage_key, expires_in=ttl
        )
        return UploadTarget(url=url, method="PUT", headers=headers, expires_in=ttl)
    path = reverse("api:dataset-file", kwargs={"dataset_id": dataset.dataset_id})
    return UploadTarget(
        url=request.build_absolute_uri(path), method="PUT", headers=headers, expires_in=ttl
    )


def dataset_start_browser_upload(
    *,
    owner_id: str,
    filename: str,
    size: int,
    request: HttpRequest,
    repository: DatasetRepository | None = None,
) -> tuple[Dataset, UploadTarget]:
    """The upload page's first step when the browser sends the file itself: check what it
    says about the file, create the `uploading` record, and say where to send the file.

    Args:
        owner_id: The uploading user's id.
        filename: The file's name on the user's machine.
        size: Its size in bytes, as the browser reports it (S3's policy and the HEAD at
            confirm enforce the limit; this check only spares a doomed upload).
        request: The page's request (for absolute URLs).

    Returns:
        The record and the upload target (a presigned POST when the datasets storage is
        an S3 bucket).

    Raises:
        InvalidInput: not a CSV name, or an empty file.
        PayloadTooLarge: over AUTOML_MAX_UPLOAD_BYTES.
        ServiceUnavailable: no upload URL could be signed (no record is left behind).
    """
    repository = repository or wiring.dataset_repository()
    check_filename(filename)
    check_size(int(size))
    dataset = dataset_create_upload(owner_id=owner_id, filename=filename, repository=repository)
    try:
        target = upload_target(dataset=dataset, request=request, form=True)
    except ApplicationError:
        _forget(repository, dataset.dataset_id)
        raise
    return dataset, target


def dataset_store_file(
    *,
    dataset: Dataset,
    stream: IO[bytes],
    content_length: int | None,
    repository: DatasetRepository | None = None,
    storage: Storage | None = None,
) -> Dataset:
    """Stream a request body to the dataset's key (the local `upload_url`).

    Raises:
        InvalidTransition: the dataset was already confirmed.
        PayloadTooLarge: the body is (or turns out) over the limit; nothing is kept.
        InvalidInput: the body is empty.
    """
    repository = repository or wiring.dataset_repository()
    storage = storage or wiring.storage("datasets")
    if dataset.status not in (DatasetStatus.UPLOADING, DatasetStatus.FAILED):
        raise InvalidTransition(
            f"Dataset {dataset.dataset_id} is {dataset.status}: its file can no longer change. "
            "Upload the data as a new dataset."
        )
    if content_length is not None:
        check_size(content_length)
    size = store_body(
        storage=storage,
        key=dataset.storage_key,
        name=dataset.filename,
        stream=stream,
        limit=max_upload_bytes(),
    )
    return repository.update(
        dataset.dataset_id,
        only_if_status=(DatasetStatus.UPLOADING, DatasetStatus.FAILED),
        status=DatasetStatus.UPLOADING,
        file_size=size,
        error_message=None,
        analysis=None,
        csv_dialect=None,
    )


def dataset_reject_upload(
    *,
    dataset: Dataset,
    message: str,
    repository: DatasetRepository | None = None,
    storage: Storage | None = None,
) -> Dataset:
    """An upload that cannot be taken: the record says why (`failed`), no partial file stays.

    The client may PUT the file again (a failed upload accepts a new file).
    """
    repository = repository or wiring.dataset_repository()
    storage = storage or wiring.storage("datasets")
    _delete_file(storage, dataset.storage_key)
    return repository.update(
        dataset.dataset_id,
        only_if_status=(DatasetStatus.UPLOADING, DatasetStatus.FAILED),
        status=DatasetStatus.FAILED,
        file_size=0,
        error_message=message,
    )


def _delete_file(storage: Storage, key: str) -> None:
    try:
        storage.delete(key)
    except Exception:
        logger.exception("Could not delete %s", key)


# --------------------------------------------------------------------------- confirm + analyze


def _is_stale(dataset: Dataset) -> bool:
    updated = parse_time(dataset.updated_at)
    return updated is None or dt.datetime.now(dt.UTC) - updated > STALE_ANALYSIS


def dataset_confirm(
    *,
    dataset: Dataset,
    inline: bool = False,
    repository: DatasetRepository | None = None,
    storage: Storage | None = None,
) -> Dataset:
    """The file is in place: move to `analyzing` and analyze it (now, or on a worker).

    Confirming a ready dataset, or one a live worker is analyzing, changes nothing.

    Args:
        dataset: the record (from `selectors.dataset_get`).
        inline: analyze here before returning when the file is small
            (INLINE_ANALYSIS_MAX_BYTES); otherwise the Celery task does it.

    Raises:
        NotFound: no file was uploaded for the dataset.
        PayloadTooLarge: the stored file is over the limit (it is deleted, the record failed).
    """
    repository = repository or wiring.dataset_repository()
    storage = storage or wiring.storage("datasets")
    if dataset.status == DatasetStatus.READY:
        return dataset
    if dataset.status == DatasetStatus.ANALYZING and not _is_stale(dataset):
        return dataset
    key = dataset.storage_key
    try:
        present = storage.exists(key)
        size = storage.size(key) if present else 0
    except Exception:
        logger.exception("Checking the file of dataset %s failed", dataset.dataset_id)
        raise ServiceUnavailable("File storage did not answer; try again in a moment.") from None
    if not present:
        raise NotFound(f"No files found for dataset {dataset.dataset_id}")
    from datasets.s3_upload import content_type_problem  # S3: HEAD re-checks the type

    problem = content_type_problem(storage, key)
    if problem:
        _delete_file(storage, key)
        repository.update(dataset.dataset_id, status=DatasetStatus.FAILED, error_message=problem)
        raise InvalidInput(problem)
    if size > max_upload_bytes():
        _delete_file(storage, key)
        message = (
            f"The file is {megabytes(size)}; the limit is {megabytes(max_upload_bytes())}. "
            "Upload a smaller file (for example a sample of the rows)."
        )
        repository.update(
            dataset.dataset_id, status=DatasetStatus.FAILED, file_size=size, error_message=message
        )
        raise PayloadTooLarge(message, {"size_bytes": size, "limit_bytes": max_upload_bytes()})
    dataset = repository.update(
        dataset.dataset_id,
        only_if_status=(DatasetStatus.UPLOADING, DatasetStatus.FAILED, DatasetStatus.ANALYZING),
        status=DatasetStatus.ANALYZING,
        file_size=size,
        error_message=None,
        analysis=None,
        csv_dialect=None,
    )
    if inline and size <= INLINE_ANALYSIS_MAX_BYTES:
        return dataset_analyze(
            dataset_id=dataset.dataset_id, repository=repository, storage=storage
        )
    from datasets.tasks import analyze_dataset as analyze_dataset_task

    try:
        analyze_dataset_task.delay(dataset.dataset_id)
    except Exception:
        logger.exception("Queueing the analysis of dataset %s failed", dataset.dataset_id)
        repository.update(
            dataset.dataset_id,
            only_if_status=(DatasetStatus.ANALYZING,),
            status=DatasetStatus.UPLOADING,
        )
        raise ServiceUnavailable(
            "The analysis could not be queued. The file is kept: confirm again in a moment."
        ) from None
    return repository.get(dataset.dataset_id) or dataset


def dataset_analyze(
    *,
    dataset_id: str,
    repository: DatasetRepository | None = None,
    storage: Storage | None = None,
) -> Dataset | None:
    """Analyze a dataset in `analyzing` and record the outcome (`ready` or `failed`).

    One callable step (CONVENTIONS 23): it claims the record with a conditional write
    on `analyzing`; finding it in any other state (done by another delivery, deleted)
    means someone else got it, and it returns what is there.

    Raises:
        ServiceUnavailable: the file could not be read from storage (the task retries).
    """
    repository = repository or wiring.dataset_repository()
    storage = storage or wiring.storage("datasets")
    try:
        dataset = repository.update(
            dataset_id, only_if_status=(DatasetStatus.ANALYZING,), status=DatasetStatus.ANALYZING
        )
    except (InvalidTransition, NotFound):
        return repository.get(dataset_id)
    try:
        analysis = _analyze_stored(dataset, storage)
    except CsvRejected as rejected:
        return _finish(
            repository,
            dataset,
            status=DatasetStatus.FAILED,
            error_message=rejected.message,
            analysis={"rejection": {"code": rejected.code, "line": rejected.line}},
        )
    except FileNotFoundError:
        return _finish(
            repository,
            dataset,
            status=DatasetStatus.FAILED,
            error_message="The uploaded file is missing from storage. Upload it again.",
        )
    except OSError as error:
        logger.warning("Reading dataset %s failed: %s", dataset_id, error)
        raise ServiceUnavailable("File storage did not answer while reading the file.") from error
    except Exception:
        logger.exception("Analysis of dataset %s failed", dataset_id)
        return _finish(
            repository, dataset, status=DatasetStatus.FAILED, error_message=UNEXPECTED_FAILURE
        )
    return _finish(
        repository,
        dataset,
        status=DatasetStatus.READY,
        row_count=analysis["rows"],
        columns=[c["name"] for c in analysis["columns"]],
        analysis=analysis,
        csv_dialect=stored_dialect(analysis).to_dict(),
        error_message=None,
    )


def dataset_fail_analysis(
    *, dataset_id: str, message: str, repository: DatasetRepository | None = None
) -> Dataset | None:
    """Mark a dataset still `analyzing` as failed (the task gave up retrying)."""
    repository = repository or wiring.dataset_repository()
    try:
        return repository.update(
            dataset_id,
            only_if_status=(DatasetStatus.ANALYZING,),
            status=DatasetStatus.FAILED,
            error_message=message,
        )
    except (InvalidTransition, NotFound):
        return repository.get(dataset_id)


def _analyze_stored(dataset: Dataset, storage: Storage) -> dict[str, Any]:
    try:
        path = storage.path(dataset.storage_key)
    except NotImplementedError:  # object storage: stream it (django-storages spools to disk)
        with storage.open(dataset.storage_key, "rb") as handle:
            return analyze_csv(handle, file_size=dataset.file_size or None)
    return analyze_csv(path)


def _finish(repository: DatasetRepository, dataset: Dataset, **fields: Any) -> Dataset | None:
    try:
        return repository.update(
            dataset.dataset_id, only_if_status=(DatasetStatus.ANALYZING,), **fields
        )
    except InvalidTransition:
        return repository.get(dataset.dataset_id)  # finished by another delivery
    except NotFound:
        return None  # deleted while it was being analyzed
    except ApplicationError as error:  # e.g. an analysis over the record size limit
        logger.error("Could not store the analysis of %s: %s", dataset.dataset_id, error.message)
        return repository.update(
            dataset.dataset_id,
            only_if_status=(DatasetStatus.ANALYZING,),
            status=DatasetStatus.FAILED,
            error_message=error.message,
        )


# --------------------------------------------------------------------------- delete


def dataset_delete(
    *,
    dataset: Dataset,
    force: bool = False,
    repository: DatasetRepository | None = None,
    storage: Storage | None = None,
) -> None:
    """Delete the dataset record and its file.

    The record goes first: a crash in between leaves an unreferenced file, never a
    record without its file.

    Raises:
        DatasetInUse: training jobs used it and `force` is False (their models stay,
            but they could not be re-run without the data).
    """
    repository = repository or wiring.dataset_repository()
    storage = storage or wiring.storage("datasets")
    jobs = wiring.job_repository().list_for_dataset(dataset.dataset_id)
    if jobs and not force:
        n = len(jobs)
        raise DatasetInUse(
            f"{n} training job{'s' if n != 1 else ''} used this dataset. Delete "
            f"{'them' if n != 1 else 'it'} first, or delete the dataset anyway (trained models "
            "stay, but those jobs can no longer be re-run).",
            {"jobs": [job.job_id for job in jobs]},
        )
    with contextlib.suppress(NotFound):  # already gone: deleting twice is not an error
        repository.delete(dataset.dataset_id)
    _delete_file(storage, dataset.storage_key)


# --------------------------------------------------------------------------- housekeeping

_PURGE_PAGE = 100


def datasets_purge_abandoned(
    *,
    older_than: dt.timedelta | None = None,
    dry_run: bool = False,
    now: dt.datetime | None = None,
    repository: DatasetRepository | None = None,
    storage: Storage | None = None,
) -> list[str]:
    """Delete uploads never confirmed: `uploading` records not updated for `older_than`
    (default AUTOML_UPLOAD_ABANDON_AFTER seconds), with any file or part of one.

    Each record is claimed first (`uploading` -> `failed`), so an upload confirmed at that
    moment is left alone; then the record and the file go.

    Returns:
        The ids of the deleted (or, with `dry_run`, the matching) datasets.
    """
    repository = repository or wiring.dataset_repository()
    storage = storage or wiring.storage("datasets")
    now = now or dt.datetime.now(dt.UTC)
    if older_than is None:
        older_than = dt.timedelta(seconds=settings.AUTOML_UPLOAD_ABANDON_AFTER)
    cutoff = now - older_than
    abandoned: list[Dataset] = []
    cursor: str | None = None
    while True:
        page = repository.list_recent(
            statuses=[DatasetStatus.UPLOADING], limit=_PURGE_PAGE, cursor=cursor
        )
        abandoned.extend(
            d
            for d in page.items
            if d.status == DatasetStatus.UPLOADING
            and (parse_time(d.updated_at) or parse_time(d.created_at) or now) < cutoff
        )
        if not page.next_cursor or not page.items:
            break
        cursor = page.next_cursor
    if dry_run:
        return [d.dataset_id for d in abandoned]
    purged: list[str] = []
    for dataset in abandoned:
        try:
            repository.update(
                dataset.dataset_id,
                only_if_status=(DatasetStatus.UPLOADING,),
                status=DatasetStatus.FAILED,
                error_message="The upload was never confirmed and has been removed.",
            )
        except (InvalidTransition, NotFound):
            continue  # confirmed or deleted meanwhile
        with contextlib.suppress(NotFound):
            repository.delete(dataset.dataset_id)
        _delete_file(storage, dataset.storage_key)
        purged.append(dataset.dataset_id)
    if purged:
        logger.info("Purged %d abandoned upload(s): %s", len(purged), purged)
    return purged
