"""Request guards (bad bodies never reach a view), local single-user sign-in and CORS."""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.http import HttpRequest, HttpResponse

from core.errors import error_response, too_large_message

LOOPBACK = {"127.0.0.1", "::1"}

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# Deeper than any request of the product (3 levels); far below Python's recursion limit.
MAX_JSON_DEPTH = 32
_SURROGATE = re.compile("[\ud800-\udfff]")
SURROGATE_MESSAGE = (
    "The JSON body holds a lone surrogate (an unpaired \\ud800-\\udfff escape), which is not "
    "text. Send the text as UTF-8."
)
EMPTY_ERROR_MESSAGES = {
    400: "The request could not be understood.",
    404: "There is nothing at this address.",
    405: "This address does not accept {method} requests.",
    411: "Send the body with a Content-Length header (chunked transfer is not accepted).",
    413: "The request body is too large.",
    415: "The body's content type is not accepted here.",
}


def media_type(request: HttpRequest) -> str:
    return (request.content_type or "").split(";")[0].strip().lower()


def form_problem(raw: bytes) -> str | None:
    """Why a url-encoded body is refused (its text is not UTF-8), or None.

    Django would decode invalid bytes as U+FFFD and store the garbled text.
    """
    try:
        for part in raw.split(b"&"):
            urllib.parse.unquote_to_bytes(part.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return "The form data is not valid UTF-8 text. Send the form from the page again."
    return None


def json_problem(raw: bytes) -> str | None:
    """Why `raw` is not a JSON body we accept (malformed, too deep, lone surrogates), or None."""
    try:
        value = json.loads(raw)
    except RecursionError:
        return "The JSON body is nested too deeply."
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        return f"The body is not valid JSON ({exc})."
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if depth > MAX_JSON_DEPTH:
                return f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep."
            for key, child in item.items():
                if _SURROGATE.search(key):
                    return SURROGATE_MESSAGE
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            if depth > MAX_JSON_DEPTH:
                return f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep."
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str) and not item.isascii() and _SURROGATE.search(item):
            return SURROGATE_MESSAGE
    return None


class RequestGuardMiddleware:
    """Bad request bodies get a 4xx with a message before any view (or CSRF) reads them.

    - JSON and url-encoded bodies over DATA_UPLOAD_MAX_MEMORY_SIZE: 413 (files go as
      multipart or as a raw stream, which their views size themselves);
    - a JSON body that is malformed, nested over MAX_JSON_DEPTH or holds lone surrogates
      (which no database or encoder takes), or a form whose text is not UTF-8: 400;
    - a page (not /api/, not /admin/) sent a body other than a form: 415;
    - a 4xx answer without a body (405 of `require_http_methods`, ...) gets its message.

    JSON for the API, the product's error page for pages (`core.errors`).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refused = self.check(request)
        response = refused or self.get_response(request)
        if (
            400 <= response.status_code < 500
            and not response.streaming
            and not response.content
            and request.method != "HEAD"
        ):
            template = EMPTY_ERROR_MESSAGES.get(response.status_code, "The request was refused.")
            filled = error_response(
                request, response.status_code, template.format(method=request.method)
            )
            for header in ("Allow", "WWW-Authenticate", "Vary"):
                if header in response:
                    filled[header] = response[header]
            return filled
        return response

    def check(self, request: HttpRequest) -> HttpResponse | None:
        if request.method not in BODY_METHODS:
            return None
        kind = media_type(request)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return error_response(request, 400, "Content-Length must be a whole number of bytes.")
        if length <= 0:
            return None
        is_json = kind == "application/json" or kind.endswith("+json")
        in_memory = is_json or kind == "application/x-www-form-urlencoded"
        if in_memory and length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            return error_response(request, 413, too_large_message())
        if is_json or kind == "application/x-www-form-urlencoded":
            problem = (json_problem if is_json else form_problem)(request.body)
            if problem:
                return error_response(request, 400, problem)
        if (
            not request.path.startswith(("/api/", "/admin/"))
            and kind not in FORM_TYPES
            and request.method != "DELETE"
        ):
            return error_response(
                request,
                415,
                f"This page takes a form (url-encoded or multipart), not {kind or 'an untyped body'}.",
            )
        return None


class LocalAutoLoginMiddleware:
    """Sign in the local user for requests from this machine when local mode allows it.

    Only active with AUTOML_LOCAL_AUTO_LOGIN (default on in local mode, refused in
    AWS mode) and only for loopback clients, so a server bound to 0.0.0.0 still
    asks everyone else to log in.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            settings.AUTOML_LOCAL_AUTO_LOGIN
            and not request.user.is_authenticated
            and request.META.get("REMOTE_ADDR") in LOOPBACK
            and "HTTP_AUTHORIZATION" not in request.META
            and not request.path.startswith(("/accounts/logout", "/admin/logout"))
        ):
            user, created = get_user_model().objects.get_or_create(
                username=settings.AUTOML_LOCAL_USERNAME,
                defaults={"is_staff": True, "is_superuser": True},
            )
            if created:
                user.set_unusable_password()
                user.save(update_fields=["password"])
            if request.path.startswith("/api/"):
                # Script clients keep no cookies: a session per call would only pile up rows.
                request.user = user
            else:
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        return self.get_response(request)


class CorsMiddleware:
    """CORS for the configured origins only; never `*` together with credentials.

    PUT is allowed because the earlier edition's client PUTs the CSV to `upload_url`
    (in local mode our own `/api/datasets/<id>/file`) from its own origin.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        origin = request.headers.get("Origin")
        allowed = origin is not None and origin in settings.CORS_ALLOWED_ORIGINS
        if allowed and request.method == "OPTIONS" and request.path.startswith("/api/"):
            response = HttpResponse(status=204)
        else:
            response = self.get_response(request)
        if allowed:
            response["Access-Control-Allow-Origin"] = origin
            response["Access-Control-Allow-Credentials"] = "true"
            response["Access-Control-Allow-Headers"] = (
                "Authorization, Content-Type, If-None-Match, X-CSRFToken, Idempotency-Key"
            )
            response["Access-Control-Allow-Methods"] = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
            response["Access-Control-Expose-Headers"] = "ETag"
            response["Vary"] = ", ".join(filter(None, [response.get("Vary"), "Origin"]))
        return response
