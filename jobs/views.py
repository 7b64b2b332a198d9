"""Job pages: list, detail (progress / failure / results), actions, downloads and reports.

Thin function views: parse, call one service or selector, render. Every view reaches
a job through `core.access.job_for_user`, which answers 404 for another user's job.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST, require_safe
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import (
    HttpResponseClientRedirect,
    HttpResponseClientRefresh,
    trigger_client_event,
)

from automl_lite import wiring
from core.access import batch_for_user, dataset_for_user, job_for_user
from core.exceptions import ApplicationError, InvalidInput
from core.pagination import Page
from core.view_errors import message_on_error
from jobs import configure, inference, links, pages, playground, selectors, services, snippets
from jobs.forms import TrainForm
from jobs.repository import JobFilter
from training_image import drift
from training_image.contract import (
    ARTIFACT_CONTENT_TYPES,
    ARTIFACT_STORAGE,
    METRIC_LABELS,
    METRICS,
    MODEL_ONNX,
    PROBLEM_TYPES,
    Dataset,
    Job,
    JobStatus,
    PredictionBatch,
)

logger = logging.getLogger(__name__)

PAGE_SIZE = 20
BATCH_HISTORY = 20  # batches shown on the results page, newest first


def _back_to(request: HttpRequest, job: Job) -> HttpResponse:
    return redirect("jobs:detail", job_id=job.job_id)


# --------------------------------------------------------------------------- configure + create


def _job_to_copy(request: HttpRequest, dataset: Dataset) -> Job | None:
    """The finished run of this dataset named by `?from_job=`, if the user may see it."""
    job_id = request.GET.get("from_job")
    if not job_id or request.method != "GET":
        return None
    try:
        job = job_for_user(request, job_id)
    except Http404:
        job = None
    if job is None or job.dataset_id != dataset.dataset_id or not job.is_terminal:
        messages.warning(
            request, "That run cannot be copied (it is gone or unfinished): the form starts fresh."
        )
        return None
    return job


def _render_configure(
    request: HttpRequest,
    *,
    dataset_id: str,
    train_form: TrainForm | None = None,
    status: int = 200,
) -> HttpResponse:
    """The configure page of a dataset the user may see (also with a bound, invalid form).

    `?from_job=<id>` starts the form from a finished run's settings ("Train again").
    """
    dataset = dataset_for_user(request, dataset_id)
    context = configure.configure_context(
        dataset,
        train_form=train_form,
        target=request.GET.get("target") or request.GET.get("target_column"),
        jobs=selectors.jobs_for_dataset(dataset=dataset),
        from_job=_job_to_copy(request, dataset),
        # "Exclude and train again" (a leakage warning): the run's settings minus a column.
        also_exclude=request.GET.getlist("exclude"),
    )
    return render(request, "jobs/configure.html", context, status=status)


@require_safe
@login_required
def job_configure(request: HttpRequest, dataset_id: str) -> HttpResponse:
    """The configure page (`datasets:detail`): analysis, columns, target and training options."""
    return _render_configure(request, dataset_id=dataset_id)


@require_safe
@login_required
@vary_on_headers("HX-Request")
def job_configure_analysis(request: HttpRequest, dataset_id: str) -> HttpResponse:
    """The analysis card, polled every 2 s while analyzing; the training form once ready."""
    dataset = dataset_for_user(request, dataset_id)
    context = configure.configure_context(dataset, jobs=selectors.jobs_for_dataset(dataset=dataset))
    return render(request, "jobs/partials/configure.html", context)


@require_safe
@login_required
def job_configure_target(request: HttpRequest, dataset_id: str) -> HttpResponse:
    """The target card for `?target=` (and `problem_type`, `metric`): swapped on change."""
    dataset = dataset_for_user(request, dataset_id)
    info = configure.target_context(
        dataset,
        request.GET.get("target_column") or request.GET.get("target"),
        problem_type=request.GET.get("problem_type"),
        metric=request.GET.get("metric"),
        time_budget=request.GET.get("time_budget"),
    )
    context = {
        "target_info": info,
        "time_budget": request.GET.get("time_budget", ""),
        "seed": request.GET.get("seed", ""),
        "ensemble": (request.GET.getlist("ensemble") or ["1"])[-1] != "0",
    }
    return render(request, "jobs/partials/target.html", context)


@require_POST
@login_required
def job_create(request: HttpRequest) -> HttpResponse:
    """Start a training run from the configure page; errors re-render that page."""
    # With the dataset the form checks the columns, so errors show next to their field.
    dataset = dataset_for_user(request, str(request.POST.get("dataset_id", "")))
    form = TrainForm(request.POST, dataset=dataset)
    if form.is_valid():
        data = form.cleaned_data
        try:
            job = services.job_create(
                owner_id=str(request.user.pk),
                dataset_id=str(data["dataset_id"]),
                target_column=data["target_column"],
                problem_type=data.get("problem_type") or None,
                metric=data.get("metric") or None,
                time_budget=data.get("time_budget"),
                excluded_columns=data.get("excluded_columns") or [],
                class_names=data.get("class_names") or {},
                idempotency_key=data.get("idempotency_key") or None,
                seed=data.get("seed"),
                ensemble=data.get("ensemble", True),
                kept_columns=data.get("kept_columns") or [],
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            if job.status == JobStatus.FAILED:
                messages.error(request, job.error_message or "The job could not be started.")
            return redirect("jobs:detail", job_id=job.job_id)
    # The configure page again, with the bound form and its errors.
    return _render_configure(request, dataset_id=dataset.dataset_id, train_form=form, status=400)


# --------------------------------------------------------------------------- list


HOME_RECENT = 5


def _notifications_context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    return {
        "notify_on": services.notifications_enabled(user_id=request.user.pk),
        "notify_email": request.user.email,
        **extra,
    }


@require_POST
@login_required
def job_notifications(request: HttpRequest) -> HttpResponse:
    """Turn run emails on or off (`email_on_finish`, `email`); htmx gets the card back."""
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    on = request.POST.get("email_on_finish") in ("1", "true", "on")
    email = request.POST.get("email", "").strip()
    error = None
    if on and not email:
        error = "Give the address the emails should go to."
    elif email:
        try:
            validate_email(email)
        except ValidationError:
            error = f"“{email}” is not an email address."
    if error is None:
        services.notification_set(user_id=request.user.pk, email_on_finish=on, email=email or None)
    if request.htmx:
        context = _notifications_context(
            request, notify_error=error, notify_saved=error is None, notify_typed=email
        )
        if error:
            context["notify_on"] = on
        return render(
            request, "jobs/partials/notifications.html", context, status=400 if error else 200
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(request, "Run emails are on." if on else "Run emails are off.")
    return redirect("jobs:list")


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    """The first page: what the product does, its three steps, and the user's recent runs."""
    context: dict[str, Any] = {"recent": [], "stats": None}
    if request.user.is_authenticated:
        context["recent"] = selectors.job_list(user=request.user, limit=HOME_RECENT).items
        context["stats"] = {
            "runs": wiring.job_repository().count_for_owner(str(request.user.pk)),
        }
    return render(request, "home.html", context)


