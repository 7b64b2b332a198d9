"""The datasets API: upload, file PUT, confirm, read, list, delete.

Paths, fields, status codes and `detail` strings follow the reference REST contract
(reference-api.md #3-#5), so its clients keep working; our richer analysis sits beside
them under extra keys. Each operation is one APIView calling the same service as the
HTML views.

Confirm analyzes files up to `services.INLINE_ANALYSIS_MAX_BYTES` (50 MB, about a
second) before answering, so the earlier client gets `columns` and `row_count` at once;
a larger file answers `"status": "analyzing"` and is analyzed by the Celery task
(poll `GET /api/datasets/{id}`). A rejected file answers 400 with the reason in
`detail`, and the record stays `failed` with that message.
"""

from __future__ import annotations

import io
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.access import dataset_for_user
from core.exceptions import InvalidInput, LengthRequired
from core.file_bodies import check_file_body
from datasets import selectors, services
from datasets.permissions import IsOwner
from training_image.contract import Dataset, DatasetStatus, legacy_problem_type
from training_image.detection import Family, Kind

NO_STORE = "no-store, no-cache, must-revalidate, max-age=0"
# The file PUT's body is the CSV itself: these types say the client sent something else.
LENGTH_REQUIRED = (
    "Send the file with a Content-Length header: chunked uploads are not accepted. "
    "PUT the file to the upload URL again."
)


class DatasetApi(APIView):
    """Shared: authentication, ownership, and the one access helper."""

    permission_classes = [IsAuthenticated, IsOwner]

    def get_dataset(self, request: Request, dataset_id: str) -> Dataset:
        dataset = dataset_for_user(request, dataset_id)
        self.check_object_permissions(request, dataset)
        return dataset


# --------------------------------------------------------------------------- presentation


def legacy_column_type(column: dict[str, Any]) -> str:
    """Our kind as the earlier edition's `numeric | categorical | datetime`."""
    kind, family = column.get("kind"), column.get("family")
    if kind in (Kind.NUMERIC, Kind.INTEGER):
        return "numeric"
    if kind == Kind.DATETIME or family == Family.DATETIME:
        return "datetime"
    if family in (Family.INTEGER, Family.FLOAT):
        return "numeric"  # an id, a constant or a 0/1 flag stored as numbers
    return "categorical"


def dataset_metadata(dataset: Dataset) -> dict[str, Any]:
    """`DatasetMetadata` (reference #4/#5) plus our fields."""
    analysis = dataset.analysis or {}
    columns = [c for c in analysis.get("columns") or [] if isinstance(c, dict)]
    suggested = analysis.get("suggested_target")
    detected = next((c.get("problem_type") for c in columns if c.get("name") == suggested), None)
    return {
        "dataset_id": dataset.dataset_id,
        "filename": dataset.filename,
        "file_size": dataset.file_size,
        "uploaded_at": dataset.created_at,
        "columns": list(dataset.columns),
        "row_count": dataset.row_count or 0,
        "column_types": {c["name"]: legacy_column_type(c) for c in columns},
        "column_stats": {
            c["name"]: {
                "unique": c.get("unique", 0),
                "missing": c.get("missing", 0),
                "missing_pct": c.get("missing_pct", 0.0),
            }
            for c in columns
        }
        or None,
        "problem_type": legacy_problem_type(detected),
        # Ours.
        "status": str(dataset.status),
        "error_message": dataset.error_message,
        "created_at": dataset.created_at,
        "updated_at": dataset.updated_at,
        "suggested_target": suggested,
        "detected_problem_type": detected,
        "problem_types": analysis.get("problem_types") or {},
        "excluded_columns": analysis.get("excluded_columns") or {},
        "warnings": analysis.get("warnings") or [],
        "analysis": analysis or None,
    }


