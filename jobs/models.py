"""Job records are not ORM data: they belong to the job repository (SQLite file or DynamoDB).

`JobRecord` is an unmanaged model with no table. It only gives the Django admin an entry
("Jobs" on the admin index) and staff permissions (view/change/delete) to grant;
jobs/admin.py serves every admin page for it from the repository. The two small tables
here are Django's own data about users: who wants run emails, and which were sent.
"""

from __future__ import annotations

from django.conf import settings
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


class NotificationPreference(models.Model):
    """A user's choice to get an email when a run of theirs completes or fails (opt-in)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="job_notifications"
    )
    email_on_finish = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"{self.user}: {'on' if self.email_on_finish else 'off'}"


class JobNotification(models.Model):
    """The claim of one run's email: its unique key makes the email go out once per run
    (job id and attempt), however often the record is written or the sweep runs."""

    run_key = models.CharField(primary_key=True, max_length=100)
    job_id = models.CharField(max_length=64, db_index=True)
    sent_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.run_key