FILTER_PARAMS = ("q", "status", "problem_type", "dataset_id", "tag")


def _filter_values(request: HttpRequest) -> dict[str, str]:
    """The history filters as the user typed them (for the form and for links)."""
    return {name: request.GET.get(name, "").strip() for name in FILTER_PARAMS}


@require_safe
@login_required
@vary_on_headers("HX-Request")
def job_list(request: HttpRequest) -> HttpResponse:
    """The user's jobs, newest first, kept to the filters in the URL.

    htmx gets fragments: "Load more" the next rows, the filter form the results card.
    """
    from datasets.selectors import dataset_list

    cursor = request.GET.get("cursor") or None
    values = _filter_values(request)
    filters = None
    error = None
    try:
        filters = JobFilter.build(**values)
        page = selectors.job_list(
            user=request.user, limit=PAGE_SIZE, cursor=cursor, filters=filters
        )
    except InvalidInput as exc:
        if request.htmx and cursor:
            return HttpResponse(exc.message, status=400)
        error, page = exc.message, Page()
    context = {
        "jobs": page.items,
        "next_cursor": page.next_cursor,
        "filters": values,
        "filtered": bool(filters) or error is not None,
        "filter_query": urlencode({k: v for k, v in values.items() if v}),
        "filter_error": error,
        "status_choices": [str(s) for s in JobStatus],
        "problem_choices": PROBLEM_TYPES,
    }
    status = 400 if error else 200
    if request.htmx and cursor:
        return render(request, "jobs/partials/job_rows.html", context)
    if request.htmx and request.htmx.target == "job-results":
        return render(request, "jobs/partials/job_results.html", context, status=status)
    context["stats"] = selectors.job_stats(user=request.user)
    context.update(_notifications_context(request))
    if request.htmx and request.htmx.target == "history-stats":
        return render(request, "jobs/partials/history_stats.html", context)
    context["datasets"] = dataset_list(user=request.user, limit=100).items
    return render(request, "jobs/list.html", context, status=status)


