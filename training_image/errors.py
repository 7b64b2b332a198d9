"""Exceptions that carry a message a user can act on.

The entrypoint maps them to the job record's `error_type` / `error_message`; any other
exception becomes an `internal` error whose details stay in the container log.
"""

from __future__ import annotations

from training_image.contract import ErrorType


class TrainingError(Exception):
    """An error whose message is safe and useful to show to the user."""

    error_type: str = ErrorType.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DataError(TrainingError):
    """The dataset cannot be trained on as given (bad file, unusable target, ...)."""

    error_type = ErrorType.DATA


class StorageError(TrainingError):
    """A file could not be read from or written to the storage."""

    error_type = ErrorType.INTERNAL


class JobCancelled(Exception):
    """The job left the `running` state while the container was working (e.g. cancelled)."""
