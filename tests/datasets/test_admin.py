"""Datasets in the Django admin: staff list every owner's datasets, fail stuck ones, delete."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse

from automl_lite import wiring
from tests.conftest import make_dataset, make_job
from training_image.contract import DatasetStatus

pytestmark = pytest.mark.django_db

LIST_URL = "/admin/datasets/datasetrecord/"


def detail_url(dataset_id: str) -> str:
    return reverse("admin:datasets_datasetrecord_change", args=[dataset_id])


@pytest.fixture
def staff(django_user_model):
    user = django_user_model.objects.create_user("staffer", "s@example.com", "pw", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=["datasets", "jobs"])
    )
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def repo():
    return wiring.dataset_repository()


def stored_dataset(repo, owner, **overrides):
    dataset = repo.add(make_dataset(owner_id=str(owner.pk), **overrides))
    wiring.storage("datasets").save(dataset.storage_key, ContentFile(b"a,b\n1,2\n"))
    return dataset


def test_it_lists_every_owners_datasets(staff, repo, alice, bob):
    mine = stored_dataset(repo, alice, filename="penguins.csv")
    theirs = stored_dataset(repo, bob, filename="houses.csv", status=DatasetStatus.ANALYZING)
    body = staff.get(LIST_URL).content.decode()
    assert mine.dataset_id in body and theirs.dataset_id in body
    assert "penguins.csv" in body and "bob" in body
    body = staff.get(LIST_URL, {"status": "analyzing"}).content.decode()
    assert theirs.dataset_id in body and mine.dataset_id not in body
    body = staff.get(LIST_URL, {"q": "penguin"}).content.decode()
    assert mine.dataset_id in body and theirs.dataset_id not in body


def test_it_redirects_a_non_staff_user_to_the_admin_login(alice_client):
    response = alice_client.get(LIST_URL)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_it_shows_the_jobs_trained_on_a_dataset(staff, repo, alice):
    dataset = stored_dataset(repo, alice)
    job = wiring.job_repository().add(
        make_job(owner_id=str(alice.pk), dataset_id=dataset.dataset_id)
    )
    body = staff.get(detail_url(dataset.dataset_id)).content.decode()
    assert reverse("admin:jobs_jobrecord_change", args=[job.job_id]) in body
    assert 'value="mark_failed"' not in body  # a ready dataset is not stuck


def test_it_marks_a_stuck_upload_failed(staff, repo, alice):
    dataset = stored_dataset(repo, alice, status=DatasetStatus.UPLOADING)
    staff.post(detail_url(dataset.dataset_id), {"action": "mark_failed"})
    failed = repo.get(dataset.dataset_id)
    assert failed.status == "failed" and "Upload the file again" in failed.error_message


def test_it_refuses_to_delete_a_dataset_that_jobs_use(staff, repo, alice):
    dataset = stored_dataset(repo, alice)
    wiring.job_repository().add(make_job(owner_id=str(alice.pk), dataset_id=dataset.dataset_id))
    response = staff.post(
        LIST_URL,
        {"action": "delete", "_selected_action": [dataset.dataset_id], "confirmed": "yes"},
        follow=True,
    )
    assert "delete them first" in response.content.decode()
    assert repo.get(dataset.dataset_id) is not None


def test_it_deletes_a_dataset_and_its_file(staff, repo, alice):
    dataset = stored_dataset(repo, alice)
    staff.post(detail_url(dataset.dataset_id), {"action": "delete", "confirmed": "yes"})
    assert repo.get(dataset.dataset_id) is None
    assert not wiring.storage("datasets").exists(dataset.storage_key)
