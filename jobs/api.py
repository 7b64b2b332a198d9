"""The jobs API: train, list, read (ETag/304), update, delete, deploy, cancel, resubmit, predict.

Also ours beside the reference: `POST /api/jobs/{id}/predictions` scores a small CSV file
in the request; `/api/jobs/{id}/batches` scores any file up to AUTOML_MAX_PREDICT_BYTES
as a batch on a worker (upload, confirm, poll, download).

Paths, fields, status codes and `detail` strings follow the reference REST contract
(reference-api.md #6-#13) so its clients keep working; our richer fields sit beside
them. Each operation is one APIView calling the same service as the HTML view.
"""

from __future__ import annotations

import io
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.urls import reverse
from django.utils.cache import get_conditional_response
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.access import batch_for_user, job_for_user
from core.exceptions import InvalidInput, NotFound, ServiceUnavailable
from core.file_bodies import check_file_body
from jobs import inference, presenters, selectors, services
from jobs.prediction_files import check_size
from jobs.repository import MAX_QUERY_LENGTH, JobFilter
from training_image.contract import (
    LEGACY_STATUS,
    MAX_TIME_BUDGET,
    METRICS,
    MIN_TIME_BUDGET,
    PROBLEM_TYPES,
    Job,
    JobStatus,
    TrainingRequestError,
    legacy_problem_type,
    validate_training_request,
)

JOB_FILTER_PARAMS = ("status", "tag", "dataset_id", "problem_type", "q")
JOB_CACHE_CONTROL = "private, max-age=0, must-revalidate"
NO_STORE = "no-store, no-cache, must-revalidate, max-age=0"
ALL_METRICS = sorted({m for names in METRICS.values() for m in names})
PREDICT_RULES = (
    "`features` maps each feature column to its raw value. One rule reads every value (the "
    "model's own `prepare` step applies it too): **missing** is null, a blank string or a CSV "
    "missing token (NA, N/A, null, NaN, ?); the model fills it in with what it learned. "
    "**Numbers**: a finite number or text that reads as one; `true`/`false`, infinities "
    "(`inf`), other text, lists and objects are refused. **Booleans**: true/false, 1/0 or "
    "yes/no/t/f/y/n. **Categories**: text, or a number whose text is a category; a value the "
    "model never saw is refused with the allowed values (or, when the model knows more "
    "values than its card lists, scored with a warning). **Dates**: text in the training "
    "format. A row with several bad values is refused once, with every problem in "
    "`extra.errors`; a number outside the training range is scored and reported in "
    "`warnings`. `probabilities` is keyed by class code (the keys of "
    "`preprocessing_info.target_mapping`), `class_probabilities` by class label."
)
# Room for the multipart framing around a file of the largest allowed size.
MULTIPART_SLACK = 64 * 1024


def _job_response(request: Request, job: Job, *, status: int = 200) -> HttpResponse:
    """`JobResponse` with its ETag and cache headers; 304 when If-None-Match matches.

    Django's conditional-response helper compares the tags (weak comparison, `*`) and
    its 304 carries the response's ETag, Cache-Control and Vary.
    """
    body = presenters.job_detail(request, job)
    etag = presenters.job_etag(body)
    headers = {"ETag": etag, "Cache-Control": JOB_CACHE_CONTROL}
    response = Response(body, status=status, headers=headers)
    response["Vary"] = "Authorization, Cookie"
    if request.method in ("GET", "HEAD"):
        return get_conditional_response(request, etag=etag, response=response)
    return response


@extend_schema_serializer(component_name="JobResponse")
class _JobOutput(serializers.Serializer):
    """The fields of `JobResponse` (documentation; the body is built by presenters)."""

    job_id = serializers.CharField()
    dataset_id = serializers.CharField()
    status = serializers.ChoiceField(choices=["pending", "running", "completed", "failed"])
    target_column = serializers.CharField()
    dataset_name = serializers.CharField(allow_null=True)
    problem_type = serializers.CharField(allow_null=True)
    created_at = serializers.CharField(allow_null=True)
    updated_at = serializers.CharField(allow_null=True)
    started_at = serializers.CharField(allow_null=True)
    completed_at = serializers.CharField(allow_null=True)
    metrics = serializers.DictField(allow_null=True)
    model_download_url = serializers.URLField(allow_null=True)
    onnx_model_download_url = serializers.URLField(allow_null=True)
    report_download_url = serializers.URLField(allow_null=True)
    eda_report_download_url = serializers.URLField(allow_null=True)
    training_report_download_url = serializers.URLField(allow_null=True)
    model_card_download_url = serializers.URLField(allow_null=True)
    error_message = serializers.CharField(allow_null=True)
    tags = serializers.ListField(child=serializers.CharField())
    notes = serializers.CharField(allow_null=True)
    deployed = serializers.BooleanField()
    deployed_at = serializers.CharField(allow_null=True)
    preprocessing_info = serializers.DictField(allow_null=True)
    status_detail = serializers.CharField()
    problem_type_detail = serializers.CharField(allow_null=True)
    metric = serializers.CharField(allow_null=True)
    time_budget = serializers.IntegerField()
    excluded_columns = serializers.ListField(child=serializers.CharField())
    class_names = serializers.DictField(child=serializers.CharField())
    seed = serializers.IntegerField(allow_null=True)
    ensemble = serializers.BooleanField()
    kept_columns = serializers.ListField(child=serializers.CharField())
    attempt = serializers.IntegerField()
    max_attempts = serializers.IntegerField()
    resubmittable = serializers.BooleanField()
    progress = serializers.DictField()
    error_type = serializers.CharField(allow_null=True)
    error_phase = serializers.CharField(allow_null=True)
    all_metrics = serializers.DictField()
    estimated_cost_usd = serializers.FloatField(
        help_text="What the run should cost on AWS Fargate Spot, from its budget and the task size."
    )
    cost_usd = serializers.FloatField(
        allow_null=True,
        help_text="What the finished run cost on Fargate Spot, from its measured wall clock "
        "(in local mode: what it would have cost; it cost nothing here).",
    )


