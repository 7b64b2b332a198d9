"""Dataset reads: one record for a user, and a user's list.

"Not found" is always `Http404` with the reference API's text: a malformed id, a
missing record and another user's record look the same from outside (staff see all).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import Http404

from automl_lite import wiring
from core.access import can_see_all
from core.ids import is_valid_id
from core.pagination import Page
from training_image.contract import Dataset

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    from datasets.repository import DatasetRepository

    User = AbstractBaseUser | AnonymousUser


def not_found(dataset_id: str) -> Http404:
    return Http404(f"Dataset {dataset_id} not found")


def dataset_get(
    *, dataset_id: str, user: User, repository: DatasetRepository | None = None
) -> Dataset:
    """The dataset `dataset_id` if `user` may see it.

    Raises:
        Http404: malformed id, no such dataset, or someone else's (staff see every one).
    """
    if not is_valid_id(dataset_id):
        raise not_found(dataset_id)
    repository = repository or wiring.dataset_repository()
    dataset = repository.get(str(dataset_id))
    if dataset is None or (dataset.owner_id != str(user.pk) and not can_see_all(user)):
        raise not_found(dataset_id)
    return dataset


def dataset_list(
    *,
    user: User,
    limit: int = 20,
    cursor: str | None = None,
    repository: DatasetRepository | None = None,
) -> Page[Dataset]:
    """The user's datasets, newest first (an index query; `cursor` continues a page).

    Raises:
        InvalidInput: a malformed cursor.
    """
    repository = repository or wiring.dataset_repository()
    return repository.list_for_owner(str(user.pk), limit=limit, cursor=cursor)
