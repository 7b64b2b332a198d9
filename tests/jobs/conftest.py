"""Fixtures of the jobs tests: a FakeRunner wired at the runner seam, repositories, iris."""

from __future__ import annotations

import pytest

from tests.jobs.factories import FakeRunner, store_dataset


@pytest.fixture(autouse=True)
def _empty_model_cache():
    """Each test loads its own models: the process's ONNX session cache starts empty."""
    from jobs.inference import model_cache

    model_cache.clear()
    yield
    model_cache.clear()


@pytest.fixture
def runner(monkeypatch):
    """A FakeRunner wired in place of the configured runner."""
    from automl_lite import wiring

    fake = FakeRunner()

    def wired() -> FakeRunner:
        return fake

    wired.cache_clear = lambda: None  # wiring.reset() may run before monkeypatch undoes this
    monkeypatch.setattr(wiring, "runner", wired)
    return fake


@pytest.fixture
def jobs_repo(db):
    from automl_lite import wiring

    return wiring.job_repository()


@pytest.fixture
def datasets_repo(db):
    from automl_lite import wiring

    return wiring.dataset_repository()


@pytest.fixture
def iris(alice):
    return store_dataset(alice)
