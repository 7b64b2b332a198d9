"""The application-error → message mapping of the HTML views, done once.

`@message_on_error("jobs:detail", "job_id")` on an action view: an `ApplicationError`
that leaves the view becomes the page's error message, and the browser goes back to
the record's page (`jobs:detail` with the view's `job_id`), where the message shows. A
plain POST gets a redirect; an htmx request a client redirect (`HX-Redirect`), so the
whole page is shown rather than swapped into the fragment that posted. Views that show
an error inside a fragment (htmx) catch it themselves and re-raise it for the rest.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect

from core.exceptions import ApplicationError

View = Callable[..., HttpResponse]


def message_on_error(to: str, *keys: str, anchor: str = "") -> Callable[[View], View]:
    """Turn an `ApplicationError` of the view into a message and a way back to `to`.

    Args:
        to: the URL name of the page to go back to.
        keys: the view's URL kwargs that `to` takes (e.g. "job_id").
        anchor: a fragment of that page to land on (e.g. "predict-file-card").
    """

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                return view(request, *args, **kwargs)
            except ApplicationError as exc:
                messages.error(request, exc.message)
                url = reverse(to, kwargs={key: kwargs[key] for key in keys})
                url = f"{url}#{anchor}" if anchor else url
                if getattr(request, "htmx", False):
                    return HttpResponseClientRedirect(url)
                return redirect(url)

        return wrapper

    return decorate
