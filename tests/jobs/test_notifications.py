"""Run emails: opt-in per user, sent by the periodic sweep once per run (even when the record
is written twice), with the key metric and a link; console backend locally."""

from __future__ import annotations

import pytest
from django.core import mail

from automl_lite import wiring
from jobs import services
from jobs.models import JobNotification
from tests.jobs.factories import store_job
from training_image.contract import ErrorType, JobStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def opted_in(alice):
    services.notification_set(user_id=alice.pk, email_on_finish=True, email="alice@example.com")
    return alice


def completed(owner, dataset, **overrides):
    return store_job(
        owner,
        dataset,
        status=JobStatus.COMPLETED,
        metric="accuracy",
        metrics={"accuracy": 0.9565, "best_estimator": "lgbm", "training_time": 4.0},
        **overrides,
    )


def test_a_completed_run_is_emailed_once_with_its_score_and_link(opted_in, iris, settings):
    settings.AUTOML_SITE_URL = "https://automl.example.com"
    job = completed(opted_in, iris)
    assert services.jobs_notify_finished() == 1
    (email,) = mail.outbox
    assert email.to == ["alice@example.com"]
    assert email.subject == f"Run completed: {iris.filename} → species (Accuracy: 0.9565)"
    assert f"https://automl.example.com/jobs/{job.job_id}/" in email.body and "lgbm" in email.body
    # The record written again (tags, a late progress write) and the sweep run again: no repeat.
    wiring.job_repository().update(job.job_id, tags=["seen"])
    assert services.jobs_notify_finished() == 0 and services.job_notify(job=job) is False
    assert len(mail.outbox) == 1


def test_a_failed_run_says_why(opted_in, iris):
    job = store_job(
        opted_in,
        iris,
        status=JobStatus.FAILED,
        error_type=ErrorType.DATA,
        error_message="The target column has one value.",
    )
    assert services.job_notify(job=job) is True
    assert mail.outbox[0].subject.startswith("Run failed:")
    assert "The target column has one value." in mail.outbox[0].body


def test_a_resubmitted_run_is_a_new_run(opted_in, iris):
    import dataclasses

    job = store_job(opted_in, iris, status=JobStatus.FAILED, error_type=ErrorType.LOST)
    assert services.job_notify(job=job)
    assert services.job_notify(job=dataclasses.replace(job, attempt=2))
    assert len(mail.outbox) == 2


def test_nobody_is_emailed_without_opting_in(alice, bob, iris):
    completed(alice, iris)
    services.notification_set(user_id=bob.pk, email_on_finish=False, email="bob@example.com")
    assert services.jobs_notify_finished() == 0 and mail.outbox == []
    live = store_job(alice, iris, status=JobStatus.RUNNING)
    services.notification_set(user_id=alice.pk, email_on_finish=True, email="a@example.com")
    assert services.job_notify(job=live) is False  # only finished runs


def test_a_send_failure_is_retried_by_the_next_sweep(opted_in, iris, monkeypatch):
    from jobs.services import notify

    job = completed(opted_in, iris)

    def broken(*args, **kwargs):
        raise OSError("SMTP server unreachable")

    monkeypatch.setattr(notify, "send_mail", broken)
    assert services.jobs_notify_finished() == 0
    assert not JobNotification.objects.filter(job_id=job.job_id).exists()
    monkeypatch.undo()
    assert services.jobs_notify_finished() == 1 and len(mail.outbox) == 1


def test_runs_older_than_the_window_are_left_alone(opted_in, iris, settings):
    store_job(opted_in, iris, status=JobStatus.COMPLETED, updated_at="2020-01-01T00:00:00.000000Z")
    assert services.jobs_notify_finished() == 0


def test_the_periodic_sweep_sends_them(opted_in, iris):
    from jobs.tasks import reconcile_jobs

    completed(opted_in, iris)
    reconcile_jobs()
    assert len(mail.outbox) == 1


# --------------------------------------------------------------------------- the opt-in


def test_the_history_page_offers_the_opt_in(alice_client, alice, iris):
    completed(alice, iris)
    html = alice_client.get("/jobs/").content.decode()
    assert 'id="notify-card"' in html and 'id="notify-on" checked' not in html


def test_opting_in_through_htmx(alice_client, alice):
    response = alice_client.post(
        "/jobs/notifications/",
        {"email_on_finish": ["0", "1"], "email": "alice@work.example"},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert response.status_code == 200 and ">Saved<" in html and 'id="notify-on" checked' in html
    alice.refresh_from_db()
    assert alice.email == "alice@work.example"
    assert services.notifications_enabled(user_id=alice.pk)
    off = alice_client.post(
        "/jobs/notifications/", {"email_on_finish": "0", "email": "alice@work.example"}
    )
    assert off.status_code == 302 and not services.notifications_enabled(user_id=alice.pk)


@pytest.mark.parametrize(
    ("email", "message"), [("", "Give the address"), ("not-an-address", "is not an email address")]
)
def test_a_bad_address_is_refused_and_shown(alice_client, alice, email, message):
    response = alice_client.post(
        "/jobs/notifications/", {"email_on_finish": "1", "email": email}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert response.status_code == 400 and message in html and ">Saved<" not in html
    assert not services.notifications_enabled(user_id=alice.pk)


def test_the_opt_in_needs_a_signed_in_user_and_post(anon, alice_client):
    assert anon.post("/jobs/notifications/", {"email_on_finish": "1"}).status_code == 302
    assert alice_client.get("/jobs/notifications/").status_code == 405
