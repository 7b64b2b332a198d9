"""API authentication for local single-user mode.

Scripts and the earlier edition's client call the API with no credentials and no
CSRF token. In local mode, requests from this machine are already signed in as the
local user by `LocalAutoLoginMiddleware`; DRF's session authentication would still
demand a CSRF token from them. CSRF protects a browser's cookies against other
sites, so this class accepts the local user only when the request cannot be such a
cross-site request: it carries no `Origin` (not sent by a browser's cross-site
request) or an origin this server trusts (its own host or a configured CORS origin).
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from core.middleware import LOOPBACK


def _trusted_origin(request: Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    own = f"{request.scheme}://{request.get_host()}"
    return origin == own or origin in settings.CORS_ALLOWED_ORIGINS


class LocalUserAuthentication(BaseAuthentication):
    """The auto-signed-in local user, for loopback API clients without credentials."""

    def authenticate(self, request: Request):  # DRF's signature
        user = getattr(request._request, "user", None)
        if (
            settings.AUTOML_LOCAL_AUTO_LOGIN
            and user is not None
            and user.is_authenticated
            and user.get_username() == settings.AUTOML_LOCAL_USERNAME
            and request.META.get("REMOTE_ADDR") in LOOPBACK
            and "HTTP_AUTHORIZATION" not in request.META
            and _trusted_origin(request)
        ):
            return (user, None)
        return None
