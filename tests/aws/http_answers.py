"""Fake HTTP answers for botocore's `before-send` hook (a server error without a server)."""

from __future__ import annotations

from typing import Any

from botocore.awsrequest import AWSResponse


class _RawBody:
    """The bytes of an answer, shaped like the urllib3 response botocore reads."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any):  # a generator of bytes
        yield self._data

    def read(self, *_: Any) -> bytes:
        return self._data


def server_error(request: Any, body: bytes = b"") -> AWSResponse:
    """A 500 answer to `request` with `body`, as a failing AWS endpoint would send."""
    return AWSResponse(request.url, 500, {}, _RawBody(body))
