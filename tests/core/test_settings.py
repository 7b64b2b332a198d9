"""Settings come from the environment; bad values stop start-up with a clear message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

AWS_ENV = {
    "AUTOML_BACKEND": "aws",
    "AWS_REGION": "eu-west-1",
    "DJANGO_SECRET_KEY": "x" * 50,
    "AUTOML_LOCAL_AUTO_LOGIN": "false",
    "AUTOML_DATASETS_BUCKET": "d",
    "AUTOML_MODELS_BUCKET": "m",
    "AUTOML_REPORTS_BUCKET": "r",
    "AUTOML_DATASETS_TABLE": "datasets",
    "AUTOML_JOBS_TABLE": "jobs",
    "AUTOML_BATCHES_TABLE": "batches",
    "AUTOML_BATCH_JOB_QUEUE": "q",
    "AUTOML_BATCH_JOB_DEFINITION": "def",
}


def _check(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOML_", "DJANGO_"))}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**clean, "AUTOML_VAR_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_testserver_is_an_allowed_host_only_under_tests(tmp_path, settings):
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOML_", "DJANGO_"))}
    shown = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; "
            "print(settings.ALLOWED_HOSTS)",
        ],
        cwd=ROOT,
        env={
            **clean,
            "AUTOML_VAR_DIR": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "automl_lite.settings",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shown.returncode == 0, shown.stderr
    assert "testserver" not in shown.stdout and "127.0.0.1" in shown.stdout
    assert "testserver" in settings.ALLOWED_HOSTS


def test_it_starts_in_local_mode_with_no_variables(tmp_path):
    result = _check({}, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"AUTOML_BACKEND": "gcp"}, "AUTOML_BACKEND must be 'local' or 'aws', got 'gcp'"),
        ({"AUTOML_MAX_UPLOAD_BYTES": "lots"}, "AUTOML_MAX_UPLOAD_BYTES must be an integer"),
        ({"AUTOML_LOCAL_CONCURRENCY": "0"}, "AUTOML_LOCAL_CONCURRENCY must be between 1 and 64"),
        ({"DJANGO_DEBUG": "maybe"}, "DJANGO_DEBUG must be true or false"),
    ],
)
def test_it_rejects_bad_values_at_start_up(tmp_path, env, message):
    result = _check(env, tmp_path)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr


@pytest.mark.parametrize(
    "missing",
    sorted(
        k
        for k in AWS_ENV
        if k.startswith("AUTOML_") and k != "AUTOML_BACKEND" and k != "AUTOML_LOCAL_AUTO_LOGIN"
    ),
)
def test_it_names_each_missing_aws_variable(tmp_path, missing):
    env = {k: v for k, v in AWS_ENV.items() if k != missing}
    result = _check(env, tmp_path)
    assert result.returncode != 0
    assert f"{missing} is required when AUTOML_BACKEND=aws" in result.stderr


def test_it_refuses_auto_login_in_aws_mode(tmp_path):
    result = _check({**AWS_ENV, "AUTOML_LOCAL_AUTO_LOGIN": "true"}, tmp_path)
    assert "AUTOML_LOCAL_AUTO_LOGIN cannot be enabled in AWS mode" in result.stderr


def test_it_requires_a_secret_key_in_aws_mode(tmp_path):
    env = {k: v for k, v in AWS_ENV.items() if k != "DJANGO_SECRET_KEY"}
    result = _check(env, tmp_path)
    assert "DJANGO_SECRET_KEY (or DJANGO_SECRET_KEY_FILE or DJANGO_SECRET_KEY_SECRET_ARN) is" in (
        result.stderr
    )


def test_it_reads_the_secret_key_from_a_file(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s" * 60 + "\n")
    env = {k: v for k, v in AWS_ENV.items() if k != "DJANGO_SECRET_KEY"}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings; print(settings.SECRET_KEY)",
        ],
        cwd=ROOT,
        env={
            **os.environ,
            **env,
            "AUTOML_VAR_DIR": str(tmp_path),
            "DJANGO_SECRET_KEY_FILE": str(secret),
            "DJANGO_SETTINGS_MODULE": "automl_lite.settings",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "s" * 60
