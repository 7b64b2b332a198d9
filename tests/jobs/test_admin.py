"""Jobs in the Django admin: staff list, filter, inspect and act on every owner's jobs."""

from __future__ import annotations

from unittest import mock

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from automl_lite import wiring
from jobs.admin import JobRecordAdmin
from jobs.runners.local import LocalRunner
from tests.conftest import make_dataset, make_job
from training_image.contract import ErrorType, JobStatus

pytestmark = pytest.mark.django_db

LIST_URL = "/admin/jobs/jobrecord/"


def detail_url(job_id: str) -> str:
    return reverse("admin:jobs_jobrecord_change", args=[job_id])


def staff_client(django_user_model, *codenames: str) -> Client:
    user = django_user_model.objects.create_user(
        "staffer", "staff@example.com", "pw", is_staff=True
    )
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="jobs", codename__in=codenames)
    )
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def staff(django_user_model):
    return staff_client(django_user_model, "view_jobrecord", "change_jobrecord", "delete_jobrecord")


@pytest.fixture
def repo():
    return wiring.job_repository()


def add_job(repo, owner, status=JobStatus.PENDING, **overrides):
    job = repo.add(make_job(owner_id=str(owner.pk), **overrides))
    path = {
        JobStatus.PENDING: [],
        JobStatus.QUEUED: [JobStatus.QUEUED],
        JobStatus.RUNNING: [JobStatus.QUEUED, JobStatus.RUNNING],
        JobStatus.COMPLETED: [JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.COMPLETED],
        JobStatus.FAILED: [JobStatus.QUEUED, JobStatus.FAILED],
    }[status]
    for step in path:
        job = repo.transition(job.job_id, step)
    return job


def test_it_lists_every_owners_jobs_for_staff(staff, repo, alice, bob):
    mine = add_job(repo, alice, target_column="species")
    theirs = add_job(repo, bob, JobStatus.RUNNING, target_column="price")
    response = staff.get(LIST_URL)
    assert response.status_code == 200
    body = response.content.decode()
    assert mine.job_id in body and theirs.job_id in body
    assert "alice" in body and "bob" in body and "species" in body


def test_it_links_jobs_from_the_admin_index(staff):
    body = staff.get("/admin/").content.decode()
    assert f'href="{LIST_URL}"' in body


