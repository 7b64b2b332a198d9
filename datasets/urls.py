"""Dataset pages: `/datasets/...` (namespaced `datasets:`). Fragments are siblings of their page."""

from __future__ import annotations

from django.urls import path

from datasets import views

app_name = "datasets"

urlpatterns = [
    path("", views.dataset_list, name="list"),
    path("upload/", views.dataset_upload, name="upload"),
    path("upload/start/", views.dataset_upload_start, name="upload-start"),
    path("<str:dataset_id>/", views.dataset_detail, name="detail"),
    path("<str:dataset_id>/analysis/", views.dataset_analysis, name="analysis"),
    path("<str:dataset_id>/target/", views.dataset_target, name="target"),
    path("<str:dataset_id>/confirm/", views.dataset_confirm, name="confirm"),
    path("<str:dataset_id>/delete/", views.dataset_delete, name="delete"),
]
