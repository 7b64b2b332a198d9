"""Raw-body file uploads (`PUT …/file`): what the body may be, and how it is stored.

The dataset upload and the batch upload both take the CSV as the request body. One rule
refuses bodies that are plainly something else (a 415 that says what to send instead of a
"file" stored from a client's JSON), and one function streams the body to storage under a
byte limit, so neither upload reads a file into memory or leaves half of one behind.
"""

from __future__ import annotations

import logging
from typing import IO

from django.core.files import File
from django.core.files.storage import Storage

from core.exceptions import (
    ApplicationError,
    InvalidInput,
    PayloadTooLarge,
    ServiceUnavailable,
    UnsupportedMediaType,
)

logger = logging.getLogger(__name__)

STREAM_CHUNK_BYTES = 1 << 20
EMPTY_FILE = "The file is empty. Send a CSV file with a header row and data rows."

NOT_A_FILE_TYPES = (
    "application/json",
    "application/xml",
    "text/xml",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
)


def check_file_body(content_type: str | None) -> None:
    """Raise UnsupportedMediaType when the body's type says it is not a file."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type in NOT_A_FILE_TYPES or media_type.endswith("+json"):
        raise UnsupportedMediaType(
            f"The body must be the CSV file itself (Content-Type: text/csv), not {media_type}."
        )


def megabytes(size: int) -> str:
    """A file size for a message: bytes, KB or MB."""
    if size < 1024:
        return f"{size:,} bytes"
    if size < 1024**2:
        return f"{size / 1024:,.1f} KB"
    return f"{size / 1024**2:,.1f} MB"


class LimitedReader:
    """A read-only stream that refuses to deliver more than `limit` bytes."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self._stream = stream
        self._limit = limit
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        want = STREAM_CHUNK_BYTES if size is None or size < 0 else size
        data = self._stream.read(want)
        self.count += len(data)
        if self.count > self._limit:
            raise PayloadTooLarge(
                f"The file is over the {megabytes(self._limit)} limit. Upload a smaller file "
                "(for example a sample of the rows).",
                {"limit_bytes": self._limit},
            )
        return data

    def chunks(self, chunk_size: int = STREAM_CHUNK_BYTES):  # noqa: ANN201 - an iterator
        while data := self.read(chunk_size):
            yield data


def save(storage: Storage, key: str, file: File | IO[bytes]) -> int:
    """Store `file` under exactly `key` (replacing an earlier file), streaming it."""
    if storage.exists(key):
        storage.delete(key)
    content = file if isinstance(file, File) else File(file, name=key.rsplit("/", 1)[-1])
    saved = storage.save(key, content)
    if saved != key:  # a storage that renames on collision would lose the record's key
        storage.delete(saved)
        raise OSError(f"storage saved {key!r} as {saved!r}")
    return storage.size(key)


def delete_quietly(storage: Storage, key: str | None) -> bool:
    """Delete `key`; False (and logged) when storage refused."""
    if not key:
        return True
    try:
        storage.delete(key)
    except Exception:  # reported by the caller where it matters
        logger.exception("Could not delete %s", key)
        return False
    return True


def store_body(*, storage: Storage, key: str, name: str, stream: IO[bytes], limit: int) -> int:
    """Stream a request body to `key`, at most `limit` bytes; returns its size.

    Nothing is kept when it fails: over the limit (PayloadTooLarge), empty (InvalidInput)
    or a storage error (ServiceUnavailable, "try the upload again").
    """
    try:
        size = save(storage, key, File(LimitedReader(stream, limit), name=name))
    except ApplicationError:
        delete_quietly(storage, key)
        raise
    except Exception:
        logger.exception("Storing an uploaded body under %s failed", key)
        delete_quietly(storage, key)
        raise ServiceUnavailable("The file could not be stored; try the upload again.") from None
    if size == 0:
        delete_quietly(storage, key)
        raise InvalidInput(EMPTY_FILE)
    return size