# --------------------------------------------------------------------------- #6 train


class JobTrainApi(APIView):
    """`POST /api/train`: validate, store the job, hand it to the runner."""

    @extend_schema_serializer(component_name="TrainingConfig")
    class ConfigSerializer(serializers.Serializer):
        """Types only: the values are checked by contract.validate_training_request."""

        time_budget = serializers.IntegerField(
            required=False,
            allow_null=True,
            help_text=f"Search seconds, from the deployment's floor (default "
            f"{MIN_TIME_BUDGET}) to {MAX_TIME_BUDGET}; null for the automatic budget.",
        )
        metric = serializers.CharField(
            required=False,
            allow_null=True,
            default="auto",
            help_text=f"auto, or one of {', '.join(ALL_METRICS)} that fits the problem type.",
        )
        problem_type = serializers.CharField(
            required=False,
            allow_null=True,
            help_text=f"auto, or one of {', '.join(PROBLEM_TYPES)}.",
        )
        excluded_columns = serializers.ListField(
            child=serializers.CharField(trim_whitespace=False), required=False, default=list
        )
        # Ours.
        seed = serializers.IntegerField(
            required=False, allow_null=True, help_text="Random seed; null for the deployment's."
        )
        ensemble = serializers.BooleanField(
            required=False, default=True, help_text="May a weighted ensemble be tried."
        )
        kept_columns = serializers.ListField(
            child=serializers.CharField(trim_whitespace=False),
            required=False,
            default=list,
            help_text="Identifier or constant columns to keep as features (the analysis "
            "would leave them out).",
        )
        class_names = serializers.DictField(
            child=serializers.CharField(allow_blank=True),
            required=False,
            default=dict,
            help_text='Names for integer-coded classes, e.g. {"0": "no", "1": "yes"}: '
            "predictions, reports and the API then show the names.",
        )

    @extend_schema_serializer(component_name="TrainRequest")
    class InputSerializer(serializers.Serializer):
        dataset_id = serializers.CharField(max_length=100)
        target_column = serializers.CharField()
        config = serializers.JSONField(required=False, allow_null=True)
        idempotency_key = serializers.CharField(required=False, max_length=255)

    @extend_schema_serializer(component_name="TrainResponse")
    class OutputSerializer(serializers.Serializer):
        job_id = serializers.CharField()
        status = serializers.CharField()
        estimated_time = serializers.IntegerField()
        status_detail = serializers.CharField()
        estimated_cost_usd = serializers.FloatField()

    @extend_schema(
        operation_id="train",
        request=InputSerializer,
        responses={200: OutputSerializer},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                location=OpenApiParameter.HEADER,
                required=False,
                description="Repeat a request with the same key to get the same job back.",
            )
        ],
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        config = self.ConfigSerializer(data=data.validated_data.get("config") or {})
        if not config.is_valid():
            raise serializers.ValidationError({"config": config.errors})
        options = config.validated_data
        try:
            # The request's own shape, as the form and the container check it; the job
            # service checks it again against the dataset's columns and analysis.
            validate_training_request(
                target_column=data.validated_data["target_column"],
                problem_type=options.get("problem_type"),
                metric=options.get("metric"),
                time_budget=options.get("time_budget"),
                excluded_columns=options.get("excluded_columns") or [],
                min_time_budget=services.min_time_budget(),
                seed=options.get("seed"),
                ensemble=options.get("ensemble", True),
                kept_columns=options.get("kept_columns") or [],
            )
        except TrainingRequestError as exc:
            raise serializers.ValidationError(
                {"config": {field: [message] for field, message in exc.errors}}
            ) from None
        key = request.headers.get("Idempotency-Key") or data.validated_data.get("idempotency_key")
        job = services.job_create(
            owner_id=str(request.user.pk),
            dataset_id=data.validated_data["dataset_id"],
            target_column=data.validated_data["target_column"],
            problem_type=options.get("problem_type"),
            metric=options.get("metric"),
            time_budget=options.get("time_budget"),
            excluded_columns=options.get("excluded_columns") or [],
            class_names=options.get("class_names") or {},
            idempotency_key=key,
            seed=options.get("seed"),
            ensemble=options.get("ensemble", True),
            kept_columns=options.get("kept_columns") or [],
        )
        if job.status == JobStatus.FAILED and job.error_type == "submit":
            raise ServiceUnavailable(
                f"Error starting training: {job.error_message}",
                {"job_id": job.job_id, "resubmit": f"/api/jobs/{job.job_id}/resubmit"},
            )
        body = {
            "job_id": job.job_id,
            "status": LEGACY_STATUS[JobStatus(job.status)],
            "estimated_time": job.time_budget,
            "status_detail": str(job.status),
            "estimated_cost_usd": selectors.job_cost(job)["estimated_cost_usd"],
        }
        return Response(self.OutputSerializer(body).data)


