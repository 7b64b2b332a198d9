"""Browser uploads straight to S3, and the checks made when an upload is confirmed.

- `presigned_post`: the upload form's target. Its policy fixes the key, bounds the size
  with `content-length-range` (1 byte .. AUTOML_MAX_UPLOAD_BYTES) and pins the
  Content-Type, so S3 itself refuses anything else; nothing passes through the web.
- `presigned_put`: the earlier edition's `/api/upload` shape (a PUT URL signed with
  `Content-Type: text/csv`). A PUT cannot carry a size policy, so its size is checked
  at confirm.
- `check_upload`: HEAD at confirm: the object exists, is not empty, is within the
  limit and has a CSV-like type. An oversized or wrongly typed object is deleted, so
  a rejected upload leaves nothing behind.
- `direct_upload_bucket` / `upload_method`: whether the datasets storage is a bucket a
  client can send the file to directly (then the upload page posts it to S3 itself), or
  a file system the web streams the file into. A capability of the storage, not a mode.

Every AWS error becomes an `ApplicationError` with a message a user can act on.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from core.exceptions import InvalidInput, NotFound, PayloadTooLarge, ServiceUnavailable

CSV_CONTENT_TYPE = "text/csv"
# What a CSV may be labelled as by the clients that put one there (the presigned forms
# pin text/csv; older scripts and spreadsheet tools use the others).
CSV_CONTENT_TYPES = frozenset(
    {"text/csv", "application/csv", "text/plain", "application/vnd.ms-excel"}
)


# How the upload page sends the file (`upload_method`): straight to the datasets bucket
# by presigned POST, or as the page's multipart form, which the web streams to storage.
DIRECT_POST = "presigned-post"
FORM_POST = "form"


@dataclass(frozen=True)
class PresignedPost:
    """Where and how the browser posts the file: `url` plus form `fields`, file last."""

    url: str
    fields: dict[str, str]
    key: str
    max_bytes: int
    expires_in: int


@dataclass(frozen=True)
class UploadedObject:
    key: str
    size: int
    content_type: str
    etag: str


def _megabytes(size: int) -> str:
    return f"{size / 1024**2:,.1f} MB"


def _code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _status(error: Exception) -> int:
    response = getattr(error, "response", None) or {}
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def storage_unavailable(action: str) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"File storage did not answer while {action}. Nothing was lost; try again in a moment."
    )


def presigned_post(
    client: Any,
    *,
    bucket: str,
    key: str,
    max_bytes: int,
    expires_in: int,
    content_type: str = CSV_CONTENT_TYPE,
) -> PresignedPost:
    """A presigned POST whose policy fixes `key`, bounds the size and pins the type.

    Args:
        client: A boto3 S3 client (signature version 4).
        bucket: The datasets bucket.
        key: The object key the file must be stored under.
        max_bytes: Largest accepted file (AUTOML_MAX_UPLOAD_BYTES).
        expires_in: Seconds the form stays valid.
        content_type: The Content-Type the form must send (and S3 stores).
    """
    from botocore.exceptions import BotoCoreError, ClientError

    fields = {"Content-Type": content_type}
    # botocore adds the bucket and key conditions itself; the key is fixed, not a prefix.
    conditions: list[Any] = [
        {"Content-Type": content_type},
        ["content-length-range", 1, int(max_bytes)],
    ]
    try:
        post = client.generate_presigned_post(
            Bucket=bucket, Key=key, Fields=fields, Conditions=conditions, ExpiresIn=expires_in
        )
    except (BotoCoreError, ClientError) as error:
        raise ServiceUnavailable(
            f"Error generating upload URL: {type(error).__name__}. Try again in a moment."
        ) from error
    return PresignedPost(
        url=post["url"],
        fields={k: str(v) for k, v in post["fields"].items()},
        key=key,
        max_bytes=int(max_bytes),
        expires_in=expires_in,
    )


def presigned_put(
    client: Any,
    *,
    bucket: str,
    key: str,
    expires_in: int,
    content_type: str = CSV_CONTENT_TYPE,
) -> str:
    """A presigned PUT URL; the client must send `Content-Type: text/csv` (it is signed)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return client.generate_presigned_url(
            "put_object",
            Params={"Bucket": bucket, "Key": key, "ContentType": content_type},
            ExpiresIn=expires_in,
            HttpMethod="PUT",
        )
    except (BotoCoreError, ClientError) as error:
        raise ServiceUnavailable(
            f"Error generating upload URL: {type(error).__name__}. Try again in a moment."
        ) from error