PICKER_SIZE = 60


@require_safe
@login_required
def job_compare(request: HttpRequest) -> HttpResponse:
    """Two to four jobs side by side: `?ids=a&ids=b` (the history's ticks) or `?ids=a,b`.

    Without ids, or with the wrong number of them, the picker: the user's finished runs.
    """
    job_ids = [part for value in request.GET.getlist("ids") for part in value.split(",")]
    error = None
    if job_ids:
        try:
            jobs = selectors.jobs_to_compare(job_ids=job_ids, user=request.user)
        except InvalidInput as exc:
            error = exc.message
        else:
            evaluations = [selectors.job_evaluation(job=job) for job in jobs]
            cards = [selectors.job_model_card(job=job) for job in jobs]
            return render(
                request, "jobs/compare.html", pages.compare_context(jobs, evaluations, cards)
            )
    runs = selectors.job_list(
        user=request.user, limit=PICKER_SIZE, filters=JobFilter(status=str(JobStatus.COMPLETED))
    ).items
    context = {
        "runs": runs,
        "picked": {i.strip() for i in job_ids},
        "compare_error": error,
        "max_compared": selectors.MAX_COMPARED,
    }
    return render(request, "jobs/compare_pick.html", context, status=400 if error else 200)


# --------------------------------------------------------------------------- detail


def _detail_context(request: HttpRequest, job: Job, **extra: Any) -> dict[str, Any]:
    context: dict[str, Any] = {
        "job": job,
        "dataset": selectors.job_dataset(job=job),
        "progress": pages.progress_context(job),
        "timeline": pages.timeline_context(job),
        "metric_label": METRIC_LABELS.get(job.metric or "", job.metric),
        "metric_choices": METRICS.get(job.problem_type or "", ()),
        "cost": selectors.job_cost(job),
    }
    if job.status in (JobStatus.FAILED, JobStatus.CANCELLED):
        context["failure"] = pages.failure_context(job)
    if job.status == JobStatus.COMPLETED:
        evaluation = selectors.job_evaluation(job=job)
        context["evaluation"] = evaluation
        context["results"] = pages.results_context(job, evaluation)
        context["downloads"] = [name for name in links.DOWNLOADS if name in (job.artifacts or {})]
        context["reports"] = [name for name in links.REPORTS if name in (job.artifacts or {})]
        context.update(_prediction_form_context(job))
        context["batch_rows"] = batch_rows(request, job)
        context["batch_upload_method"] = batch_upload_method()
    context.update(extra)
    return context


def batch_upload_method() -> str:
    """How the page sends a file to score: `presigned-post` straight to the bucket behind
    the datasets storage, or `form` (the multipart POST the web streams to storage)."""
    from datasets.services import browser_upload_method

    return browser_upload_method()


