"""The one exception the analyzer raises for a file it will not accept."""

from __future__ import annotations


class CsvRejected(Exception):
    """The file cannot be used as a dataset; `message` says why and what to do.

    Args:
        message: a complete sentence for the user (shown on the page and in the API).
        code: a stable machine-readable reason (empty, not_csv, no_rows, ragged_rows, ...).
        line: the 1-based line of the file the problem was found on, when known.
    """

    def __init__(self, message: str, *, code: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.line = line
