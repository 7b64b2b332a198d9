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
    path("<id:job_id>/", views.job_detail, name="detail"),
    path("<id:job_id>/progress/", views.job_progress, name="progress"),
    path("<id:job_id>/cancel/", views.job_cancel, name="cancel"),
    path("<id:job_id>/resubmit/", views.job_resubmit, name="resubmit"),
    path("<id:job_id>/delete/", views.job_delete, name="delete"),
    path("<id:job_id>/meta/", views.job_meta, name="meta"),
    path("<id:job_id>/deploy/", views.job_deploy, name="deploy"),
    path("<id:job_id>/predict/", views.job_predict, name="predict"),
    path("<id:job_id>/predict/file/", views.job_predict_file, name="predict_file"),
    path("<id:job_id>/batches/<id:batch_id>/", views.job_batch, name="batch"),
    path(
        "<id:job_id>/batches/<id:batch_id>/download/",
        views.job_batch_download,
        name="batch_download",
    ),
    path("<id:job_id>/batches/<id:batch_id>/delete/", views.job_batch_delete, name="batch_delete"),
    path(
        "<id:job_id>/batches/<id:batch_id>/validation/",
        views.job_batch_validation,
        name="batch_validation",
    ),
    path("<id:job_id>/artifacts/<str:name>", views.job_artifact, name="artifact"),
    path("<id:job_id>/reports/<str:name>", views.job_report, name="report"),
]

# The configure page is a dataset's page, `/datasets/<id>/` (`datasets:detail`), with its
# fragments: its views are ours, and automl_lite/urls.py mounts them in the datasets namespace.
configure_urlpatterns = [
    path("<id:dataset_id>/", views.job_configure, name="detail"),
    path("<id:dataset_id>/analysis/", views.job_configure_analysis, name="analysis"),
    path("<id:dataset_id>/target/", views.job_configure_target, name="target"),
]