def _prediction_form_context(
    job: Job,
    *,
    inputs: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    warnings: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Form fields from the model card; an unreadable card just hides the form."""
    card = selectors.job_model_card(job=job)
    if not card:
        return {"predict_fields": None}
    try:
        spec = inference.model_spec(card)
    except ApplicationError:
        return {"predict_fields": None}
    usage = {"pickle": snippets.pickle_snippet(job, spec.feature_columns)}
    if MODEL_ONNX in (job.artifacts or {}):
        usage["onnx"] = snippets.onnx_snippet(job)
    return {
        "predict_fields": spec.features,
        "predict_form": playground.playground_fields(spec.features, inputs, errors, warnings),
        "snippets": usage,
        "model_card": card,
        "predict_file_limits": {
            "max_bytes": settings.AUTOML_MAX_PREDICT_BYTES,
            "max_rows": settings.AUTOML_MAX_PREDICT_ROWS,
        },
    }


@require_safe
@login_required
def job_detail(request: HttpRequest, job_id: str) -> HttpResponse:
    """One job: live progress, what went wrong, or the results."""
    job = job_for_user(request, job_id)
    # `?batch=<id>`: the batch just sent from the page, marked in the history.
    context = _detail_context(request, job, new_batch_id=request.GET.get("batch") or "")
    return render(request, "jobs/detail.html", context)


@require_safe
@login_required
@vary_on_headers("HX-Request")
def job_progress(request: HttpRequest, job_id: str) -> HttpResponse:
    """The progress card, polled every 2 s while the job is live.

    When a page that was polling sees the job finish, htmx reloads it (HX-Refresh) so
    the results or the failure report replace the card.
    """
    job = job_for_user(request, job_id)
    # The timeline rides along (out of band), so "Started —" fills in by itself.
    context = {"progress": pages.progress_context(job), "timeline": pages.timeline_context(job)}
    if request.htmx and request.GET.get("live") and job.is_terminal:
        return HttpResponseClientRefresh()
    return render(request, "jobs/partials/progress.html", context)


# --------------------------------------------------------------------------- actions


@require_POST
@login_required
@message_on_error("jobs:detail", "job_id")
def job_cancel(request: HttpRequest, job_id: str) -> HttpResponse:
    """Cancel a live job; htmx reloads the page, others get redirected to it."""
    job = services.job_cancel(job=job_for_user(request, job_id))
    messages.success(request, "The job was cancelled.")
    if request.htmx:
        return HttpResponseClientRefresh()
    return _back_to(request, job)


@require_POST
@login_required
@message_on_error("jobs:detail", "job_id")
def job_resubmit(request: HttpRequest, job_id: str) -> HttpResponse:
    """Run a failed job again (attempt + 1), then show it."""
    job = services.job_resubmit(job=job_for_user(request, job_id))
    if job.status == JobStatus.FAILED:
        messages.error(request, job.error_message or "The job could not be started.")
    else:
        messages.success(request, f"Resubmitted: attempt {job.attempt}.")
    return _back_to(request, job)


@require_POST
@login_required
@message_on_error("jobs:detail", "job_id")
def job_delete(request: HttpRequest, job_id: str) -> HttpResponse:
    """Delete a job and its files (its dataset too with `delete_data`), then list jobs."""
    job = job_for_user(request, job_id)
    delete_data = request.POST.get("delete_data") in ("1", "true", "on")
    summary = services.job_delete(job=job, delete_data=delete_data)
    note = f" Kept {', '.join(summary.kept_resources)}." if summary.kept_resources else ""
    done = f"Deleted the job and {len(summary.deleted_resources)} files.{note}"
    if request.htmx and request.POST.get("from") == "list":
        # A history row: it becomes a note; the tiles above the table refresh themselves.
        context = {"job": job, "message": done}
        response = render(request, "jobs/partials/job_row_deleted.html", context)
        return trigger_client_event(response, "jobs-changed")
    messages.success(request, done)
    if request.htmx:
        return HttpResponseClientRedirect(reverse("jobs:list"))
    return redirect("jobs:list")


@require_POST
@login_required
@message_on_error("jobs:detail", "job_id")
def job_meta(request: HttpRequest, job_id: str) -> HttpResponse:
    """Save tags (comma separated) and notes; htmx gets the card back."""
    job = job_for_user(request, job_id)
    raw_tags = request.POST.get("tags", "")
    tags = [t for t in (part.strip() for part in raw_tags.split(",")) if t]
    try:
        job = services.job_update_meta(job=job, tags=tags, notes=request.POST.get("notes", ""))
    except ApplicationError as exc:
        if not request.htmx:
            raise  # the message, back on the job's page
        context = {
            "job": job,
            "meta_error": exc.message,
            "meta_saved": False,
            "tags_value": raw_tags,
            "notes_value": request.POST.get("notes", ""),
        }
        return render(request, "jobs/partials/meta.html", context, status=400)
    if request.htmx:
        context = {"job": job, "meta_error": None, "meta_saved": True}
        return render(request, "jobs/partials/meta.html", context)
    messages.success(request, "Saved tags and notes.")
    return _back_to(request, job)


@require_POST
@login_required
@message_on_error("jobs:detail", "job_id")
def job_deploy(request: HttpRequest, job_id: str) -> HttpResponse:
    """Deploy or undeploy (`deploy=1|0`); htmx gets the deployment card back."""
    job = job_for_user(request, job_id)
    error = None
    try:
        job = services.job_deploy(job=job, deploy=request.POST.get("deploy") in ("1", "true", "on"))
    except ApplicationError as exc:
        if not request.htmx:
            raise  # the message, back on the job's page
        error = exc.message
    if request.htmx:
        context = {"job": job, "deploy_error": error, **_prediction_form_context(job)}
        return render(request, "jobs/partials/deploy.html", context, status=400 if error else 200)
    messages.success(request, "Model deployed." if job.deployed else "Model undeployed.")
    return _back_to(request, job)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def job_predict(request: HttpRequest, job_id: str) -> HttpResponse:
    """Score the playground's row; htmx gets the playground back, others the whole page.

    A refused row comes back with each problem next to its field and no prediction (an old
    one never stays on screen). A GET (a reload after a no-JavaScript POST) goes to the form.
    """
    job = job_for_user(request, job_id)
    if request.method in ("GET", "HEAD"):
        return redirect(reverse("jobs:detail", kwargs={"job_id": job.job_id}) + "#deploy-card")
    features = playground.form_features(request.POST)
    result, error, errors, status = None, None, {}, 200
    try:
        result = services.job_predict(job=job, features=features, explain=True)
    except InvalidInput as exc:
        errors = playground.by_feature(exc.extra.get("errors"))
        error = None if errors else exc.message
        status = 400
    except ApplicationError as exc:
        # The model itself failed: say so on the page (503: try again), never a 500 page.
        error, status = exc.message, 503 if exc.status_code >= 500 else exc.status_code
    warnings = playground.by_feature((result or {}).get("warnings"))
    context = {
        "prediction": result,
        "explanation": playground.explanation_bars(result),
        "prediction_error": error,
        "field_errors": errors,
        **_prediction_form_context(job, inputs=features, errors=errors, warnings=warnings),
    }
    if request.htmx:
        return render(
            request, "jobs/partials/playground.html", {"job": job, **context}, status=status
        )
    if error and not (job.deployed and context.get("predict_form")):
        messages.error(request, error)  # the page shows no playground to put it in
    return render(
        request, "jobs/detail.html", _detail_context(request, job, **context), status=status
    )


@require_POST
@login_required
def job_predict_file(request: HttpRequest, job_id: str) -> HttpResponse:
    """Score an uploaded CSV as a prediction batch, then show its progress on the page.

    The form's multipart upload (the page without a direct-to-storage upload, or without
    JavaScript) is streamed to storage and confirmed here; the worker scores it and the
    batch history on the results page shows its progress. Errors re-render the page at
    the form.
    """
    from jobs.services.batches import batch_score_upload

    job = job_for_user(request, job_id)
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise InvalidInput("Choose a CSV file to score.")
        batch = batch_score_upload(
            job=job, owner_id=str(request.user.pk), uploaded_file=upload, request=request
        )
    except ApplicationError as exc:
        context = _detail_context(request, job, predict_file_error=exc.message)
        if not (context.get("predict_fields") and MODEL_ONNX in (job.artifacts or {})):
            messages.error(request, exc.message)  # the page shows no form to put it beside
        return render(request, "jobs/detail.html", context, status=exc.status_code)
    url = reverse("jobs:detail", kwargs={"job_id": job.job_id})
    return redirect(f"{url}?batch={batch.batch_id}#predict-file-card")


# --------------------------------------------------------------------------- prediction batches


def _batch_context(request: HttpRequest, job: Job, batch: PredictionBatch) -> dict[str, Any]:
    from jobs.services.batches import batch_download_url

    return {
        "job": job,
        "batch": batch,
        "download_url": batch_download_url(request=request, job=job, batch=batch),
    }


def batch_rows(request: HttpRequest, job: Job) -> list[dict[str, Any]]:
    """The batch history of the results page: newest first, each with its download link."""
    try:
        page = selectors.batch_list(job=job, limit=BATCH_HISTORY)
    except ApplicationError:
        logger.exception("Listing the batches of job %s failed", job.job_id)
        return []
    return [_batch_context(request, job, batch) for batch in page.items]


@require_safe
@login_required
def job_batch(request: HttpRequest, job_id: str, batch_id: str) -> HttpResponse:
    """One row of the batch history, polled every 2 s while the batch is queued or scoring."""
    job = job_for_user(request, job_id)
    batch = batch_for_user(request, job, batch_id)
    context = {"job": job, "row": _batch_context(request, job, batch)}
    return render(request, "jobs/partials/batch.html", context)


@require_safe
def job_batch_download(request: HttpRequest, job_id: str, batch_id: str) -> HttpResponse:
    """The batch's result CSV: a valid signed link or the owner's session.

    With S3 storage this redirects to a presigned GET, so the bytes never pass through us.
    """
    from jobs.services.batches import batch_direct_url, batch_link_valid, batch_open_result

    if request.GET.get("signature"):
        job = wiring.job_repository().get(job_id)
        batch = wiring.batch_repository().get(batch_id)
        if (
            job is None
            or batch is None
            or batch.job_id != job.job_id
            or not batch_link_valid(
                job=job,
                batch=batch,
                expires=request.GET.get("expires"),
                signature=request.GET.get("signature"),
            )
        ):
            raise Http404("This download link is invalid or has expired")
    elif not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    else:
        job = job_for_user(request, job_id)
        batch = batch_for_user(request, job, batch_id)
    if direct := batch_direct_url(job=job, batch=batch):
        return redirect(direct)
    try:
        result = batch_open_result(job=job, batch=batch)
    except ApplicationError as exc:
        raise Http404(exc.message) from None
    return _private(
        FileResponse(
            result.file,
            as_attachment=True,
            filename=result.filename,
            content_type="text/csv; charset=utf-8",
        )
    )


@require_safe
@login_required
def job_batch_validation(request: HttpRequest, job_id: str, batch_id: str) -> HttpResponse:
    """A validation file's metrics beside the test split's, and each feature's drift."""
    from jobs.services.batches import batch_validation, validation_missing

    job = job_for_user(request, job_id)
    batch = batch_for_user(request, job, batch_id)
    try:
        report = batch_validation(batch)
    except ApplicationError as exc:
        report, problem = None, exc.message
    else:
        problem = None if report is not None else validation_missing(job, batch)
    context = {
        "job": job,
        "row": _batch_context(request, job, batch),
        "report": report,
        "problem": problem,
        "drift_bands": {"moderate": drift.MODERATE, "major": drift.MAJOR},
    }
    return render(request, "jobs/validation.html", context, status=200 if report else 404)


