"""Jobs API paths under /api/ (the reference's paths: no trailing slash, one tolerated)."""

from __future__ import annotations

from django.urls import re_path

from jobs import api

JOB = r"(?P<job_id>[^/]+)"
BATCH = r"(?P<batch_id>[^/]+)"

urlpatterns = [
    re_path(r"^train/?$", api.JobTrainApi.as_view(), name="train"),
    re_path(r"^jobs/?$", api.JobListApi.as_view(), name="job-list"),
    re_path(rf"^jobs/{JOB}/?$", api.JobResourceApi.as_view(), name="job-detail"),
    re_path(rf"^jobs/{JOB}/deploy/?$", api.JobDeployApi.as_view(), name="job-deploy"),
    re_path(rf"^jobs/{JOB}/cancel/?$", api.JobCancelApi.as_view(), name="job-cancel"),
    re_path(rf"^jobs/{JOB}/resubmit/?$", api.JobResubmitApi.as_view(), name="job-resubmit"),
    re_path(
        rf"^jobs/{JOB}/predictions/?$", api.JobPredictFileApi.as_view(), name="job-predictions"
    ),
    re_path(rf"^jobs/{JOB}/batches/?$", api.JobBatchesApi.as_view(), name="job-batches"),
    re_path(
        rf"^jobs/{JOB}/batches/{BATCH}/?$",
        api.JobBatchResourceApi.as_view(),
        name="job-batch-detail",
    ),
    re_path(
        rf"^jobs/{JOB}/batches/{BATCH}/file/?$",
        api.JobBatchFileApi.as_view(),
        name="job-batch-file",
    ),
    re_path(
        rf"^jobs/{JOB}/batches/{BATCH}/validation/?$",
        api.JobBatchValidationApi.as_view(),
        name="job-batch-validation",
    ),
    re_path(
        rf"^jobs/{JOB}/batches/{BATCH}/confirm/?$",
        api.JobBatchConfirmApi.as_view(),
        name="job-batch-confirm",
    ),
    re_path(rf"^predict/{JOB}/?$", api.JobPredictApi.as_view(), name="predict"),
    re_path(rf"^predict/{JOB}/info/?$", api.JobPredictInfoApi.as_view(), name="predict-info"),
]
