"""Signed-cookie sessions (AWS mode's default): a polling page reads no session row."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.jobs.factories import store_dataset, store_job
from training_image.contract import JobStatus

pytestmark = pytest.mark.django_db

SIGNED = "django.contrib.sessions.backends.signed_cookies"


def _polls(client: Client, job_id: str) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            response = client.get(f"/jobs/{job_id}/progress/", HTTP_HX_REQUEST="true")
            assert response.status_code == 200
    return [q["sql"] for q in queries.captured_queries]


def test_a_poll_reads_no_session_row_with_signed_cookie_sessions(settings, alice):
    settings.SESSION_ENGINE = SIGNED
    job = store_job(alice, store_dataset(alice), status=JobStatus.RUNNING)
    client = Client()
    client.force_login(alice)

    sql = _polls(client, job.job_id)

    assert not [q for q in sql if "django_session" in q]
    assert len([q for q in sql if "auth_user" in q]) == 3  # the login's user, one row per poll


def test_database_sessions_would_read_one_per_poll(settings, alice):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    job = store_job(alice, store_dataset(alice), status=JobStatus.RUNNING)
    client = Client()
    client.force_login(alice)

    sql = _polls(client, job.job_id)

    assert len([q for q in sql if "django_session" in q]) >= 3