@require_POST
@login_required
@message_on_error("jobs:detail", "job_id", anchor="predict-file-card")
def job_batch_delete(request: HttpRequest, job_id: str, batch_id: str) -> HttpResponse:
    """Delete a batch and its files; htmx removes its row, others return to the page."""
    from jobs.services.batches import batch_delete

    job = job_for_user(request, job_id)
    batch = batch_for_user(request, job, batch_id)
    try:
        batch_delete(batch=batch)
    except ApplicationError as exc:
        if not request.htmx:
            raise  # the message, back at the page's batch history
        row = {**_batch_context(request, job, batch), "error": exc.message}
        context = {"job": job, "row": row}
        return render(request, "jobs/partials/batch.html", context, status=exc.status_code)
    if request.htmx:
        return HttpResponse("")
    messages.success(request, f"Deleted the predictions of {batch.filename}.")
    url = reverse("jobs:detail", kwargs={"job_id": job.job_id})
    return redirect(f"{url}#predict-file-card")


# --------------------------------------------------------------------------- files


def _get_job_for_file(request: HttpRequest, job_id: str, name: str) -> Job | HttpResponse:
    """A job whose file `name` this request may read: a valid signed link, or its owner."""
    if request.GET.get("signature"):
        job = wiring.job_repository().get(job_id)
        if job is None or not links.verify(
            job, name, request.GET.get("expires"), request.GET.get("signature")
        ):
            # Expired or forged: 404 like a missing file; the page hands out fresh links.
            raise Http404("This download link is invalid or has expired")
        return job
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    return job_for_user(request, job_id)


