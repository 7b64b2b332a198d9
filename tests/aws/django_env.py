"""Django configured from a process environment, as a deployed function would be.

`automl_lite/settings.py` is executed afresh with exactly the given environment, and every
setting it defines replaces the test's: no hand-made STORAGES, bucket or table names. Two
things stay the test's own, each for a stated reason (`KEPT`).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

SETTINGS_FILE = Path(__file__).resolve().parents[2] / "automl_lite" / "settings.py"

KEPT = {
    # pytest-django's test database stands in for the stack's PostgreSQL (Django's own
    # tables: users and sessions), which is not part of what moto runs.
    "DATABASES",
    # Logging is the test runner's.
    "LOGGING",
    # pytest-django's in-memory outbox stands in for the deployment's SMTP server.
    "EMAIL_BACKEND",
}
# The image runs `collectstatic` at build time (deploy/web.Dockerfile); tests do not build it,
# so pages render their static links from the finders instead of the build's manifest.
TEST_STATICFILES = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}


def load_settings(environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings module's values when run with exactly `environ` as os.environ."""
    spec = importlib.util.spec_from_file_location("automl_lite._settings_under_test", SETTINGS_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with mock.patch.dict(os.environ, dict(environ), clear=True):
        spec.loader.exec_module(module)
    return {name: getattr(module, name) for name in dir(module) if name.isupper()}


@contextmanager
def django_configured_from(settings: Any, environ: Mapping[str, str]) -> Iterator[dict[str, Any]]:
    """Apply `load_settings(environ)` to pytest-django's `settings` fixture for one block,
    with the adapters rebuilt (wiring) on the way in and out."""
    from django.conf import settings as current

    from automl_lite import wiring

    values = load_settings(environ)
    for name, value in values.items():
        if name in KEPT:
            continue
        if name == "STORAGES":
            value = {**value, "staticfiles": TEST_STATICFILES}
        # Re-setting an unchanged INSTALLED_APPS would rebuild the app registry for nothing.
        if getattr(current, name, object()) == value:
            continue
        setattr(settings, name, value)
    wiring.reset()
    try:
        yield values
    finally:
        wiring.reset()
