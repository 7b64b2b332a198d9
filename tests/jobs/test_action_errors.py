"""The application-error → message mapping of the HTML actions (core/view_errors.py).

A refused action shows its reason as the page's message and goes back to the record's
page: a redirect for a plain POST, `HX-Redirect` for htmx. Nothing changes.
"""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages

from automl_lite import wiring
from tests.jobs.factories import store_job
from training_image.contract import JobStatus

CANCEL_REFUSED = "only pending, queued or running jobs can be cancelled"


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_it_redirects_a_refused_post_back_with_the_reason(alice_client, alice, iris, runner):
    job = store_job(alice, iris, status=JobStatus.COMPLETED)
    response = alice_client.post(f"/jobs/{job.job_id}/cancel/")
    assert response.status_code == 302
    assert response["Location"] == f"/jobs/{job.job_id}/"
    assert any(CANCEL_REFUSED in m for m in _messages(response))
    assert wiring.job_repository().get(job.job_id).status == JobStatus.COMPLETED
    page = alice_client.get(response["Location"]).content.decode()
    assert CANCEL_REFUSED in page


def test_it_sends_htmx_to_the_page_with_the_reason(alice_client, alice, iris, runner):
    job = store_job(alice, iris, status=JobStatus.COMPLETED)
    response = alice_client.post(f"/jobs/{job.job_id}/cancel/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response["HX-Redirect"] == f"/jobs/{job.job_id}/"
    assert response.content == b""
    assert any(CANCEL_REFUSED in m for m in _messages(response))
    assert runner.cancelled == []


@pytest.mark.parametrize("htmx", [False, True])
def test_it_keeps_the_fragment_error_for_htmx_and_the_message_otherwise(
    alice_client, alice, iris, htmx
):
    job = store_job(alice, iris, status=JobStatus.COMPLETED)
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = alice_client.post(f"/jobs/{job.job_id}/meta/", {"tags": "x" * 51}, **headers)
    reason = "Each tag must be 50 characters or less"
    if htmx:
        assert response.status_code == 400
        assert reason in response.content.decode()  # in the card, beside the form
    else:
        assert response.status_code == 302
        assert response["Location"] == f"/jobs/{job.job_id}/"
        assert reason in _messages(response)
    assert wiring.job_repository().get(job.job_id).tags in (None, [])
