"""Dataset pages: list, upload, the configure page and its fragments, confirm, delete.

Thin function views: parse, call one service or selector, render. Every view reaches a
dataset through `core.access.dataset_for_user`, which answers 404 for another user's record.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from core.access import dataset_for_user
from core.exceptions import ApplicationError, InvalidInput
from core.pagination import Page
from core.view_errors import message_on_error
from datasets import selectors, services
from datasets.forms import BrowserUploadForm, UploadForm

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractUser
    from django_htmx.middleware import HtmxDetails

    class AuthenticatedHttpRequest(HttpRequest):
        user: AbstractUser
        htmx: HtmxDetails

else:
    AuthenticatedHttpRequest = HttpRequest

PAGE_SIZE = 24
# Multipart framing around the file: a request this much over the limit is refused unread.
MULTIPART_OVERHEAD = 64 * 1024


# --------------------------------------------------------------------------- list


@require_safe
@login_required
@vary_on_headers("HX-Request")
def dataset_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The user's datasets, newest first; "Load more" appends the next cards via htmx."""
    cursor = request.GET.get("cursor") or None
    try:
        page = selectors.dataset_list(user=request.user, limit=PAGE_SIZE, cursor=cursor)
    except InvalidInput as exc:
        messages.error(request, exc.message)
        page = Page()
    context = {"datasets": page.items, "next_cursor": page.next_cursor}
    if request.htmx and cursor:
        return render(request, "datasets/partials/dataset_rows.html", context)
    return render(request, "datasets/list.html", context)


# --------------------------------------------------------------------------- upload


def _upload_page(
    request: HttpRequest, form: UploadForm, *, status: int = 200, error: str | None = None
) -> HttpResponse:
    return render(
        request,
        "datasets/upload.html",
        {
            "form": form,
            "error": error,
            "max_bytes": services.max_upload_bytes(),
            "extensions": ", ".join(services.ALLOWED_EXTENSIONS),
            # The storage says whether upload.js sends the file straight to S3.
            "upload_method": services.browser_upload_method(),
        },
        status=status,
    )


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def dataset_upload(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The upload page; its POST stores the file, queues the analysis, opens the dataset."""
    if request.method in ("GET", "HEAD"):
        return _upload_page(request, UploadForm())
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if length > services.max_upload_bytes() + MULTIPART_OVERHEAD:
        # Refused before Django reads (and spools) the body.
        limit = services.max_upload_bytes() / 1024**2
        error = (
            f"The file is over the {limit:,.1f} MB limit. Upload a smaller file (for example "
            "a sample of the rows)."
        )
        return _upload_page(request, UploadForm(), status=413, error=error)
    form = UploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _upload_page(request, form, status=400)
    upload = form.cleaned_data["file"]
    try:
        dataset = services.dataset_create_upload(
            owner_id=str(request.user.pk), filename=upload.name, file=upload
        )
    except ApplicationError as exc:
        form.add_error("file", exc.message)
        return _upload_page(request, form, status=exc.status_code)
    try:
        services.dataset_confirm(dataset=dataset)
    except ApplicationError as exc:
        messages.error(request, exc.message)  # the file is kept: the page offers to retry
    return redirect("datasets:detail", dataset_id=dataset.dataset_id)


NO_STORE = "no-store"


@require_POST
@login_required
def dataset_upload_start(request: AuthenticatedHttpRequest) -> JsonResponse:
    """JSON for upload.js: a new dataset and where its file goes (a presigned S3 POST).

    The browser then sends the file there itself and POSTs the dataset's confirm URL.
    Errors answer `{"message", "extra"}` with the error's status code.
    """
    form = BrowserUploadForm(request.POST)
    if not form.is_valid():
        errors = {name: [str(e) for e in errs] for name, errs in form.errors.items()}
        first = next(iter(errors.values()))[0]
        return JsonResponse({"message": first, "extra": {"fields": errors}}, status=400)
    try:
        dataset, target = services.dataset_start_browser_upload(
            owner_id=str(request.user.pk),
            filename=form.cleaned_data["filename"],
            size=form.cleaned_data["size"],
            request=request,
        )
    except ApplicationError as exc:
        return JsonResponse({"message": exc.message, "extra": exc.extra}, status=exc.status_code)
    body = {
        "dataset_id": dataset.dataset_id,
        "filename": dataset.filename,
        "upload": {
            "method": target.method,
            "url": target.url,
            "fields": target.fields,
            "headers": target.headers,
            "expires_in": target.expires_in,
        },
        "max_bytes": services.max_upload_bytes(),
        "confirm_url": reverse("datasets:confirm", kwargs={"dataset_id": dataset.dataset_id}),
        "detail_url": reverse("datasets:detail", kwargs={"dataset_id": dataset.dataset_id}),
    }
    return JsonResponse(body, headers={"Cache-Control": NO_STORE})


# --------------------------------------------------------------------------- actions


@require_POST
@login_required
@message_on_error("datasets:detail", "dataset_id")
def dataset_confirm(request: AuthenticatedHttpRequest, dataset_id: str) -> HttpResponse:
    """Analyze the stored file (again): after a queueing failure or a failed analysis."""
    dataset = dataset_for_user(request, dataset_id)
    services.dataset_confirm(dataset=dataset)
    return redirect("datasets:detail", dataset_id=dataset.dataset_id)


@require_POST
@login_required
@message_on_error("datasets:detail", "dataset_id")
def dataset_delete(request: AuthenticatedHttpRequest, dataset_id: str) -> HttpResponse:
    """Delete the dataset and its file; refused (with a way through) while jobs use it."""
    dataset = dataset_for_user(request, dataset_id)
    force = request.POST.get("force") in ("1", "true", "on")
    services.dataset_delete(dataset=dataset, force=force)
    messages.success(request, f"Deleted {dataset.filename}.")
    if request.htmx:
        return HttpResponseClientRedirect(reverse("datasets:list"))
    return redirect("datasets:list")
