from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def product(request: HttpRequest) -> dict[str, object]:
    return {
        "AUTOML_BACKEND": settings.AUTOML_BACKEND,
        "AUTOML_LOCAL_AUTO_LOGIN": settings.AUTOML_LOCAL_AUTO_LOGIN,
    }
