"""Forms that say what is wrong: htmx swaps a refusal, timestamps read as people say them,
and the pieces of a page that change (dataset status, "Started") update themselves."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from jobs.templatetags.job_format import ago, local_time, when
from tests.jobs.factories import store_job
from training_image.contract import DatasetStatus, JobStatus

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC)


def test_htmx_swaps_a_refusal_so_the_form_shows_it(alice_client):
    html = alice_client.get("/jobs/").content.decode()
    config = re.search(r'<meta name="htmx-config" content=\'([^\']+)\'>', html).group(1)
    assert '"code":"^(400|409|413|422)$","swap":true' in config
    assert config.index("400|409") < config.index('"[45].."')  # the refusal rule wins


def test_twelve_tags_come_back_refused_not_saved(alice_client, alice, iris):
    job = store_job(alice, iris, status=JobStatus.COMPLETED)
    tags = ", ".join(f"t{i}" for i in range(12))
    response = alice_client.post(
        f"/jobs/{job.job_id}/meta/", {"tags": tags, "notes": ""}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "Maximum 10 tags allowed per job" in html and ">Saved<" not in html
    assert f'value="{tags}"' in html  # what the user typed stays in the field


@pytest.mark.parametrize(
    ("moment", "words"),
    [
        (NOW - dt.timedelta(seconds=20), "just now"),
        (NOW - dt.timedelta(minutes=3, seconds=10), "3 min ago"),
        (NOW - dt.timedelta(hours=5), "5 h ago"),
        (NOW - dt.timedelta(days=1), "1 day ago"),
        (NOW - dt.timedelta(days=3), "3 days ago"),
        (dt.datetime(2026, 10, 2, tzinfo=dt.UTC), "Oct 2"),
        (dt.datetime(2025, 10, 2, tzinfo=dt.UTC), "Oct 2, 2025"),
    ],
)
def test_times_read_as_people_say_them(moment, words):
    assert ago(moment, NOW) == words


def test_time_tags_carry_the_exact_moment_for_the_local_clock():
    html = when("2026-12-03T09:15:00.000000Z")
    assert html.startswith('<time datetime="2026-12-03T09:15:00+00:00" data-when="ago"')
    assert 'title="Dec 3, 2026 09:15:00 UTC"' in html
    assert "2026-12-03T09:15" not in html.split(">", 1)[1]  # no raw ISO text for the reader
    assert local_time("2026-12-03T09:15:00.000000Z").endswith(">Dec 3, 2026 09:15:00 UTC</time>")
    assert "—" in when(None) and "—" in local_time("")


def test_the_history_shows_human_times(alice_client, alice, iris):
    store_job(alice, iris, status=JobStatus.COMPLETED, created_at="2025-01-05T08:00:00.000000Z")
    html = alice_client.get("/jobs/").content.decode()
    assert '<time datetime="2025-01-05T08:00:00+00:00" data-when="ago"' in html
    assert ">Jan 5, 2025</time>" in html
    assert "/static/js/time.js" in html


def test_started_fills_in_by_itself_while_the_page_polls(alice_client, alice, iris):
    job = store_job(alice, iris, status=JobStatus.RUNNING, started_at="2026-12-03T09:00:00.000000Z")
    page = alice_client.get(f"/jobs/{job.job_id}/").content.decode()
    assert page.count('id="job-timeline"') == 1 and "hx-swap-oob" not in page
    fragment = alice_client.get(f"/jobs/{job.job_id}/progress/?live=1", HTTP_HX_REQUEST="true")
    html = fragment.content.decode()
    assert '<div class="table-wrap" id="job-timeline" hx-swap-oob="true">' in html
    timeline = html.split('id="job-timeline"')[1]
    assert "Started" in timeline and 'datetime="2026-12-03T09:00:00+00:00"' in timeline


def test_the_analyzing_badge_follows_the_analysis(alice_client, alice, iris):
    from automl_lite import wiring

    wiring.dataset_repository().update(iris.dataset_id, status=DatasetStatus.ANALYZING)
    page = alice_client.get(f"/datasets/{iris.dataset_id}/").content.decode()
    assert '<span class="badge dot analyzing" id="dataset-status">' in page
    wiring.dataset_repository().update(iris.dataset_id, status=DatasetStatus.READY)
    fragment = alice_client.get(f"/datasets/{iris.dataset_id}/analysis/", HTTP_HX_REQUEST="true")
    html = fragment.content.decode()
    assert '<p class="muted" id="dataset-summary" hx-swap-oob="true">' in html
    assert '<span class="badge dot ready" id="dataset-status">ready</span>' in html
