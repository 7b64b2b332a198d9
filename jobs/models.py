"""No ORM data lives here: job records belong to the job repository (SQLite file or DynamoDB).

`JobRecord` is an unmanaged model with no table. It only gives the Django admin an entry
("Jobs" on the admin index) and staff permissions (view/change/delete) to grant;
jobs/admin.py serves every admin page for it from the repository.
"""

from __future__ import annotations

from django.db import models


class JobRecord(models.Model):
    job_id = models.CharField(primary_key=True, max_length=64)

    class Meta:
        managed = False
        verbose_name = "job"
        verbose_name_plural = "jobs"
        default_permissions = ("view", "change", "delete")

    def __str__(self) -> str:
        return self.job_id
