"""Prediction batches: score a whole CSV file on a worker, keep the result, download it again.

Flow: `batch_create` (a `pending` record and where to send the file: our own streaming
upload, or a presigned S3 POST whose policy fixes the key and bounds the size) → the
client uploads → `batch_confirm` (HEAD/size check, the header checked against the
model's columns, `queued`, the Celery task queued) → `batch_score` on a worker claims
the record with a conditional write (`queued -> scoring`), scores it in chunks with the
ONNX code of `jobs.prediction_files`, recording rows and bytes done after each chunk,
writes the result CSV to the reports storage and marks it `completed`; any error marks
it `failed` with a message naming the row and column where one is to blame.

Nothing large passes through the web process in AWS mode: the file goes to S3 by
presigned POST, the worker reads it from S3, and the result is fetched by presigned GET.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from django.conf import settings
from django.core.files import File
from django.urls import reverse
from django.utils.text import slugify

from automl_lite import wiring
from core.exceptions import (
    ApplicationError,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
)
from core.file_bodies import store_body
from training_image.contract import (
    BATCH_OUTPUT_STORAGE,
    BATCH_STALE_SECONDS,
    MODEL_ONNX,
    MODEL_PKL,
    BatchStatus,
    Job,
    JobStatus,
    PredictionBatch,
    batch_input_key,
    batch_output_key,
    batch_validation_key,
    new_id,
    parse_time,
    utcnow,
)

if TYPE_CHECKING:
    from django.core.files.storage import Storage
    from django.http import HttpRequest

    from datasets.services import UploadTarget
    from jobs.repository import JobRepository, PredictionBatchRepository

logger = logging.getLogger(__name__)

INPUT_STORAGE = "datasets"
CSV_CONTENT_TYPE = "text/csv"
UNEXPECTED_FAILURE = (
    "Scoring stopped on an unexpected error (it was logged). Score the file again; if it "
    "keeps failing, export it again from your spreadsheet as CSV (UTF-8)."
)
_LINK_NAME = "batch:{}"  # what a local download link signs, beside the job and owner


def max_bytes() -> int:
    return int(settings.AUTOML_MAX_PREDICT_BYTES)


def check_can_score(job: Job) -> None:
    """A job scores files when it completed with an ONNX model (no deployment needed).

    Raises:
        InvalidInput: the job is not completed or has no ONNX model.
    """
    if job.status != JobStatus.COMPLETED:
        raise InvalidInput(
            f"Cannot score a file with a job that is {job.status}. "
            "Only completed jobs make predictions."
        )
    artifacts = job.artifacts or {}
    if MODEL_ONNX not in artifacts:
        hint = (
            " Download model.pkl and score rows with it in Python."
            if MODEL_PKL in artifacts
            else ""
        )
        raise InvalidInput(f"No ONNX model available for this job, so it cannot score files.{hint}")


def _check_size(size: int) -> None:
    from jobs.prediction_files import check_size

    if size <= 0:
        raise InvalidInput("The file is empty. Choose a CSV file with a header row and data rows.")
    check_size(size, max_bytes())


# --------------------------------------------------------------------------- create + upload


def batch_create(
    *,
    job: Job,
    owner_id: str,
    filename: str,
    size: int,
    request: HttpRequest,
    repository: PredictionBatchRepository | None = None,
) -> tuple[PredictionBatch, UploadTarget]:
    """A `pending` batch for a file the client is about to send, and where to send it.

    Args:
        job: The job whose model scores the file (already checked to be the user's).
        owner_id: The requesting user's id.
        filename: The file's name on the client's machine (sanitized here).
        size: Its size in bytes as the client reports it (the presigned policy and the
            check at confirm enforce the limit; this only spares a doomed upload).
        request: For absolute URLs.

    Raises:
        InvalidInput: the job cannot score files, the name is not a CSV's, or size is 0.
        PayloadTooLarge: over AUTOML_MAX_PREDICT_BYTES.
        ServiceUnavailable: no upload URL could be signed (no record is left behind).
    """
    from datasets.services import check_filename

    repository = repository or wiring.batch_repository()
    check_can_score(job)
    name = check_filename(filename)
    _check_size(int(size))
    batch_id = new_id()
    batch = repository.add(
        PredictionBatch(
            batch_id=batch_id,
            owner_id=str(owner_id),
            job_id=job.job_id,
            filename=name,
            input_key=batch_input_key(job.job_id, batch_id, name),
            size=int(size),
        )
    )
    try:
        target = upload_target(batch=batch, request=request)
    except ApplicationError:
        with contextlib.suppress(NotFound):
            repository.delete(batch.batch_id)
        raise
    return batch, target


def upload_target(*, batch: PredictionBatch, request: HttpRequest) -> UploadTarget:
    """Where the client sends the batch's file.

    An S3 bucket behind the datasets storage: a presigned POST (policy: exactly this key,
    text/csv, 1 byte to AUTOML_MAX_PREDICT_BYTES). A file system: our own
    `PUT /api/jobs/{job_id}/batches/{batch_id}/file`, which streams the body to storage.
    """
    from datasets.s3_upload import direct_upload_bucket, presigned_post
    from datasets.services import UploadTarget

    ttl = int(settings.AUTOML_PRESIGNED_TTL)
    bucket = direct_upload_bucket(wiring.storage(INPUT_STORAGE))
    if bucket:
        post = presigned_post(
            wiring.boto3_client("s3"),
            bucket=bucket,
            key=batch.input_key,
            max_bytes=max_bytes(),
            expires_in=ttl,
        )
        return UploadTarget(
            url=post.url, method="POST", headers={}, expires_in=ttl, fields=post.fields
        )
    path = reverse(
        "api:job-batch-file", kwargs={"job_id": batch.job_id, "batch_id": batch.batch_id}
    )
    return UploadTarget(
        url=request.build_absolute_uri(path),
        method="PUT",
        headers={"Content-Type": CSV_CONTENT_TYPE},
        expires_in=ttl,
    )


def batch_store_file(
    *,
    batch: PredictionBatch,
    stream: IO[bytes],
    content_length: int | None,
    repository: PredictionBatchRepository | None = None,
    storage: Storage | None = None,
) -> PredictionBatch:
    """Stream an upload to the batch's input key (local mode's upload target).

    Raises:
        InvalidTransition: the batch was already confirmed.
        PayloadTooLarge: the body is (or turns out) over the limit; nothing is kept.
        InvalidInput: the body is empty.
        ServiceUnavailable: storage failed; nothing is kept.
    """
    repository = repository or wiring.batch_repository()
    storage = storage or wiring.storage(INPUT_STORAGE)
    if batch.status != BatchStatus.PENDING:
        raise InvalidTransition(
            f"Prediction batch {batch.batch_id} is {batch.status}: its file can no longer "
            "change. Score the file as a new batch."
        )
    if content_length is not None:
        _check_size(content_length)
    size = store_body(
        storage=storage, key=batch.input_key, name=batch.filename, stream=stream, limit=max_bytes()
    )
    return repository.update(batch.batch_id, only_if_status=(BatchStatus.PENDING,), size=size)


def _delete_quietly(storage: Storage, key: str | None) -> bool:
    """Delete `key`; False (and logged) when storage refused."""
    if not key:
        return True
    try:
        storage.delete(key)
    except Exception:  # noqa: BLE001 - reported by the caller where it matters
        logger.exception("Could not delete %s", key)
        return False
    return True


# --------------------------------------------------------------------------- confirm


def _stored_size(storage: Storage, batch: PredictionBatch) -> int:
    """The uploaded object's size, its type and size checked (S3: one HEAD).

    Raises:
        NotFound: nothing was uploaded yet (the batch stays `pending`).
        InvalidInput / PayloadTooLarge: empty, not CSV, or over the limit (deleted).
    """
    from datasets.s3_upload import check_upload, direct_upload_bucket

    bucket = direct_upload_bucket(storage)
    if bucket:
        client = storage.connection.meta.client
        key = storage._normalize_name(batch.input_key)
        return check_upload(client, bucket=bucket, key=key, max_bytes=max_bytes()).size
    try:
        present = storage.exists(batch.input_key)
        size = storage.size(batch.input_key) if present else 0
    except Exception:
        logger.exception("Checking the file of batch %s failed", batch.batch_id)
        raise ServiceUnavailable("File storage did not answer; try again in a moment.") from None
    if not present:
        raise NotFound("No uploaded file was found for this batch. Upload the file, then confirm.")
    try:
        _check_size(size)
    except ApplicationError:
        _delete_quietly(storage, batch.input_key)
        raise
    return size


def _read_head(storage: Storage, key: str, size: int) -> bytes:
    """The file's first bytes: a ranged GET on S3 (never the whole object in the web)."""
    from datasets.s3_upload import direct_upload_bucket, storage_unavailable
    from jobs.prediction_files import SNIFF_BYTES

    bucket = direct_upload_bucket(storage)
    if bucket:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = storage.connection.meta.client.get_object(
                Bucket=bucket,
                Key=storage._normalize_name(key),
                Range=f"bytes=0-{min(size, SNIFF_BYTES) - 1}",
            )
            return response["Body"].read()
        except (BotoCoreError, ClientError) as error:
            raise storage_unavailable("reading the upload") from error
    with storage.open(key, "rb") as handle:
        return handle.read(SNIFF_BYTES)