@extend_schema_serializer(component_name="DatasetMetadata")
class _DatasetOutput(serializers.Serializer):
    """The fields of `DatasetMetadata` (documentation; the body is built above)."""

    dataset_id = serializers.CharField()
    filename = serializers.CharField()
    file_size = serializers.IntegerField()
    uploaded_at = serializers.CharField()
    columns = serializers.ListField(child=serializers.CharField())
    row_count = serializers.IntegerField()
    column_types = serializers.DictField(child=serializers.CharField())
    column_stats = serializers.DictField(allow_null=True)
    problem_type = serializers.CharField(allow_null=True)
    status = serializers.CharField()
    error_message = serializers.CharField(allow_null=True)
    suggested_target = serializers.CharField(allow_null=True)
    detected_problem_type = serializers.CharField(allow_null=True)
    problem_types = serializers.DictField()
    excluded_columns = serializers.DictField()
    warnings = serializers.ListField(child=serializers.DictField())
    analysis = serializers.DictField(allow_null=True)


# --------------------------------------------------------------------------- #3 upload


class DatasetUploadApi(APIView):
    """`POST /api/upload`: a new dataset id and where to PUT its file."""

    @extend_schema_serializer(component_name="UploadRequest")
    class InputSerializer(serializers.Serializer):
        filename = serializers.CharField(max_length=1024)
        content_type = serializers.CharField(required=False, default="text/csv")

    @extend_schema_serializer(component_name="UploadResponse")
    class OutputSerializer(serializers.Serializer):
        dataset_id = serializers.CharField()
        upload_url = serializers.CharField()
        expires_in = serializers.IntegerField()
        upload_method = serializers.CharField()
        upload_headers = serializers.DictField(child=serializers.CharField())
        max_bytes = serializers.IntegerField()

    @extend_schema(
        operation_id="datasets_upload", request=InputSerializer, responses={200: OutputSerializer}
    )
    def post(self, request: Request) -> Response:
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        dataset = services.dataset_create_upload(
            owner_id=str(request.user.pk), filename=data.validated_data["filename"]
        )
        target = services.upload_target(dataset=dataset, request=request)
        body = {
            "dataset_id": dataset.dataset_id,
            "upload_url": target.url,
            "expires_in": target.expires_in,
            "upload_method": target.method,
            "upload_headers": target.headers,
            "max_bytes": services.max_upload_bytes(),
        }
        return Response(self.OutputSerializer(body).data, headers={"Cache-Control": NO_STORE})


class DatasetFileApi(DatasetApi):
    """`PUT /api/datasets/{id}/file`: the local `upload_url`; streams the body to storage."""

    @extend_schema_serializer(component_name="DatasetFileResponse")
    class OutputSerializer(serializers.Serializer):
        dataset_id = serializers.CharField()
        filename = serializers.CharField()
        file_size = serializers.IntegerField()
        status = serializers.CharField()

    @extend_schema(
        operation_id="datasets_file_put",
        request={"text/csv": {"type": "string", "format": "binary"}},
        responses={200: OutputSerializer},
    )
    def put(self, request: Request, dataset_id: str) -> Response:
        dataset = self.get_dataset(request, dataset_id)
        check_file_body(request.content_type)
        raw_length = request.META.get("CONTENT_LENGTH") or ""
        try:
            length = int(raw_length) if raw_length else None
        except ValueError:
            raise InvalidInput("Content-Length must be a whole number of bytes.") from None
        if length is None:
            # Without a length the WSGI server hands Django no body at all.
            services.dataset_reject_upload(dataset=dataset, message=LENGTH_REQUIRED)
            raise LengthRequired(LENGTH_REQUIRED)
        # request.stream is the raw body; request.data is never touched, so no parser
        # reads the file into memory.
        dataset = services.dataset_store_file(
            dataset=dataset, stream=request.stream or io.BytesIO(), content_length=length
        )
        body = {
            "dataset_id": dataset.dataset_id,
            "filename": dataset.filename,
            "file_size": dataset.file_size,
            "status": str(dataset.status),
        }
        return Response(self.OutputSerializer(body).data)


