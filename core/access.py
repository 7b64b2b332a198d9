"""The one access helper per record: every view and API reaches a record through these.

Each returns the record the signed-in user may see, or raises `Http404` (a malformed id,
a missing record and someone else's record look the same; staff see every record). The
reads themselves are the apps' selectors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
    from django.http import HttpRequest
    from rest_framework.request import Request

    from training_image.contract import Dataset, Job, PredictionBatch


def can_see_all(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Staff and superusers see every user's records."""
    return bool(getattr(user, "is_staff", False) or getattr(user, "is_superuser", False))


def job_for_user(request: HttpRequest | Request, job_id: str) -> Job:
    """The job `job_id` if the request's user may see it; 404 otherwise."""
    from jobs.selectors import job_get

    return job_get(job_id=job_id, user=request.user)


def batch_for_user(request: HttpRequest | Request, job: Job, batch_id: str) -> PredictionBatch:
    """The prediction batch `batch_id` of `job` (from `job_for_user`); 404 otherwise."""
    from jobs.selectors import batch_get

    return batch_get(job=job, batch_id=batch_id, user=request.user)


def dataset_for_user(request: HttpRequest | Request, dataset_id: str) -> Dataset:
    """The dataset `dataset_id` if the request's user may see it; 404 otherwise."""
    from datasets.selectors import dataset_get

    return dataset_get(dataset_id=dataset_id, user=request.user)