def _delete_quietly(client: Any, bucket: str, key: str) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    # The bucket's lifecycle rule removes abandoned uploads; the user's message matters more.
    with contextlib.suppress(BotoCoreError, ClientError):
        client.delete_object(Bucket=bucket, Key=key)


def check_upload(client: Any, *, bucket: str, key: str, max_bytes: int) -> UploadedObject:
    """HEAD the uploaded object and check its size and type (at confirm).

    Raises:
        NotFound: nothing was uploaded under `key`.
        InvalidInput: the file is empty or not labelled as CSV (deleted).
        PayloadTooLarge: the file is over `max_bytes` (deleted).
        ServiceUnavailable: S3 kept failing after botocore's retries.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        head = client.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if _code(error) in {"404", "NoSuchKey", "NotFound"} or _status(error) == 404:
            raise NotFound(
                "No uploaded file was found for this dataset. Upload the file, then confirm."
            ) from error
        if _status(error) >= 500 or _code(error) in {"SlowDown", "ServiceUnavailable"}:
            raise storage_unavailable("checking the upload") from error
        raise ServiceUnavailable(
            f"File storage refused to check the upload ({_code(error) or 'error'})."
        ) from error
    except BotoCoreError as error:
        raise storage_unavailable("checking the upload") from error

    size = int(head.get("ContentLength") or 0)
    content_type = str(head.get("ContentType") or "")
    base_type = content_type.split(";", 1)[0].strip().lower()
    if size == 0:
        _delete_quietly(client, bucket, key)
        raise InvalidInput("The uploaded file is empty. Choose a CSV file with a header and rows.")
    if size > max_bytes:
        _delete_quietly(client, bucket, key)
        raise PayloadTooLarge(
            f"The uploaded file is {_megabytes(size)}; the limit is {_megabytes(max_bytes)}. "
            "Upload a smaller file (for example a sample of the rows).",
            {"size_bytes": size, "limit_bytes": max_bytes},
        )
    if base_type not in CSV_CONTENT_TYPES:
        _delete_quietly(client, bucket, key)
        raise InvalidInput(
            f"The uploaded file has type {content_type or 'unknown'!r}, not CSV. "
            f"Upload a .csv file sent as {CSV_CONTENT_TYPE}."
        )
    return UploadedObject(
        key=key, size=size, content_type=content_type, etag=str(head.get("ETag", "")).strip('"')
    )


def direct_upload_bucket(storage: Any) -> str | None:
    """The S3 bucket behind `storage`, which clients can upload to directly; None otherwise.

    Capability, not mode: any django-storages S3 storage has a bucket and a connection;
    a file-system storage has neither.
    """
    bucket = getattr(storage, "bucket_name", None)
    if not bucket or not hasattr(storage, "connection"):
        return None
    return str(bucket)


def upload_method(storage: Any) -> str:
    """How the upload page sends a file into `storage`: DIRECT_POST or FORM_POST."""
    return DIRECT_POST if direct_upload_bucket(storage) else FORM_POST


def stored_content_type(storage: Any, key: str) -> str | None:
    """The Content-Type S3 stored for `key` (one HEAD); None for storages without types.

    A file-system storage has no types (local uploads are checked from their bytes instead).
    """
    from botocore.exceptions import BotoCoreError, ClientError

    bucket = direct_upload_bucket(storage)
    if bucket is None:
        return None
    connection = storage.connection
    try:
        head = connection.meta.client.head_object(Bucket=bucket, Key=storage._normalize_name(key))
    except (BotoCoreError, ClientError) as error:
        raise storage_unavailable("checking the upload") from error
    return str(head.get("ContentType") or "")


def content_type_problem(storage: Any, key: str) -> str | None:
    """Why the stored upload is not acceptable as CSV by its type, or None when it is."""
    content_type = stored_content_type(storage, key)
    if content_type is None:
        return None
    if content_type.split(";", 1)[0].strip().lower() in CSV_CONTENT_TYPES:
        return None
    return (
        f"The uploaded file has type {content_type or 'unknown'!r}, not CSV. "
        f"Upload a .csv file sent as {CSV_CONTENT_TYPE}."
    )


def browser_post_target(*, bucket: str, key: str, max_bytes: int, expires_in: int) -> PresignedPost:
    """The presigned POST for the upload form, from the deployment's S3 client."""
    from automl_lite import wiring

    return presigned_post(
        wiring.boto3_client("s3"),
        bucket=bucket,
        key=key,
        max_bytes=max_bytes,
        expires_in=expires_in,
    )
