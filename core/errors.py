"""Error answers made outside a view: a JSON body for the API, a page for everyone else.

Used by `core.middleware.RequestGuardMiddleware` (bad bodies, empty 4xx answers) and by
Django's `handler400` (a body over DATA_UPLOAD_MAX_MEMORY_SIZE found while parsing).
"""

from __future__ import annotations

from http import HTTPStatus

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string


def wants_json(request: HttpRequest) -> bool:
    """The API, and script callers of pages that answer JSON (upload.js)."""
    if request.path.startswith("/api/"):
        return True
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def error_response(request: HttpRequest, status: int, message: str) -> HttpResponse:
    """`{"detail", "message", "extra"}` (the API's error shape) or the product's error page."""
    if wants_json(request):
        body = {"detail": message, "message": message, "extra": {}}
        return JsonResponse(body, status=status)
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Request refused"
    html = render_to_string(
        "error.html", {"status": status, "title": title, "message": message}, request=request
    )
    return HttpResponse(html, status=status, content_type="text/html; charset=utf-8")


def too_large_message() -> str:
    from django.conf import settings

    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE // (1024 * 1024)
    return (
        f"The request body is over the {limit} MB limit for form and JSON data. "
        "Send files as a file upload (multipart/form-data), or the dataset file to its upload URL."
    )


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """`handler400`: 413 for a body over the limit, else 400 with the usual message."""
    if isinstance(exception, RequestDataTooBig):
        return error_response(request, 413, too_large_message())
    return error_response(
        request,
        400,
        "The request could not be understood. Check the address or the form and try again.",
    )