# --------------------------------------------------------------------------- #7 list


class JobListApi(APIView):
    """`GET /api/jobs`: the signed-in user's jobs, newest first, cursor-paginated."""

    @extend_schema_serializer(component_name="JobListQuery")
    class FilterSerializer(serializers.Serializer):
        limit = serializers.IntegerField(min_value=1, max_value=100, required=False, default=20)
        next_token = serializers.CharField(required=False, allow_blank=True, allow_null=True)
        user_id = serializers.CharField(required=False)  # accepted, ignored: always the caller
        # Ours. A `next_token` continues the listing it came from, with the same filters.
        status = serializers.ChoiceField(
            choices=[str(s) for s in JobStatus],
            required=False,
            allow_blank=True,
            help_text="The job's own status (`status_detail`): a cancelled job is `cancelled` "
            "here, though `status` reports it as `failed` for the reference's clients.",
        )
        tag = serializers.CharField(required=False, allow_blank=True, max_length=50)
        dataset_id = serializers.CharField(required=False, allow_blank=True, max_length=100)
        problem_type = serializers.ChoiceField(
            choices=list(PROBLEM_TYPES), required=False, allow_blank=True
        )
        q = serializers.CharField(
            required=False,
            allow_blank=True,
            max_length=MAX_QUERY_LENGTH,
            help_text="Part of the dataset name, target column or job id (any case).",
        )

    @extend_schema_serializer(component_name="JobListResponse")
    class OutputSerializer(serializers.Serializer):
        jobs = serializers.ListField(child=serializers.DictField())
        next_token = serializers.CharField(allow_null=True)

    @extend_schema(
        operation_id="jobs_list", parameters=[FilterSerializer], responses={200: OutputSerializer}
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        page = selectors.job_list(
            user=request.user,
            limit=data["limit"],
            cursor=data.get("next_token") or None,
            filters=JobFilter.build(**{name: data.get(name) for name in JOB_FILTER_PARAMS}),
        )
        body = {
            "jobs": [presenters.job_summary(job) for job in page.items],
            "next_token": page.next_cursor,
        }
        return Response(body, headers={"Cache-Control": "private, no-cache"})


# --------------------------------------------------------------------------- #8-#10 one job


class JobDetailApi(APIView):
    """`GET /api/jobs/{id}`: one job; `If-None-Match` answers 304 when nothing changed."""

    @extend_schema(operation_id="jobs_get", responses={200: _JobOutput, 304: None})
    def get(self, request: Request, job_id: str) -> Response:
        return _job_response(request, job_for_user(request, job_id))


class JobUpdateApi(APIView):
    """`PATCH /api/jobs/{id}`: tags and notes."""

    @extend_schema_serializer(component_name="JobUpdateRequest")
    class InputSerializer(serializers.Serializer):
        tags = serializers.ListField(
            child=serializers.CharField(allow_blank=True, trim_whitespace=False),
            max_length=services.MAX_TAGS,
            required=False,
            allow_null=True,
        )
        notes = serializers.CharField(
            max_length=services.MAX_NOTES_LENGTH,
            required=False,
            allow_null=True,
            allow_blank=True,
            trim_whitespace=False,
        )

    @extend_schema(operation_id="jobs_update", request=InputSerializer, responses={200: _JobOutput})
    def patch(self, request: Request, job_id: str) -> Response:
        job = job_for_user(request, job_id)
        data = JobUpdateApi.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = services.job_update_meta(
            job=job, tags=data.validated_data.get("tags"), notes=data.validated_data.get("notes")
        )
        return _job_response(request, job)


class JobDeleteApi(APIView):
    """`DELETE /api/jobs/{id}?delete_data=`: the job, its files, and (if unused) its dataset."""

    @extend_schema_serializer(component_name="JobDeleteQuery")
    class FilterSerializer(serializers.Serializer):
        delete_data = serializers.BooleanField(required=False, default=True)

    @extend_schema_serializer(component_name="JobDeleteResponse")
    class OutputSerializer(serializers.Serializer):
        message = serializers.CharField()
        job_id = serializers.CharField()
        deleted_resources = serializers.ListField(child=serializers.CharField())
        kept_resources = serializers.ListField(child=serializers.CharField())

    @extend_schema(
        operation_id="jobs_delete", parameters=[FilterSerializer], responses={200: OutputSerializer}
    )
    def delete(self, request: Request, job_id: str) -> Response:
        job = job_for_user(request, job_id)
        filters = JobDeleteApi.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        summary = services.job_delete(job=job, delete_data=filters.validated_data["delete_data"])
        body = {
            "message": "Job deleted successfully",
            "job_id": job.job_id,
            "deleted_resources": summary.deleted_resources,
            "kept_resources": summary.kept_resources,
        }
        return Response(
            JobDeleteApi.OutputSerializer(body).data, headers={"Cache-Control": NO_STORE}
        )


class JobResourceApi(JobDetailApi, JobUpdateApi, JobDeleteApi):
    """`/api/jobs/{id}`: the reference puts GET, PATCH and DELETE on one path.

    Each method is still its own operation above (with its own serializers); this
    class only lets one URL route the three methods.
    """


# --------------------------------------------------------------------------- #11 deploy, actions


class JobDeployApi(APIView):
    """`POST /api/jobs/{id}/deploy`: deploy or undeploy the ONNX model."""

    @extend_schema_serializer(component_name="DeployRequest")
    class InputSerializer(serializers.Serializer):
        deploy = serializers.BooleanField()

    @extend_schema_serializer(component_name="DeployResponse")
    class OutputSerializer(serializers.Serializer):
        job_id = serializers.CharField()
        deployed = serializers.BooleanField()
        deployed_at = serializers.CharField(allow_null=True)
        message = serializers.CharField()

    @extend_schema(
        operation_id="jobs_deploy", request=InputSerializer, responses={200: OutputSerializer}
    )
    def post(self, request: Request, job_id: str) -> Response:
        job = job_for_user(request, job_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        job = services.job_deploy(job=job, deploy=data.validated_data["deploy"])
        body = {
            "job_id": job.job_id,
            "deployed": job.deployed,
            "deployed_at": job.deployed_at,
            "message": "Model successfully deployed"
            if job.deployed
            else "Model successfully undeployed",
        }
        # The earlier edition built these headers and never sent them: they are sent here.
        return Response(
            self.OutputSerializer(body).data,
            headers={
                "Cache-Control": "no-cache, no-store, must-revalidate",
                "X-Cache-Invalidated": "deploy-status-changed",
            },
        )


class JobCancelApi(APIView):
    """`POST /api/jobs/{id}/cancel`: stop a pending, queued or running job."""

    @extend_schema(operation_id="jobs_cancel", request=None, responses={200: _JobOutput})
    def post(self, request: Request, job_id: str) -> Response:
        job = services.job_cancel(job=job_for_user(request, job_id))
        return _job_response(request, job)


class JobResubmitApi(APIView):
    """`POST /api/jobs/{id}/resubmit`: run a failed job again, or train a finished one again.

    A failed job runs again as itself (attempt + 1). A completed or cancelled job cannot
    move again, so a new job with the same settings is created: the answer (201) is that
    job, with its own `job_id`, and `Location` points at it.
    """

    @extend_schema(
        operation_id="jobs_resubmit",
        request=None,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                location=OpenApiParameter.HEADER,
                required=False,
                description="For a completed or cancelled job: repeat with the same key to "
                "get the same new job back.",
            )
        ],
        responses={200: _JobOutput, 201: _JobOutput},
    )
    def post(self, request: Request, job_id: str) -> Response:
        job = job_for_user(request, job_id)
        request.data  # noqa: B018 - a body it cannot read (wrong type) is refused before any write
        if job.status in (JobStatus.COMPLETED, JobStatus.CANCELLED):
            new = services.job_train_again(
                job=job, idempotency_key=request.headers.get("Idempotency-Key")
            )
            response = _job_response(request, new, status=201)
            response["Location"] = f"/api/jobs/{new.job_id}"
            return response
        job = services.job_resubmit(job=job)
        return _job_response(request, job)


