"""Django's tables on PostgreSQL (AWS mode) and Celery on Redis (optional broker).

Marked tests: they skip with a reason when the service is absent; CI sets
AUTOML_REQUIRE_SERVICES=1 so that a missing service fails instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import require_service

ROOT = Path(__file__).resolve().parents[2]


def _django(code: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    full_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "automl_lite.settings",
        "AUTOML_VAR_DIR": str(tmp_path),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.postgres
def test_it_migrates_and_authenticates_on_postgresql(tmp_path):
    require_service("PostgreSQL", "127.0.0.1", 5432)
    import psycopg

    name = f"automl_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    try:
        result = _django(
            "import django; django.setup()\n"
            "from django.core.management import call_command\n"
            "from django.db import connection\n"
            "call_command('migrate', verbosity=0)\n"
            "from django.contrib.auth import authenticate, get_user_model\n"
            "get_user_model().objects.create_user('carol', password='pw-carol-123')\n"
            # django-axes checks every sign-in against its request, as the login page does.
            "from django.test import RequestFactory\n"
            "r = RequestFactory().post('/accounts/login/')\n"
            "print(connection.vendor,"
            " authenticate(r, username='carol', password='pw-carol-123') is not None,"
            " authenticate(r, username='carol', password='wrong') is None)\n",
            {"DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{name}"},
            tmp_path,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == ["postgresql", "True", "True"]
    finally:
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.mark.redis
def test_it_runs_a_task_through_a_worker_on_redis(tmp_path):
    require_service("Redis", "127.0.0.1", 6379)
    db = 14
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "automl_lite.settings",
        "AUTOML_VAR_DIR": str(tmp_path),
        "CELERY_BROKER_URL": f"redis://127.0.0.1:6379/{db}",
        "CELERY_RESULT_BACKEND": f"redis://127.0.0.1:6379/{db}",
    }
    queue = f"q-{uuid.uuid4().hex[:8]}"
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "automl_lite",
            "worker",
            "-Q",
            queue,
            "-c",
            "1",
            "--pool",
            "solo",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        result = _django(
            "import django; django.setup()\n"
            "from core.tasks import ping\n"
            f"print(ping.apply_async(args=['abc'], queue='{queue}').get(timeout=120))\n",
            {k: env[k] for k in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND")},
            tmp_path,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "pong:abc"
    finally:
        worker.terminate()
        worker.wait(timeout=30)
