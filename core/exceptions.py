"""The application's one exception hierarchy.

Mapped once for the API (core.api.exception_handler) and once for HTML views
(a message on the page), so raw exception text never reaches a user.
"""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """An error whose message is safe and useful to show to the user."""

    status_code = 400

    def __init__(self, message: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class NotFound(ApplicationError):
    status_code = 404


class InvalidTransition(ApplicationError):
    """A conditional status write found the record in another state."""

    status_code = 409


class AlreadyExists(ApplicationError):
    status_code = 409


class InvalidInput(ApplicationError):
    status_code = 400


class PayloadTooLarge(ApplicationError):
    status_code = 413


class LengthRequired(ApplicationError):
    status_code = 411


class UnsupportedMediaType(ApplicationError):
    status_code = 415


class ServiceUnavailable(ApplicationError):
    """A backing service (storage, table, runner) failed after safe retries."""

    status_code = 503