# --------------------------------------------------------------------------- #12, #13 predict


@extend_schema_serializer(component_name="FeatureContribution")
class _ContributionOutput(serializers.Serializer):
    feature = serializers.CharField()
    value = serializers.JSONField()
    contribution = serializers.FloatField()


class JobPredictApi(APIView):
    """`POST /api/predict/{id}`: score one row with the deployed model."""

    @extend_schema_serializer(component_name="PredictionInput")
    class InputSerializer(serializers.Serializer):
        features = serializers.DictField(child=serializers.JSONField(allow_null=True))

    @extend_schema_serializer(component_name="PredictionQuery")
    class QuerySerializer(serializers.Serializer):
        explain = serializers.BooleanField(
            required=False,
            allow_null=True,
            default=None,
            help_text="true: always add `explanation`; false: never; absent: while explaining "
            "keeps predictions within their latency target.",
        )

    @extend_schema_serializer(component_name="PredictionResponse")
    class OutputSerializer(serializers.Serializer):
        job_id = serializers.CharField()
        prediction = serializers.JSONField()
        probability = serializers.FloatField(allow_null=True)
        probabilities = serializers.DictField(
            child=serializers.FloatField(),
            allow_null=True,
            help_text="Per class code, as the keys of `preprocessing_info.target_mapping` "
            "(the earlier edition's keys).",
        )
        class_probabilities = serializers.DictField(
            child=serializers.FloatField(),
            allow_null=True,
            help_text="The same probabilities per class label.",
        )
        warnings = serializers.ListField(child=serializers.DictField())
        explanation = serializers.ListField(
            child=_ContributionOutput(),
            allow_null=True,
            required=False,
            help_text="The top feature contributions toward the prediction, largest first.",
        )
        explanation_info = serializers.DictField(
            required=False,
            help_text="`method` (tree_shap, saabas, linear, blend), `description`, `exact`, "
            "`unit` (log-odds, probability, value, log(1 + value) for a target learnt on a log scale), `baseline`, `toward` (the class explained); "
            "or `unavailable` with the reason.",
        )
        inference_time_ms = serializers.FloatField()
        model_type = serializers.CharField()

    @extend_schema(
        operation_id="predict",
        summary="Score one row with the deployed model",
        description=PREDICT_RULES,
        parameters=[QuerySerializer],
        request=InputSerializer,
        responses={
            200: OutputSerializer,
            400: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="Not deployed, no ONNX model, or the row has bad values: "
                "`extra.errors` lists every problem as `{feature, code, message, value?, "
                "expected?, allowed?}` (code: missing, wrong_type, wrong_unit, not_finite, "
                "not_a_date, unseen_category).",
            ),
        },
    )
    def post(self, request: Request, job_id: str) -> Response:
        job = job_for_user(request, job_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        query = self.QuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        result = services.job_predict(
            job=job,
            features=data.validated_data["features"],
            explain=query.validated_data["explain"],
        )
        return Response({"job_id": job.job_id, **presenters.legacy_prediction(result)})


@extend_schema_serializer(component_name="ErrorResponse")
class _ErrorOutput(serializers.Serializer):
    """An error: `detail` (the reference's field) and our `message`/`extra`."""

    detail = serializers.CharField()
    message = serializers.CharField()
    extra = serializers.DictField()


class JobPredictFileApi(APIView):
    """`POST /api/jobs/{id}/predictions`: score a CSV file; the result CSV downloads."""

    @extend_schema_serializer(component_name="PredictionFileRequest")
    class InputSerializer(serializers.Serializer):
        file = serializers.FileField(
            help_text=(
                "The rows to score, as CSV with a header row: the model's feature columns "
                "(see GET /api/predict/{job_id}/info or model_card.json) and any others, which "
                "are copied to the result. Comma, semicolon, tab or pipe separated; UTF-8, "
                "UTF-16 or Latin-1; decimal commas in semicolon files; blank, NA, N/A, null "
                "and ? are missing values."
            )
        )

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # A client asking for text/csv still gets its errors, as JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        operation_id="jobs_predictions",
        summary="Score a CSV file",
        description=(
            "Scores every row of the uploaded CSV with the job's ONNX model (the job must be "
            "completed; no deployment is needed) and answers the same rows as a CSV "
            "attachment `<dataset>-<job8>-predictions.csv`: every original column, then "
            "`prediction` and, for classification, `probability` (of the predicted class) and "
            "`probability_<class>` per class. The result keeps the input's delimiter and "
            "decimal mark and is UTF-8. Header `X-Rows-Scored` gives the row count. Limits: "
            "AUTOML_MAX_PREDICT_BYTES (default 100 MiB) and AUTOML_MAX_PREDICT_ROWS (default "
            "1,000,000), both answered with 413."
        ),
        request={"multipart/form-data": InputSerializer},
        responses={
            (200, "text/csv"): OpenApiResponse(
                response=OpenApiTypes.BINARY, description="The rows with their predictions."
            ),
            400: OpenApiResponse(
                _ErrorOutput,
                description="Job not completed or without ONNX model, no `file` field, "
                "unreadable CSV, missing feature columns (listed in `extra.missing_columns`), "
                "a row with the wrong number of fields, or a value that cannot be read "
                "(`extra.row`, `extra.line`, `extra.column`).",
            ),
            401: OpenApiResponse(_ErrorOutput, description="Not signed in."),
            404: OpenApiResponse(_ErrorOutput, description="No such job, or not yours."),
            413: OpenApiResponse(_ErrorOutput, description="The file has too many bytes or rows."),
        },
    )
    def post(self, request: Request, job_id: str) -> HttpResponse:
        job = job_for_user(request, job_id)
        # Refuse an oversized body before parsing it (multipart adds a little framing).
        length = request.META.get("CONTENT_LENGTH")
        if length and length.isdigit():
            check_size(int(length), settings.AUTOML_MAX_PREDICT_BYTES, framing=MULTIPART_SLACK)
        upload = request.FILES.get("file")
        if upload is None:
            raise InvalidInput("Send the CSV file as the multipart form field 'file'.")
        return services.job_predict_file(job=job, uploaded_file=upload).download()


