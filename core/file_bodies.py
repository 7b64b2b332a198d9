"""What a raw-body file upload (`PUT …/file`) may be: the file itself, never a form or JSON.

The dataset upload and the batch upload both take the CSV as the request body; one rule
refuses bodies that are plainly something else, so a client's mistake is a 415 that says
what to send instead of a "file" stored from its JSON.
"""

from __future__ import annotations

from core.exceptions import UnsupportedMediaType

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