def _fail(
    repository: PredictionBatchRepository,
    batch_id: str,
    error: ApplicationError | str,
    *,
    expected: tuple[BatchStatus, ...],
) -> PredictionBatch | None:
    """Record the batch as failed (only from `expected`); what is there otherwise."""
    message = error if isinstance(error, str) else error.message
    details = {} if isinstance(error, str) else dict(error.extra)
    try:
        return repository.transition(
            batch_id,
            BatchStatus.FAILED,
            expected=expected,
            error_message=message,
            error_details=details,
            completed_at=utcnow(),
        )
    except InvalidTransition:
        return repository.get(batch_id)
    except NotFound:
        return None


def batch_confirm(
    *,
    job: Job,
    batch: PredictionBatch,
    repository: PredictionBatchRepository | None = None,
    storage: Storage | None = None,
) -> PredictionBatch:
    """The file is in place: check it, queue the batch and its scoring task.

    Confirming a batch that is already queued queues its task again (the task claims
    the batch, so it still scores once); one that is scoring or completed is returned
    as it is.

    Raises:
        NotFound: no file was uploaded for the batch (it stays `pending`).
        InvalidInput: empty, not CSV, or without the model's columns (the file is
            deleted and the batch `failed` with the same message).
        PayloadTooLarge: over AUTOML_MAX_PREDICT_BYTES (deleted, `failed`; 413).
        InvalidTransition: the batch already failed (upload the file again).
        ServiceUnavailable: storage or the task queue did not answer (retry the confirm).
    """
    from jobs.prediction_files import check_head

    repository = repository or wiring.batch_repository()
    storage = storage or wiring.storage(INPUT_STORAGE)
    if batch.status == BatchStatus.FAILED:
        raise InvalidTransition(
            f"This batch failed: {batch.error_message} Score the file again as a new batch.",
            {"batch_id": batch.batch_id, "status": str(batch.status)},
        )
    if batch.status in (BatchStatus.SCORING, BatchStatus.COMPLETED):
        return batch
    if batch.status == BatchStatus.PENDING:
        check_can_score(job)  # the model's fault, not the file's: the batch stays pending
        try:
            size = _stored_size(storage, batch)
            head = _read_head(storage, batch.input_key, size)
            check_head(job, head, complete=len(head) >= size)
        except (InvalidInput, PayloadTooLarge) as error:
            _delete_quietly(storage, batch.input_key)
            _fail(repository, batch.batch_id, error, expected=(BatchStatus.PENDING,))
            raise
        batch = repository.transition(
            batch.batch_id, BatchStatus.QUEUED, expected=(BatchStatus.PENDING,), size=size
        )
    from jobs.tasks import score_batch as score_batch_task

    try:
        score_batch_task.delay(batch.batch_id)
    except Exception:
        logger.exception("Queueing batch %s failed", batch.batch_id)
        raise ServiceUnavailable(
            "The scoring could not be queued. The file is kept: confirm again in a moment.",
            {"batch_id": batch.batch_id},
        ) from None
    return repository.get(batch.batch_id) or batch


