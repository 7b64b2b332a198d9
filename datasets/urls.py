"""Dataset pages: `/datasets/...` (namespaced `datasets:`). Fragments are siblings of their page.

A dataset's own page, `datasets:detail` (with its `analysis` and `target` fragments), is
the configure page: it belongs to jobs (`jobs.urls.configure_urlpatterns`), and the
project's URLconf puts both lists under this namespace.
"""

from __future__ import annotations

from django.urls import path

from datasets import views

app_name = "datasets"

urlpatterns = [
    path("", views.dataset_list, name="list"),
    path("upload/", views.dataset_upload, name="upload"),
    path("upload/start/", views.dataset_upload_start, name="upload-start"),
    path("<id:dataset_id>/confirm/", views.dataset_confirm, name="confirm"),
    path("<id:dataset_id>/delete/", views.dataset_delete, name="delete"),
]