class JobPredictInfoApi(APIView):
    """`GET /api/predict/{id}/info`: the features a deployed model takes, with an example."""

    @extend_schema(operation_id="predict_info", responses={200: dict})
    def get(self, request: Request, job_id: str) -> Response:
        job = job_for_user(request, job_id)
        if not job.deployed:
            raise InvalidInput("Model is not deployed")
        spec = inference.model_spec(inference.load_card(job))
        feature_info: dict[str, Any] = {}
        example: dict[str, Any] = {}
        for f in spec.features:
            info: dict[str, Any] = {
                "type": f.legacy_type,
                "input_type": "number" if f.input_type == "number" else f.input_type,
                "kind": f.kind,
            }
            if f.choices and f.input_type == "select":
                info["allowed_values"] = f.choices
            if f.minimum is not None:
                info.update(min=f.minimum, max=f.maximum, is_integer=f.is_integer)
            if f.datetime_format:
                info["datetime_format"] = f.datetime_format
            if f.unit:
                info["unit"] = f.unit  # "23.4 kmpl" and 23.4 are both accepted
            feature_info[f.column] = info
            # Values seen in training, never invented: the median, the most frequent category.
            if f.median is not None:
                info["median"] = f.median
            if info.get("allowed_values"):
                example[f.column] = info["allowed_values"][0]
            elif f.median is not None:
                example[f.column] = int(f.median) if f.is_integer else f.median
            else:
                example[f.column] = None  # missing: the model fills it in
        body = {
            "job_id": job.job_id,
            "problem_type": legacy_problem_type(job.problem_type),
            "problem_type_detail": job.problem_type,
            "target_column": job.target_column,
            "dataset_name": job.dataset_name,
            "feature_columns": spec.feature_columns,
            "feature_count": len(spec.features),
            "feature_info": feature_info,
            "model_type": (job.metrics or {}).get("best_estimator") or "unknown",
            "classes": [str(c) for c in spec.classes],
            "deployed": True,
            "example_request": {"features": example},
        }
        return Response(body)


