"""Job pages: `/jobs/...` (namespaced `jobs:`). Fragments are siblings of their page."""

from __future__ import annotations

from django.urls import path

from jobs import views

app_name = "jobs"

urlpatterns = [
    path("", views.job_list, name="list"),
    path("create/", views.job_create, name="create"),
    path("compare/", views.job_compare, name="compare"),
    path("notifications/", views.job_notifications, name="notifications"),
    path("<str:job_id>/", views.job_detail, name="detail"),
    path("<str:job_id>/progress/", views.job_progress, name="progress"),
    path("<str:job_id>/cancel/", views.job_cancel, name="cancel"),
    path("<str:job_id>/resubmit/", views.job_resubmit, name="resubmit"),
    path("<str:job_id>/delete/", views.job_delete, name="delete"),
    path("<str:job_id>/meta/", views.job_meta, name="meta"),
    path("<str:job_id>/deploy/", views.job_deploy, name="deploy"),
    path("<str:job_id>/predict/", views.job_predict, name="predict"),
    path("<str:job_id>/predict/file/", views.job_predict_file, name="predict_file"),
    path("<str:job_id>/batches/<str:batch_id>/", views.job_batch, name="batch"),
    path(
        "<str:job_id>/batches/<str:batch_id>/download/",
        views.job_batch_download,
        name="batch_download",
    ),
    path(
        "<str:job_id>/batches/<str:batch_id>/delete/", views.job_batch_delete, name="batch_delete"
    ),
    path("<str:job_id>/artifacts/<str:name>", views.job_artifact, name="artifact"),
    path("<str:job_id>/reports/<str:name>", views.job_report, name="report"),
]

# The configure page is a dataset's page, `/datasets/<id>/` (`datasets:detail`), with its
# fragments: its views are ours, and automl_lite/urls.py mounts them in the datasets namespace.
configure_urlpatterns = [
    path("<str:dataset_id>/", views.job_configure, name="detail"),
    path("<str:dataset_id>/analysis/", views.job_configure_analysis, name="analysis"),
    path("<str:dataset_id>/target/", views.job_configure_target, name="target"),
]