def batch_score_upload(
    *,
    job: Job,
    owner_id: str,
    uploaded_file: File,
    request: HttpRequest,
    repository: PredictionBatchRepository | None = None,
) -> PredictionBatch:
    """The results page's form without a direct upload: create, store, confirm at once.

    Raises:
        The errors of `batch_create`, `batch_store_file` and `batch_confirm`; a batch
        refused at its confirm stays in the history as `failed` with the reason.
    """
    repository = repository or wiring.batch_repository()
    size = int(uploaded_file.size or 0)
    batch, _target = batch_create(
        job=job,
        owner_id=owner_id,
        filename=uploaded_file.name or "predictions.csv",
        size=size,
        request=request,
        repository=repository,
    )
    try:
        batch = batch_store_file(
            batch=batch, stream=uploaded_file, content_length=size, repository=repository
        )
    except ApplicationError:
        with contextlib.suppress(NotFound):
            repository.delete(batch.batch_id)
        raise
    return batch_confirm(job=job, batch=batch, repository=repository)


# --------------------------------------------------------------------------- score (worker)


class _Stopped(Exception):
    """The batch left `scoring` under the worker (deleted with its job, failed elsewhere)."""


def _claim(repository: PredictionBatchRepository, batch: PredictionBatch) -> PredictionBatch | None:
    """Take the batch for this worker with one conditional write; None: someone has it."""
    expected: tuple[BatchStatus, ...]
    if batch.status == BatchStatus.QUEUED:
        expected = (BatchStatus.QUEUED,)
    elif batch.status == BatchStatus.SCORING and _is_stale(batch):
        expected = (BatchStatus.SCORING,)  # its worker died: start again
    else:
        return None
    try:
        return repository.transition(
            batch.batch_id,
            BatchStatus.SCORING,
            expected=expected,
            started_at=utcnow(),
            rows_done=0,
            bytes_done=0,
            attempt=batch.attempt + 1,
        )
    except (InvalidTransition, NotFound):
        return None


