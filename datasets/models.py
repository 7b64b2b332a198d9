"""No ORM data lives here: dataset records belong to the dataset repository (SQLite or DynamoDB).

`DatasetRecord` is an unmanaged model with no table. It only gives the Django admin an entry
("Datasets" on the admin index) and staff permissions (view/change/delete) to grant;
datasets/admin.py serves every admin page for it from the repository.
"""

from __future__ import annotations

from django.db import models


class DatasetRecord(models.Model):
    dataset_id = models.CharField(primary_key=True, max_length=64)

    class Meta:
        managed = False
        verbose_name = "dataset"
        verbose_name_plural = "datasets"
        default_permissions = ("view", "change", "delete")

    def __str__(self) -> str:
        return self.dataset_id