# --------------------------------------------------------------------------- prediction batches


@extend_schema_serializer(component_name="PredictionBatch")
class _BatchOutput(serializers.Serializer):
    """One prediction batch (documentation; the body is built by presenters)."""

    batch_id = serializers.CharField()
    job_id = serializers.CharField()
    status = serializers.CharField(
        help_text="pending (uploading), queued, scoring, then completed or failed"
    )
    filename = serializers.CharField()
    size = serializers.IntegerField()
    rows_total = serializers.IntegerField(allow_null=True)
    rows_done = serializers.IntegerField()
    progress = serializers.FloatField(help_text="0.0 to 1.0")
    error_message = serializers.CharField(allow_null=True)
    error_details = serializers.DictField(help_text="row, line, column, missing_columns")
    download_url = serializers.URLField(allow_null=True)
    validation_url = serializers.URLField(
        allow_null=True,
        help_text="The file held the target column: its metrics and drift (GET)",
    )
    created_at = serializers.CharField()
    updated_at = serializers.CharField()
    started_at = serializers.CharField(allow_null=True)
    completed_at = serializers.CharField(allow_null=True)


class JobBatchListApi(APIView):
    """`GET /api/jobs/{id}/batches`: the job's prediction batches, newest first."""

    @extend_schema_serializer(component_name="PredictionBatchListQuery")
    class FilterSerializer(serializers.Serializer):
        limit = serializers.IntegerField(min_value=1, max_value=100, required=False, default=20)
        next_token = serializers.CharField(required=False, allow_blank=True, allow_null=True)

    @extend_schema_serializer(component_name="PredictionBatchList")
    class OutputSerializer(serializers.Serializer):
        batches = _BatchOutput(many=True)
        next_token = serializers.CharField(allow_null=True)

    @extend_schema(
        operation_id="jobs_batches_list",
        parameters=[FilterSerializer],
        responses={200: OutputSerializer},
    )
    def get(self, request: Request, job_id: str) -> Response:
        job = job_for_user(request, job_id)
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        page = selectors.batch_list(
            job=job,
            limit=filters.validated_data["limit"],
            cursor=filters.validated_data.get("next_token") or None,
        )
        body = {
            "batches": [presenters.batch_detail(request, job, b) for b in page.items],
            "next_token": page.next_cursor,
        }
        return Response(body, headers={"Cache-Control": NO_STORE})