def _is_stale(batch: PredictionBatch) -> bool:
    updated = parse_time(batch.updated_at)
    return updated is None or (dt.datetime.now(dt.UTC) - updated).total_seconds() > (
        BATCH_STALE_SECONDS
    )


def batch_score(
    *,
    batch_id: str,
    repository: PredictionBatchRepository | None = None,
    jobs: JobRepository | None = None,
) -> PredictionBatch | None:
    """Score a queued batch and record the outcome (one callable step, CONVENTIONS 23).

    A second delivery of the task finds the batch claimed (or finished) and returns it
    unchanged, so a batch is scored once.

    Returns:
        The batch as it stands afterwards; None when it no longer exists.

    Raises:
        ServiceUnavailable: storage failed; the batch is `queued` again for the retry.
    """
    from jobs import prediction_files

    repository = repository or wiring.batch_repository()
    jobs = jobs or wiring.job_repository()
    found = repository.get(batch_id)
    if found is None:
        return None
    batch = _claim(repository, found)
    if batch is None:
        return repository.get(batch_id)
    scoring = (BatchStatus.SCORING,)
    job = jobs.get(batch.job_id)
    if job is None:
        return _fail(repository, batch_id, "The job of this batch was deleted.", expected=scoring)
    try:
        check_can_score(job)
    except InvalidInput as error:
        return _fail(repository, batch_id, error, expected=scoring)

    def progress(rows: int, read: int) -> None:
        try:
            repository.update(batch_id, only_if_status=scoring, rows_done=rows, bytes_done=read)
        except (InvalidTransition, NotFound):
            raise _Stopped from None

    source = wiring.storage(INPUT_STORAGE)
    output = wiring.storage(BATCH_OUTPUT_STORAGE)
    try:
        with source.open(batch.input_key, "rb") as handle:
            scored = prediction_files.score_file(
                job, handle, max_rows=settings.AUTOML_MAX_PREDICT_ROWS, on_progress=progress
            )
    except _Stopped:
        return repository.get(batch_id)
    except FileNotFoundError:
        message = "The uploaded file is missing from storage. Score the file again."
        return _fail(repository, batch_id, message, expected=scoring)
    except ApplicationError as error:  # the file's fault (or the model's): say which row
        return _fail(repository, batch_id, error, expected=scoring)
    except OSError as error:
        _release(repository, batch_id)
        raise ServiceUnavailable("File storage did not answer while reading the file.") from error
    except Exception as error:
        if _is_storage_error(error):
            _release(repository, batch_id)
            raise ServiceUnavailable(
                "File storage did not answer while reading the file."
            ) from error
        logger.exception("Scoring batch %s failed", batch_id)
        return _fail(repository, batch_id, UNEXPECTED_FAILURE, expected=scoring)

    key = batch_output_key(batch.job_id, batch_id)
    validation_key = batch_validation_key(batch.job_id, batch_id) if scored.validation else None
    try:
        with scored.file:
            _save_output(output, key, scored.file)
        if validation_key is not None:
            report = io.BytesIO(json.dumps(scored.validation, indent=2).encode())
            _save_output(output, validation_key, report)
    except Exception as error:
        logger.exception("Storing the result of batch %s failed", batch_id)
        _release(repository, batch_id)
        raise ServiceUnavailable(
            "The result could not be stored; it will be tried again."
        ) from error
    try:
        done = repository.transition(
            batch_id,
            BatchStatus.COMPLETED,
            expected=scoring,
            output_key=key,
            validation_key=validation_key,
            rows_total=scored.rows,
            rows_done=scored.rows,
            bytes_done=batch.size,
            completed_at=utcnow(),
            error_message=None,
            error_details={},
        )
    except (InvalidTransition, NotFound):
        # Deleted or failed meanwhile: keep nothing of it.
        for written in (key, validation_key):
            if written is not None:
                _delete_quietly(output, written)
        return repository.get(batch_id)
    # The result holds every column of the input, so the upload is no longer needed.
    _delete_quietly(source, batch.input_key)
    logger.info("Scored batch %s: %d rows in %.2f s", batch_id, scored.rows, scored.seconds)
    return done


