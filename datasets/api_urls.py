"""Datasets API paths under /api/ (the reference's paths: no trailing slash, one tolerated)."""

from __future__ import annotations

from django.urls import re_path

from datasets import api

DATASET = r"(?P<dataset_id>[^/]+)"

urlpatterns = [
    re_path(r"^upload/?$", api.DatasetUploadApi.as_view(), name="upload"),
    re_path(r"^datasets/?$", api.DatasetListApi.as_view(), name="dataset-list"),
    re_path(rf"^datasets/{DATASET}/?$", api.DatasetResourceApi.as_view(), name="dataset-detail"),
    re_path(rf"^datasets/{DATASET}/file/?$", api.DatasetFileApi.as_view(), name="dataset-file"),
    re_path(
        rf"^datasets/{DATASET}/confirm/?$", api.DatasetConfirmApi.as_view(), name="dataset-confirm"
    ),
]
