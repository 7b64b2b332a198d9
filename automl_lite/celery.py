"""The Celery app: the embedded SQLite broker in local mode, SQS in AWS mode."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "automl_lite.settings")

app = Celery("automl_lite")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