def _is_storage_error(error: Exception) -> bool:
    return type(error).__module__.startswith(("botocore", "boto3", "s3transfer"))


def _release(repository: PredictionBatchRepository, batch_id: str) -> None:
    """Back to `queued` so the task's retry can claim it again."""
    with contextlib.suppress(InvalidTransition, NotFound):
        repository.transition(batch_id, BatchStatus.QUEUED, expected=(BatchStatus.SCORING,))


def _save_output(storage: Storage, key: str, file: IO[bytes]) -> None:
    if storage.exists(key):
        storage.delete(key)
    saved = storage.save(key, File(file, name=key.rsplit("/", 1)[-1]))
    if saved != key:
        storage.delete(saved)
        raise OSError(f"storage saved {key!r} as {saved!r}")


def batch_fail(
    *, batch_id: str, message: str, repository: PredictionBatchRepository | None = None
) -> PredictionBatch | None:
    """Mark a batch still waiting or scoring as failed (the task gave up retrying)."""
    repository = repository or wiring.batch_repository()
    return _fail(repository, batch_id, message, expected=(BatchStatus.QUEUED, BatchStatus.SCORING))


# --------------------------------------------------------------------------- results


def download_name(job: Job, batch: PredictionBatch) -> str:
    """`<input-stem>-<job8>-predictions.csv`."""
    stem = slugify(batch.filename.rsplit(".", 1)[0])[:40] or "batch"
    return f"{stem}-{job.job_id[:8]}-predictions.csv"


def _link_name(batch: PredictionBatch) -> str:
    return _LINK_NAME.format(batch.batch_id)


def batch_direct_url(*, job: Job, batch: PredictionBatch) -> str | None:
    """A presigned GET of the result (attachment), when its storage is an S3 bucket."""
    from jobs.presigned import can_presign

    if batch.status != BatchStatus.COMPLETED or not batch.output_key:
        return None
    storage = wiring.storage(BATCH_OUTPUT_STORAGE)
    if not can_presign(storage):
        return None
    parameters = {
        "ResponseContentDisposition": f'attachment; filename="{download_name(job, batch)}"',
        "ResponseContentType": "text/csv; charset=utf-8",
        "ResponseCacheControl": "private, no-store",
    }
    return storage.url(
        batch.output_key, parameters=parameters, expire=int(settings.AUTOML_PRESIGNED_TTL)
    )