def test_it_redirects_a_non_staff_user_to_the_admin_login(alice_client, repo, alice):
    add_job(repo, alice)
    response = alice_client.get(LIST_URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_it_redirects_an_anonymous_visitor_to_the_admin_login(client):
    response = client.get(LIST_URL)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_it_forbids_staff_without_the_job_permission(django_user_model):
    client = staff_client(django_user_model)
    assert client.get(LIST_URL).status_code == 403


def test_it_filters_by_status(staff, repo, alice):
    running = add_job(repo, alice, JobStatus.RUNNING)
    done = add_job(repo, alice, JobStatus.COMPLETED)
    body = staff.get(LIST_URL, {"status": "running"}).content.decode()
    assert running.job_id in body and done.job_id not in body


def test_it_filters_by_owner(staff, repo, alice, bob):
    mine = add_job(repo, alice)
    theirs = add_job(repo, bob)
    body = staff.get(LIST_URL, {"owner": "bob"}).content.decode()
    assert theirs.job_id in body and mine.job_id not in body
    assert "No user is called" in staff.get(LIST_URL, {"owner": "carol"}).content.decode()


def test_it_filters_by_creation_date(staff, repo, alice):
    old = add_job(repo, alice, created_at="2020-01-01T00:00:00.000000Z")
    new = add_job(repo, alice)
    body = staff.get(LIST_URL, {"days": "30"}).content.decode()
    assert new.job_id in body and old.job_id not in body


def test_it_searches_by_target_name_and_ids(staff, repo, alice):
    species = add_job(repo, alice, target_column="species", dataset_name="penguins.csv")
    other = add_job(repo, alice, target_column="price", dataset_name="houses.csv")
    body = staff.get(LIST_URL, {"q": "SPECIES"}).content.decode()
    assert species.job_id in body and other.job_id not in body
    body = staff.get(LIST_URL, {"q": "houses"}).content.decode()
    assert other.job_id in body and species.job_id not in body
    body = staff.get(LIST_URL, {"q": other.job_id}).content.decode()
    assert other.job_id in body and species.job_id not in body
    body = staff.get(LIST_URL, {"q": species.dataset_id}).content.decode()
    assert species.job_id in body and other.job_id not in body


def test_it_pages_with_a_cursor(staff, repo, alice, monkeypatch):
    monkeypatch.setattr(JobRecordAdmin, "page_size", 2)
    jobs = [add_job(repo, alice) for _ in range(3)]
    first = staff.get(LIST_URL)
    next_url = first.context["next_url"]
    assert len(first.context["rows"]) == 2 and next_url
    second = staff.get(LIST_URL + next_url)
    shown = [r["id"] for r in first.context["rows"] + second.context["rows"]]
    assert sorted(shown) == sorted(j.job_id for j in jobs)
    assert second.context["next_url"] is None


def test_it_reports_a_broken_cursor_on_the_page(staff):
    response = staff.get(LIST_URL, {"cursor": "garbage!"})
    assert response.status_code == 200
    assert "Invalid pagination token" in response.content.decode()


def test_it_shows_a_job_in_detail(staff, repo, alice):
    job = add_job(repo, alice, JobStatus.RUNNING, progress={"trials": 12, "phase": "searching"})
    body = staff.get(detail_url(job.job_id)).content.decode()
    assert (
        job.target_column in body
        and "<pre>{\n  &quot;phase&quot;: &quot;searching&quot;,\n  &quot;trials&quot;: 12\n}</pre>"
        in body
    )
    assert 'value="cancel"' in body and 'value="mark_failed"' in body
    assert 'value="resubmit"' not in body  # only failed jobs are resubmitted
    assert reverse("admin:datasets_datasetrecord_change", args=[job.dataset_id]) in body


def test_it_sends_an_unknown_id_back_to_the_list(staff):
    response = staff.get(detail_url("no-such-job"), follow=True)
    assert response.redirect_chain[-1][0] == LIST_URL
    assert "doesn’t exist" in response.content.decode()


def test_it_cancels_jobs_with_the_list_action(staff, repo, alice, bob):
    first = add_job(repo, alice, JobStatus.RUNNING)
    second = add_job(repo, bob, JobStatus.QUEUED)
    response = staff.post(
        LIST_URL, {"action": "cancel", "_selected_action": [first.job_id, second.job_id]}
    )
    assert response.status_code == 302
    assert repo.get(first.job_id).status == "cancelled"
    assert repo.get(second.job_id).status == "cancelled"
    assert LogEntry.objects.filter(object_id=first.job_id).exists()


def test_it_reports_an_action_that_does_not_apply(staff, repo, alice):
    done = add_job(repo, alice, JobStatus.COMPLETED)
    response = staff.post(
        LIST_URL, {"action": "cancel", "_selected_action": [done.job_id]}, follow=True
    )
    assert "only pending, queued or running jobs can be cancelled" in response.content.decode()
    assert repo.get(done.job_id).status == "completed"


def test_it_marks_a_stuck_job_failed(staff, repo, alice):
    job = add_job(repo, alice, JobStatus.RUNNING, progress={"phase": "searching"})
    response = staff.post(detail_url(job.job_id), {"action": "mark_failed"})
    assert response.status_code == 302
    failed = repo.get(job.job_id)
    assert failed.status == "failed" and failed.error_type == ErrorType.LOST
    assert "staffer" in failed.error_message and failed.error_phase == "searching"


@mock.patch.object(LocalRunner, "submit", autospec=True, return_value="")
def test_it_resubmits_a_failed_job(submit, staff, repo, alice):
    dataset = wiring.dataset_repository().add(make_dataset(owner_id=str(alice.pk)))
    job = add_job(repo, alice, JobStatus.FAILED, dataset_id=dataset.dataset_id)
    repo.update(job.job_id, error_type=str(ErrorType.LOST), error_message="worker died")
    staff.post(detail_url(job.job_id), {"action": "resubmit"})
    again = repo.get(job.job_id)
    assert again.status == "queued" and again.attempt == 2 and again.error_message is None
    assert submit.call_count == 1


def test_it_deletes_a_job_and_returns_to_the_list(staff, repo, alice):
    job = add_job(repo, alice, JobStatus.COMPLETED)
    response = staff.post(detail_url(job.job_id), {"action": "delete", "confirmed": "yes"})
    assert response["Location"] == LIST_URL
    assert repo.get(job.job_id) is None


def test_a_bulk_delete_asks_first(staff, repo, alice):
    jobs = [add_job(repo, alice, JobStatus.COMPLETED) for _ in range(2)]
    ids = [j.job_id for j in jobs]
    asked = staff.post(LIST_URL, {"action": "delete", "_selected_action": ids})
    body = asked.content.decode()
    assert asked.status_code == 200 and "Are you sure?" in body
    assert "cannot be undone" in body and 'id="confirm-delete"' in body and "2 jobs" in body
    assert all(repo.get(i) is not None for i in ids)  # nothing deleted yet
    done = staff.post(LIST_URL, {"action": "delete", "_selected_action": ids, "confirmed": "yes"})
    assert done.status_code == 302 and all(repo.get(i) is None for i in ids)


def test_a_delete_from_the_detail_page_asks_first(staff, repo, alice):
    job = add_job(repo, alice, JobStatus.COMPLETED)
    asked = staff.post(detail_url(job.job_id), {"action": "delete"})
    assert asked.status_code == 200 and 'name="confirmed" value="yes"' in asked.content.decode()
    assert repo.get(job.job_id) is not None


def test_the_list_actions_are_labelled(staff, repo, alice):
    add_job(repo, alice)
    body = staff.get(LIST_URL).content.decode()
    assert '<label for="record-action">Action:</label>' in body
    assert "Run on the selected jobs" in body and ">Go<" not in body


def test_it_lets_view_only_staff_look_but_not_act(django_user_model, repo, alice):
    client = staff_client(django_user_model, "view_jobrecord")
    job = add_job(repo, alice, JobStatus.RUNNING)
    body = client.get(detail_url(job.job_id)).content.decode()
    assert job.job_id in body and 'value="cancel"' not in body
    response = client.post(LIST_URL, {"action": "cancel", "_selected_action": [job.job_id]})
    assert response.status_code == 403
    assert repo.get(job.job_id).status == "running"


def test_it_orders_the_list_by_latest_activity(staff, repo, alice):
    older = add_job(repo, alice)
    newer = add_job(repo, alice)
    repo.update(older.job_id, notes="touched")  # now the most recently updated
    rows = staff.get(LIST_URL).context["rows"]
    assert [r["id"] for r in rows] == [older.job_id, newer.job_id]