def _open_artifact(job: Job, name: str):  # a storage File
    key = (job.artifacts or {}).get(name)
    if not key:
        raise Http404("This job has no such file")
    try:
        return wiring.storage(ARTIFACT_STORAGE[name]).open(key, "rb")
    except FileNotFoundError:
        raise Http404("The file is missing from storage") from None


def _stored_file(
    request: HttpRequest, job_id: str, name: str, allowed: tuple[str, ...], unknown: str
) -> tuple[Job, Any] | HttpResponse:
    """The job and an open handle on its file `name`, or the response that replaces it.

    That response is a login redirect for a signed-out visitor, or, with S3 storage,
    a redirect to a short-lived presigned URL so the bytes never pass through us.
    """
    if name not in allowed:
        raise Http404(unknown)
    job = _get_job_for_file(request, job_id, name)
    if isinstance(job, HttpResponse):
        return job
    from jobs.presigned import direct_download_url

    if direct := direct_download_url(job, name):
        return redirect(direct)
    return job, _open_artifact(job, name)


def _private(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_safe
def job_artifact(request: HttpRequest, job_id: str, name: str) -> HttpResponse:
    """Download model.pkl, model.onnx or model_card.json as an attachment."""
    found = _stored_file(request, job_id, name, links.DOWNLOADS, "No such download")
    if isinstance(found, HttpResponse):
        return found
    job, handle = found
    return _private(
        FileResponse(
            handle,
            as_attachment=True,
            filename=snippets.download_name(job, name),
            content_type=ARTIFACT_CONTENT_TYPES[name],
        )
    )


@require_safe
def job_report(request: HttpRequest, job_id: str, name: str) -> HttpResponse:
    """Show the EDA or training report inline, sandboxed away from this site's cookies."""
    found = _stored_file(request, job_id, name, links.REPORTS, "No such report")
    if isinstance(found, HttpResponse):
        return found
    _, handle = found
    response = FileResponse(handle, content_type=ARTIFACT_CONTENT_TYPES[name])
    # The report runs in an opaque origin: its scripts (if any) cannot read our session.
    response["Content-Security-Policy"] = "sandbox allow-scripts allow-popups allow-downloads"
    return _private(response)
