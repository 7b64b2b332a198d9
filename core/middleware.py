"""Local single-user sign-in and configurable CORS."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.http import HttpRequest, HttpResponse

LOOPBACK = {"127.0.0.1", "::1"}


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