class JobBatchCreateApi(APIView):
    """`POST /api/jobs/{id}/batches`: a new batch and where to upload its file."""

    @extend_schema_serializer(component_name="PredictionBatchCreateRequest")
    class InputSerializer(serializers.Serializer):
        filename = serializers.CharField(max_length=1024)
        size = serializers.IntegerField(min_value=0, help_text="The file's size in bytes.")

    @extend_schema_serializer(component_name="UploadTarget")
    class UploadSerializer(serializers.Serializer):
        method = serializers.CharField(help_text="POST (a presigned S3 form) or PUT")
        url = serializers.URLField()
        fields = serializers.DictField(
            child=serializers.CharField(), help_text="Form fields before the file (POST)."
        )
        headers = serializers.DictField(child=serializers.CharField())
        expires_in = serializers.IntegerField()

    @extend_schema_serializer(component_name="PredictionBatchCreated")
    class OutputSerializer(_BatchOutput):
        upload = serializers.DictField()
        confirm_url = serializers.URLField()
        max_bytes = serializers.IntegerField()

    @extend_schema(
        operation_id="jobs_batches_create",
        summary="Start scoring a CSV file as a batch",
        description=(
            "Creates a `pending` batch and answers where to send the file: a presigned S3 "
            "POST (`fields` first, the file last as `file`) when the storage is S3, else "
            "a PUT of the raw file to this API. Then call `confirm`; a worker scores the "
            "file in chunks (poll the batch for `progress`) and `download_url` fetches the "
            "result CSV. Files up to AUTOML_MAX_PREDICT_BYTES (413 above)."
        ),
        request=InputSerializer,
        responses={201: OutputSerializer},
    )
    def post(self, request: Request, job_id: str) -> Response:
        from jobs.services.batches import batch_create, max_bytes

        job = job_for_user(request, job_id)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        batch, target = batch_create(
            job=job,
            owner_id=str(request.user.pk),
            filename=data.validated_data["filename"],
            size=data.validated_data["size"],
            request=request,
        )
        confirm = reverse(
            "api:job-batch-confirm", kwargs={"job_id": job.job_id, "batch_id": batch.batch_id}
        )
        body = {
            **presenters.batch_detail(request, job, batch),
            "upload": {
                "method": target.method,
                "url": target.url,
                "fields": target.fields,
                "headers": target.headers,
                "expires_in": target.expires_in,
            },
            "confirm_url": request.build_absolute_uri(confirm),
            "max_bytes": max_bytes(),
        }
        return Response(body, status=201, headers={"Cache-Control": NO_STORE})


class JobBatchesApi(JobBatchListApi, JobBatchCreateApi):
    """`/api/jobs/{id}/batches`: GET lists, POST creates; each its own operation above."""


class JobBatchFileApi(APIView):
    """`PUT /api/jobs/{id}/batches/{batch_id}/file`: the local upload target (raw body)."""

    @extend_schema(
        operation_id="jobs_batches_file_put",
        request={"text/csv": {"type": "string", "format": "binary"}},
        responses={200: _BatchOutput},
    )
    def put(self, request: Request, job_id: str, batch_id: str) -> Response:
        from jobs.services.batches import batch_store_file

        job = job_for_user(request, job_id)
        batch = batch_for_user(request, job, batch_id)
        check_file_body(request.content_type)
        raw_length = request.META.get("CONTENT_LENGTH") or ""
        if raw_length and not raw_length.isdigit():
            raise InvalidInput("Content-Length must be a whole number of bytes.")
        # request.stream is the raw body: no parser reads the file into memory.
        batch = batch_store_file(
            batch=batch,
            stream=request.stream or io.BytesIO(),
            content_length=int(raw_length) if raw_length else None,
        )
        return Response(presenters.batch_detail(request, job, batch))


class JobBatchConfirmApi(APIView):
    """`POST /api/jobs/{id}/batches/{batch_id}/confirm`: check the file, queue the scoring."""

    @extend_schema(
        operation_id="jobs_batches_confirm",
        request=None,
        responses={
            202: _BatchOutput,
            400: OpenApiResponse(
                _ErrorOutput,
                description="Empty, not CSV, or without the model's columns "
                "(`extra.missing_columns`); the batch is `failed` and the file deleted.",
            ),
            404: OpenApiResponse(_ErrorOutput, description="No such batch, or no file yet."),
            409: OpenApiResponse(_ErrorOutput, description="The batch already failed."),
            413: OpenApiResponse(_ErrorOutput, description="Over AUTOML_MAX_PREDICT_BYTES."),
        },
    )
    def post(self, request: Request, job_id: str, batch_id: str) -> Response:
        from jobs.services.batches import batch_confirm

        job = job_for_user(request, job_id)
        batch = batch_confirm(job=job, batch=batch_for_user(request, job, batch_id))
        return Response(
            presenters.batch_detail(request, job, batch),
            status=202,
            headers={"Cache-Control": NO_STORE},
        )


