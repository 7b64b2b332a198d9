"""job_delete: every artifact (ONNX too), the live run, the model cache, and shared datasets."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile

from automl_lite import wiring
from jobs import services
from jobs.inference import LoadedModel, model_cache
from tests.jobs.factories import store_job
from training_image.contract import ARTIFACT_STORAGE, ARTIFACTS, JobStatus, artifact_key

pytestmark = pytest.mark.django_db


def with_artifacts(owner, dataset, **overrides):
    job = store_job(owner, dataset, status=JobStatus.COMPLETED, **overrides)
    keys = {}
    for name in ARTIFACTS:
        key = artifact_key(job.job_id, name)
        wiring.storage(ARTIFACT_STORAGE[name]).save(key, ContentFile(b"x"))
        keys[name] = key
    return wiring.job_repository().update(job.job_id, artifacts=keys)


def exists(name, key):
    return wiring.storage(ARTIFACT_STORAGE[name]).exists(key)


def test_it_deletes_every_artifact_including_onnx(alice, iris, runner, jobs_repo):
    job = with_artifacts(alice, iris)
    summary = services.job_delete(job=job, delete_data=False)
    assert jobs_repo.get(job.job_id) is None
    assert not any(exists(name, key) for name, key in job.artifacts.items())
    assert f"onnx_model: {job.artifacts['model.onnx']}" in summary.deleted_resources
    assert f"model: {job.artifacts['model.pkl']}" in summary.deleted_resources
    assert f"eda_report: {job.artifacts['eda_report.html']}" in summary.deleted_resources


def test_it_evicts_the_model_from_the_cache(alice, iris, runner):
    job = with_artifacts(alice, iris)
    model_cache._items[job.job_id] = LoadedModel(session=None, spec=None, card={})
    services.job_delete(job=job)
    assert job.job_id not in model_cache


def test_it_stops_a_running_job_before_deleting_it(alice, iris, runner, jobs_repo):
    job = store_job(alice, iris, status=JobStatus.RUNNING, runner_job_id="host:1")
    services.job_delete(job=job)
    assert runner.cancelled == [job.job_id]
    assert jobs_repo.get(job.job_id) is None


def test_it_deletes_the_dataset_when_asked_and_unused(alice, iris, runner, datasets_repo):
    job = with_artifacts(alice, iris)
    summary = services.job_delete(job=job, delete_data=True)
    assert datasets_repo.get(iris.dataset_id) is None
    assert not wiring.storage("datasets").exists(iris.storage_key)
    assert "dataset files: 1" in summary.deleted_resources
    assert f"dataset metadata: {iris.dataset_id}" in summary.deleted_resources


def test_it_keeps_a_dataset_another_job_still_uses(alice, iris, runner, datasets_repo, jobs_repo):
    job = with_artifacts(alice, iris)
    other = store_job(alice, iris, status=JobStatus.COMPLETED)
    summary = services.job_delete(job=job, delete_data=True)
    assert datasets_repo.get(iris.dataset_id) is not None
    assert wiring.storage("datasets").exists(iris.storage_key)
    assert summary.kept_resources == [f"dataset: {iris.dataset_id} (used by 1 other job)"]
    assert jobs_repo.get(other.job_id) is not None


def test_it_keeps_the_dataset_without_delete_data(alice, iris, runner, datasets_repo):
    services.job_delete(job=with_artifacts(alice, iris), delete_data=False)
    assert datasets_repo.get(iris.dataset_id) is not None
