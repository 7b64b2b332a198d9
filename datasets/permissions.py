"""Object permissions of the datasets API (CONVENTIONS 18)."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from core.access import can_see_all


class IsOwner(BasePermission):
    """A dataset is visible to its owner, and to staff."""

    message = "Not found."

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        return str(getattr(obj, "owner_id", "")) == str(request.user.pk) or can_see_all(
            request.user
        )
