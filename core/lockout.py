"""The answer to a sign-in refused by django-axes (too many failed attempts)."""

from __future__ import annotations

from typing import Any

from axes.helpers import get_cool_off, get_failure_limit
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from core.errors import wants_json


def lockout_message(request: HttpRequest, credentials: dict[str, Any] | None = None) -> str:
    limit = get_failure_limit(request, credentials)
    cool_off = get_cool_off(request)
    minutes = max(1, round(cool_off.total_seconds() / 60)) if cool_off else None
    wait = f"Try again in {minutes} minute{'s' if minutes != 1 else ''}" if minutes else "Wait"
    return (
        f"Too many failed sign-ins: after {limit} wrong passwords, signing in as this user from "
        f"this address is paused. {wait}, or ask an administrator to unlock it "
        "(Admin → Access attempts)."
    )


def lockout_response(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """429: the login page again with the reason above the form (JSON for scripts)."""
    from django.contrib.auth.forms import AuthenticationForm
    from django.http import JsonResponse

    message = lockout_message(request, credentials)
    if wants_json(request) or request.headers.get("X-Requested-With") == "XMLHttpRequest":
        return JsonResponse({"detail": message, "message": message, "extra": {}}, status=429)
    form = AuthenticationForm(request)
    context = {"form": form, "locked_out": message, "next": request.GET.get("next", "")}
    return render(request, "registration/login.html", context, status=429)
