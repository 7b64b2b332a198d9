"""The Celery app: the embedded SQLite broker in local mode, SQS in AWS mode."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "automl_lite.settings")

# Every task's base: SQS-aware retries and a final-failure hook (core/task_base.py).
app = Celery("automl_lite", task_cls="core.task_base:AutomlTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