# --------------------------------------------------------------------------- #4 confirm


class DatasetConfirmApi(DatasetApi):
    """`POST /api/datasets/{id}/confirm`: analyze the uploaded file."""

    @extend_schema(operation_id="datasets_confirm", request=None, responses={200: _DatasetOutput})
    def post(self, request: Request, dataset_id: str) -> Response:
        dataset = self.get_dataset(request, dataset_id)
        dataset = services.dataset_confirm(dataset=dataset, inline=True)
        if dataset.status == DatasetStatus.FAILED:
            raise InvalidInput(
                dataset.error_message or "The file could not be analyzed.",
                {"dataset_id": dataset.dataset_id, "status": str(dataset.status)},
            )
        return Response(dataset_metadata(dataset), headers={"Cache-Control": NO_STORE})


# --------------------------------------------------------------------------- #5 read, list, delete


class DatasetDetailApi(DatasetApi):
    """`GET /api/datasets/{id}`: the dataset and its analysis."""

    @extend_schema(operation_id="datasets_get", responses={200: _DatasetOutput})
    def get(self, request: Request, dataset_id: str) -> Response:
        dataset = self.get_dataset(request, dataset_id)
        return Response(dataset_metadata(dataset), headers={"Cache-Control": "private, no-cache"})


class DatasetDeleteApi(DatasetApi):
    """`DELETE /api/datasets/{id}?force=`: the record and its file (409 while jobs use it)."""

    class FilterSerializer(serializers.Serializer):
        force = serializers.BooleanField(required=False, default=False)

    @extend_schema_serializer(component_name="DatasetDeleteResponse")
    class OutputSerializer(serializers.Serializer):
        message = serializers.CharField()
        dataset_id = serializers.CharField()

    @extend_schema(
        operation_id="datasets_delete",
        parameters=[OpenApiParameter("force", bool, description="Delete even if jobs used it")],
        responses={200: OutputSerializer},
    )
    def delete(self, request: Request, dataset_id: str) -> Response:
        dataset = self.get_dataset(request, dataset_id)
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        services.dataset_delete(dataset=dataset, force=filters.validated_data["force"])
        body = {"message": "Dataset deleted successfully", "dataset_id": dataset.dataset_id}
        return Response(self.OutputSerializer(body).data, headers={"Cache-Control": NO_STORE})


class DatasetResourceApi(DatasetDetailApi, DatasetDeleteApi):
    """`/api/datasets/{id}`: GET and DELETE share the path; each stays its own operation."""


class DatasetListApi(APIView):
    """`GET /api/datasets`: the signed-in user's datasets, newest first, cursor-paginated."""

    class FilterSerializer(serializers.Serializer):
        limit = serializers.IntegerField(min_value=1, max_value=100, required=False, default=20)
        next_token = serializers.CharField(required=False, allow_blank=True, allow_null=True)

    @extend_schema_serializer(component_name="DatasetListResponse")
    class OutputSerializer(serializers.Serializer):
        datasets = serializers.ListField(child=serializers.DictField())
        next_token = serializers.CharField(allow_null=True)

    @extend_schema(
        operation_id="datasets_list",
        parameters=[FilterSerializer],
        responses={200: OutputSerializer},
    )
    def get(self, request: Request) -> Response:
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        page = selectors.dataset_list(
            user=request.user,
            limit=filters.validated_data["limit"],
            cursor=filters.validated_data.get("next_token") or None,
        )
        body = {
            "datasets": [_summary(dataset) for dataset in page.items],
            "next_token": page.next_cursor,
        }
        return Response(body, headers={"Cache-Control": "private, no-cache"})


def _summary(dataset: Dataset) -> dict[str, Any]:
    """A list entry: the metadata without the per-column analysis."""
    body = dataset_metadata(dataset)
    body.pop("analysis")
    return body