@extend_schema_serializer(component_name="BatchValidationMetric")
class _ValidationMetric(serializers.Serializer):
    name = serializers.CharField()
    validation = serializers.FloatField(help_text="on the file's rows")
    training_test = serializers.FloatField(allow_null=True, help_text="on the test split")
    difference = serializers.FloatField(allow_null=True)
    lower_is_better = serializers.BooleanField()
    change = serializers.ChoiceField(["better", "worse", "same"], allow_null=True)


@extend_schema_serializer(component_name="BatchValidation")
class _ValidationOutput(serializers.Serializer):
    """A validation file's metrics beside the test split's, and each feature's drift."""

    target = serializers.CharField()
    metric = serializers.CharField(help_text="the metric the search optimised (listed first)")
    rows = serializers.IntegerField()
    rows_scored = serializers.IntegerField(help_text="rows with a usable target value")
    skipped = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="missing_target, unseen_class, unreadable_target",
    )
    examples = serializers.DictField(help_text="a few unusable target values per reason")
    metrics = _ValidationMetric(many=True)
    drift = serializers.DictField(
        allow_null=True,
        help_text="method psi, bands {moderate: 0.1, major: 0.25}, features [{feature, kind, "
        "psi, band, drifted, bins [{label, expected, actual}]}] most drifted first, drifted, "
        "skipped {feature: reason}, few_rows",
    )
    drift_unavailable = serializers.CharField(allow_null=True)


class JobBatchDetailApi(APIView):
    """`GET /api/jobs/{id}/batches/{batch_id}`: status, progress and the download link."""

    @extend_schema_serializer(component_name="PredictionBatchDetail")
    class OutputSerializer(_BatchOutput):
        validation = _ValidationOutput(
            allow_null=True, help_text="as GET …/validation answers it; null without a target"
        )

    @extend_schema(operation_id="jobs_batches_get", responses={200: OutputSerializer})
    def get(self, request: Request, job_id: str, batch_id: str) -> Response:
        from jobs.services.batches import batch_validation

        job = job_for_user(request, job_id)
        batch = batch_for_user(request, job, batch_id)
        body = {
            **presenters.batch_detail(request, job, batch),
            "validation": batch_validation(batch),
        }
        return Response(body, headers={"Cache-Control": NO_STORE})


class JobBatchValidationApi(APIView):
    """`GET /api/jobs/{id}/batches/{batch_id}/validation`: metrics and drift of the file."""

    @extend_schema(
        operation_id="jobs_batches_validation",
        summary="A validation file's metrics and drift",
        description=(
            "A batch whose file holds the job's target column is also a validation: the same "
            "metrics training reported on its test rows, measured on the file's rows, and "
            "each feature's Population Stability Index against the training rows (below 0.1 "
            "stable, 0.1-0.25 moderate, from 0.25 major: drifted)."
        ),
        responses={
            200: _ValidationOutput,
            404: OpenApiResponse(
                _ErrorOutput, description="No such batch, not completed, or no target column."
            ),
        },
    )
    def get(self, request: Request, job_id: str, batch_id: str) -> Response:
        from jobs.services.batches import batch_validation, validation_missing

        job = job_for_user(request, job_id)
        batch = batch_for_user(request, job, batch_id)
        report = batch_validation(batch)
        if report is None:
            raise NotFound(validation_missing(job, batch))
        return Response(report, headers={"Cache-Control": NO_STORE})


class JobBatchDeleteApi(APIView):
    """`DELETE /api/jobs/{id}/batches/{batch_id}`: the batch, its upload and its result."""

    @extend_schema_serializer(component_name="PredictionBatchDeleteResponse")
    class OutputSerializer(serializers.Serializer):
        message = serializers.CharField()
        batch_id = serializers.CharField()

    @extend_schema(operation_id="jobs_batches_delete", responses={200: OutputSerializer})
    def delete(self, request: Request, job_id: str, batch_id: str) -> Response:
        from jobs.services.batches import batch_delete

        job = job_for_user(request, job_id)
        batch = batch_for_user(request, job, batch_id)
        batch_delete(batch=batch)
        body = {"message": "Prediction batch deleted", "batch_id": batch.batch_id}
        return Response(body, headers={"Cache-Control": NO_STORE})


class JobBatchResourceApi(JobBatchDetailApi, JobBatchDeleteApi):
    """`/api/jobs/{id}/batches/{batch_id}`: GET and DELETE share the path."""
