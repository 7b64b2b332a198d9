"""The first page at `/`: what the product does, three steps and the recent runs."""

from __future__ import annotations

import pytest

from tests.jobs.factories import store_job
from training_image.contract import JobStatus

pytestmark = pytest.mark.django_db


def test_it_explains_the_product_and_its_three_steps(alice_client):
    response = alice_client.get("/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Train a model from a CSV file" in html
    assert html.count('<span class="step-number">') == 3
    assert 'href="/datasets/upload/" id="home-upload"' in html
    assert "No runs yet" in html  # alice has none


def test_it_lists_the_users_recent_runs_only(alice_client, alice, bob, iris):
    mine = [store_job(alice, iris, status=JobStatus.COMPLETED) for _ in range(6)]
    theirs = store_job(bob, None, dataset_name="secret.csv")
    html = alice_client.get("/").content.decode()
    recent = html.split('id="recent-runs"')[1]
    assert sum(job.job_id in recent for job in mine) == 5
    assert "All 6 runs" in recent
    assert theirs.job_id not in html and "secret.csv" not in html


def test_anonymous_visitors_see_the_page_and_a_sign_in(anon):
    response = anon.get("/")
    html = response.content.decode()
    assert response.status_code == 200 and "Sign in to start" in html
    assert 'id="recent-runs"' not in html


def test_the_brand_links_home(alice_client):
    assert '<a class="brand" href="/">' in alice_client.get("/jobs/").content.decode()


def test_it_rejects_post(alice_client):
    assert alice_client.post("/").status_code == 405
