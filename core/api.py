"""DRF glue shared by every API: the exception handler."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import too_large_message
from core.exceptions import ApplicationError

logger = logging.getLogger(__name__)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Errors as `{"detail": message, "message": message, "extra": {...}}`.

    `detail` keeps the earlier edition's clients working; `message`/`extra` is ours.
    Validation errors answer 422 with a list, as the earlier edition did.
    """
    if isinstance(exc, ApplicationError):
        body = {"detail": exc.message, "message": exc.message, "extra": exc.extra}
        return Response(body, status=exc.status_code)
    if isinstance(exc, drf_exceptions.ValidationError):
        errors = _flatten(exc.detail)
        message = "; ".join(f"{e['loc']}: {e['msg']}" if e["loc"] else e["msg"] for e in errors)
        return Response(
            {"detail": errors, "message": message or "Invalid input", "extra": {}}, status=422
        )
    if isinstance(exc, RequestDataTooBig):
        message = too_large_message()
        return Response({"detail": message, "message": message, "extra": {}}, status=413)
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound(str(exc) or "Not found.")
    response = drf_exception_handler(exc, context)
    if response is not None:
        detail = response.data.get("detail") if isinstance(response.data, dict) else None
        if detail is not None:
            response.data = {"detail": str(detail), "message": str(detail), "extra": {}}
        return response
    logger.exception("Unhandled API error")
    return Response(
        {
            "detail": "Internal error: the failure was logged.",
            "message": "Internal error",
            "extra": {},
        },
        status=500,
    )


def _flatten(detail: Any, loc: str = "") -> list[dict[str, str]]:
    if isinstance(detail, dict):
        out: list[dict[str, str]] = []
        for key, value in detail.items():
            child = key if key != "non_field_errors" else ""
            out.extend(_flatten(value, f"{loc}.{child}".strip(".") if child else loc))
        return out
    if isinstance(detail, list):
        out = []
        for item in detail:
            out.extend(_flatten(item, loc))
        return out
    return [{"loc": loc, "msg": str(detail)}]
