"""Record ids (UUIDs): the `<id:…>` path converter of the pages, and the one check of an id
that comes in a body, a query or an API path.

Pages match ids in the URL: a malformed id never reaches a view (404). The API paths keep
`[^/]+` so their 404 names the resource, as the reference API's does ("Job not found");
the selectors check those ids with `is_valid_id`. Records store ids as str, so the
converter hands views a str.
"""

from __future__ import annotations

import uuid

from django.urls import register_converter
from django.urls.converters import UUIDConverter


def is_valid_id(value: object) -> bool:
    """Whether `value` is a UUID (every record id is): anything else is answered with 404."""
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


class IdConverter:
    """`<id:job_id>`: a lowercase hyphenated UUID (Django's `uuid` pattern), passed as str."""

    regex = UUIDConverter.regex

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: object) -> str:
        return str(value)


register_converter(IdConverter, "id")