def batch_download_url(*, request: HttpRequest, job: Job, batch: PredictionBatch) -> str | None:
    """Where the result downloads from: a presigned GET on S3, else our own view with an
    expiring signature (so it works without a session, e.g. from `curl`); None until done.
    """
    from urllib.parse import urlencode

    from jobs import links

    if batch.status != BatchStatus.COMPLETED or not batch.output_key:
        return None
    direct = batch_direct_url(job=job, batch=batch)
    if direct:
        return direct
    expires = links.url_expiry()
    path = reverse("jobs:batch_download", kwargs={"job_id": job.job_id, "batch_id": batch.batch_id})
    query = urlencode(
        {"expires": expires, "signature": links.signature(job, _link_name(batch), expires)}
    )
    return request.build_absolute_uri(f"{path}?{query}")


def batch_link_valid(
    *, job: Job, batch: PredictionBatch, expires: str | None, signature: str | None
) -> bool:
    """Whether a download link of `batch_download_url` is genuine and unexpired."""
    from jobs import links

    return links.verify(job, _link_name(batch), expires, signature)


@dataclass
class BatchResult:
    file: Any  # an open storage file; the response closes it
    filename: str


def batch_open_result(*, job: Job, batch: PredictionBatch) -> BatchResult:
    """The completed batch's result CSV, opened for streaming (local downloads).

    Raises:
        NotFound: the batch is not completed, or its file is missing.
    """
    if batch.status != BatchStatus.COMPLETED or not batch.output_key:
        raise NotFound("This batch has no result yet.")
    try:
        handle = wiring.storage(BATCH_OUTPUT_STORAGE).open(batch.output_key, "rb")
    except FileNotFoundError:
        raise NotFound("The result file is missing from storage.") from None
    return BatchResult(file=handle, filename=download_name(job, batch))


def batch_validation(batch: PredictionBatch) -> dict[str, Any] | None:
    """The validation report of a completed batch whose file held the target, else None.

    Raises:
        ServiceUnavailable: the report is in the record but storage did not give it back.
    """
    if batch.status != BatchStatus.COMPLETED or not batch.validation_key:
        return None
    try:
        with wiring.storage(BATCH_OUTPUT_STORAGE).open(batch.validation_key, "rb") as handle:
            return json.loads(handle.read())
    except FileNotFoundError:
        raise ServiceUnavailable("The validation report is missing from storage.") from None
    except Exception as error:
        if _is_storage_error(error):
            raise ServiceUnavailable("File storage did not answer.") from error
        raise


def validation_missing(job: Job, batch: PredictionBatch) -> str:
    """Why a batch has no validation report, as a user can act on it."""
    if batch.status != BatchStatus.COMPLETED:
        return "This file has not been scored yet; its validation appears once it is."
    return (
        f"{batch.filename} has no '{job.target_column}' column, so it was scored without "
        "validation. To validate the model, score a file that also holds the actual "
        f"'{job.target_column}' of each row."
    )


# --------------------------------------------------------------------------- delete


def _delete_files(batch: PredictionBatch, failures: list[str]) -> None:
    files = (
        (INPUT_STORAGE, batch.input_key),
        (BATCH_OUTPUT_STORAGE, batch.output_key),
        (BATCH_OUTPUT_STORAGE, batch.validation_key),
    )
    for alias, key in files:
        if key and not _delete_quietly(wiring.storage(alias), key):
            failures.append(f"{alias}: {key}")


def batch_delete(
    *, batch: PredictionBatch, repository: PredictionBatchRepository | None = None
) -> None:
    """Delete a batch's files and then its record (a worker still scoring it stops).

    Raises:
        ServiceUnavailable: a file could not be deleted; the record is kept to retry.
    """
    repository = repository or wiring.batch_repository()
    failures: list[str] = []
    _delete_files(batch, failures)
    if failures:
        raise ServiceUnavailable(
            "The batch's files could not be deleted; it was kept so you can try again.",
            {"failed": failures},
        )
    with contextlib.suppress(NotFound):
        repository.delete(batch.batch_id)


def batches_delete_for_job(
    *, job_id: str, failures: list[str], repository: PredictionBatchRepository | None = None
) -> int:
    """Delete every batch of a job (files, then records); returns how many went.

    A batch whose files could not be deleted keeps its record and is named in
    `failures`, so deleting the job again finishes the work.
    """
    repository = repository or wiring.batch_repository()
    deleted = 0
    for batch in repository.all_for_job(job_id):
        before = len(failures)
        _delete_files(batch, failures)
        if len(failures) == before:
            with contextlib.suppress(NotFound):
                repository.delete(batch.batch_id)
            deleted += 1
    return deleted
