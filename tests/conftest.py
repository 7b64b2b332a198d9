"""The test cast and isolation: every test gets its own records file and media folder.

Named cast (CONVENTIONS 30): `alice` owns things, `bob` is another user, `anon`
is an anonymous client. Factories build records with unique ids.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from training_image.contract import Dataset, DatasetStatus, Job, dataset_key, new_id

SHARED_DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
REQUIRE_SERVICES = os.environ.get("AUTOML_REQUIRE_SERVICES") == "1"


def service_available(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip with a reason when a service is absent; CI (AUTOML_REQUIRE_SERVICES=1) fails instead."""
    if service_available(host, port):
        return
    message = f"{name} is not running on {host}:{port}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} (AUTOML_REQUIRE_SERVICES=1)")
    pytest.skip(message)


def shared_datasets() -> Path:
    """../shared/datasets, or skip the test with a reason when it is absent."""
    if not (SHARED_DATASETS / "manifest.json").exists():
        pytest.skip(f"shared datasets not present at {SHARED_DATASETS}")
    return SHARED_DATASETS


@pytest.fixture(autouse=True, scope="session")
def _test_client_host(django_test_environment):
    """`testserver`, the test client's host, is allowed under tests only.

    pytest-django's test environment (Django's `setup_test_environment`) adds it; the
    settings default never holds it. Asserted here so a change of either shows at once.
    """
    from django.conf import settings

    if "testserver" not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]


@pytest.fixture(autouse=True)
def _isolated_backend(request, tmp_path):
    """Point records, media and the broker at tmp_path; run Celery tasks eagerly."""
    if "django_db_setup" not in request.fixturenames and not request.node.get_closest_marker(
        "django_db"
    ):
        # Pure tests (training_image, contract) need no Django at all.
        yield
        return
    settings = request.getfixturevalue("settings")
    from automl_lite import wiring
    from automl_lite.celery import app as celery_app

    media = tmp_path / "media"
    settings.MEDIA_ROOT = media
    settings.AUTOML_RECORDS_PATH = tmp_path / "records.sqlite3"
    settings.STORAGES = {
        **{
            alias: {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": media / alias, "base_url": f"/media/{alias}/"},
            }
            for alias in ("default", "datasets", "models", "reports")
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.AUTOML_LOCAL_AUTO_LOGIN = False
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    wiring.reset()
    from django.core.management import call_command

    call_command("create_tables", verbosity=0)
    yield
    wiring.reset()


@pytest.fixture
def alice(django_user_model):
    return django_user_model.objects.create_user("alice", "alice@example.com", "pw-alice-123")


@pytest.fixture
def bob(django_user_model):
    return django_user_model.objects.create_user("bob", "bob@example.com", "pw-bob-123")


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def bob_client(alice, bob):
    from django.test import Client

    c = Client()
    c.force_login(bob)
    return c


@pytest.fixture
def anon(alice):
    from django.test import Client

    return Client()


def random_ref(prefix: str = "") -> str:
    return f"{prefix}{new_id()}"


def make_dataset(**overrides) -> Dataset:
    dataset_id = overrides.pop("dataset_id", new_id())
    filename = overrides.pop("filename", "data.csv")
    values = dict(
        dataset_id=dataset_id,
        owner_id="1",
        filename=filename,
        storage_key=dataset_key(dataset_id, filename),
        status=DatasetStatus.READY,
    )
    values.update(overrides)
    return Dataset(**values)


def make_job(**overrides) -> Job:
    values = dict(
        job_id=new_id(),
        owner_id="1",
        dataset_id=new_id(),
        target_column="target",
        dataset_name="data.csv",
    )
    values.update(overrides)
    return Job(**values)
