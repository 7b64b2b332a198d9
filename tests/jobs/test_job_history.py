"""The job history: filters and search in the page and in `GET /api/jobs`, tiles, row delete."""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest

from automl_lite import wiring
from tests.jobs.factories import store_job
from training_image.contract import JobStatus

pytestmark = pytest.mark.django_db


def stamp(n: int) -> str:
    return f"2025-04-{n + 1:02d}T09:00:00.000000Z"


@pytest.fixture
def history(alice, bob, iris):
    """Alice's runs: two completed on iris (one tagged), one failed, one cancelled, one
    regression on another dataset; and one of Bob's."""
    runs = {
        "best": store_job(
            alice,
            iris,
            status=JobStatus.COMPLETED,
            tags=["baseline"],
            created_at=stamp(1),
            metrics={"accuracy": 0.97, "best_estimator": "lgbm", "training_time": 3.0},
        ),
        "worse": store_job(
            alice,
            iris,
            status=JobStatus.COMPLETED,
            created_at=stamp(2),
            metrics={"accuracy": 0.91, "best_estimator": "rf", "training_time": 2.0},
        ),
        "failed": store_job(alice, iris, status=JobStatus.FAILED, created_at=stamp(3)),
        "cancelled": store_job(alice, iris, status=JobStatus.CANCELLED, created_at=stamp(4)),
        "houses": store_job(
            alice,
            None,
            dataset_name="Houses.csv",
            target_column="price",
            problem_type="regression",
            metric="r2",
            created_at=stamp(5),
        ),
    }
    store_job(bob, None, dataset_name="bobs.csv", status=JobStatus.COMPLETED)
    return runs


def shown(html: str) -> set[str]:
    return set(re.findall(r'id="job-row-([0-9a-f-]{36})"', html))


# --------------------------------------------------------------------------- page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=completed", {"best", "worse"}),
        ("status=cancelled", {"cancelled"}),
        ("tag=baseline", {"best"}),
        ("problem_type=regression", {"houses"}),
        ("q=HOUSES", {"houses"}),
        ("q=price", {"houses"}),
        ("status=completed&tag=baseline", {"best"}),
    ],
)
def test_the_history_keeps_the_filters_in_the_url(alice_client, history, query, expected):
    response = alice_client.get(f"/jobs/?{query}")
    assert response.status_code == 200
    assert shown(response.content.decode()) == {history[name].job_id for name in expected}


def test_the_history_filters_by_dataset_and_fills_the_form(alice_client, history, iris):
    html = alice_client.get(f"/jobs/?dataset_id={iris.dataset_id}&q=iris").content.decode()
    assert shown(html) == {history[n].job_id for n in ("best", "worse", "failed", "cancelled")}
    assert f'<option value="{iris.dataset_id}" selected>' in html
    assert 'name="q" value="iris"' in html
    assert "bobs.csv" not in html


def test_the_filter_form_gets_only_the_results_through_htmx(alice_client, history):
    response = alice_client.get(
        "/jobs/?status=failed", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="job-results"
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.startswith('<section class="card flush" id="job-results"')
    assert shown(html) == {history["failed"].job_id}
    assert "<html" not in html and "history-stats" not in html


def test_the_history_says_when_nothing_matches(alice_client, history):
    html = alice_client.get("/jobs/?q=no-such-run").content.decode()
    assert "No jobs match these filters" in html and shown(html) == set()
    assert 'href="/jobs/">Clear</a>' in html


def test_a_bad_filter_is_explained_not_a_500(alice_client, history):
    response = alice_client.get("/jobs/?status=exploded")
    assert response.status_code == 400
    assert "Unknown job status" in response.content.decode()
    fragment = alice_client.get(
        "/jobs/?problem_type=clustering", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="job-results"
    )
    assert fragment.status_code == 400 and "Unknown problem type" in fragment.content.decode()


def test_load_more_keeps_the_filters(alice_client, alice, iris, history):
    extra = {store_job(alice, iris, status=JobStatus.FAILED).job_id for _ in range(20)}
    page = alice_client.get("/jobs/?status=failed").content.decode()
    assert len(shown(page)) == 20
    link = re.search(r'hx-get="(/jobs/\?status=failed&amp;cursor=[^"]+)"', page).group(1)
    rows = alice_client.get(link.replace("&amp;", "&"), HTTP_HX_REQUEST="true")
    assert rows.status_code == 200
    assert shown(page) | shown(rows.content.decode()) == extra | {history["failed"].job_id}
    # The same cursor under another filter is refused, not misread.
    other = link.replace("&amp;", "&").replace("status=failed", "status=completed")
    assert alice_client.get(other, HTTP_HX_REQUEST="true").status_code == 400


def test_the_tiles_count_runs_and_name_the_best_per_dataset(alice_client, history):
    html = alice_client.get("/jobs/").content.decode()
    tiles = html.split('id="history-stats"')[1].split('id="history-filters"')[0]
    values = re.findall(r'<div class="value">(\d+)</div>', tiles)
    assert values == ["5", "2", "1"]  # runs, completed, failed
    assert "and 1 cancelled" in tiles
    assert f'href="/jobs/{history["best"].job_id}/"' in tiles and "0.970" in tiles
    assert history["worse"].job_id not in tiles


def test_a_cancelled_job_is_shown_as_cancelled(alice_client, history):
    html = alice_client.get("/jobs/?status=cancelled").content.decode()
    assert '<span class="badge dot cancelled">cancelled</span>' in html
    assert '<span class="badge dot failed">' not in html


def test_a_row_deletes_after_confirmation_and_the_tiles_follow(alice_client, history):
    job = history["failed"]
    html = alice_client.get("/jobs/").content.decode()
    row = html.split(f'id="job-row-{job.job_id}"')[1].split("</tr>")[0]
    assert "hx-confirm=" in row and f'hx-post="/jobs/{job.job_id}/delete/"' in row
    response = alice_client.post(
        f"/jobs/{job.job_id}/delete/", {"from": "list"}, HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert (
        f'<tr id="job-row-{job.job_id}" class="deleted-row">' in body and "Deleted the job" in body
    )
    assert json.loads(response["HX-Trigger"]) == {"jobs-changed": {}}
    assert wiring.job_repository().get(job.job_id) is None
    # The tiles listen for that event and fetch themselves again.
    tiles = alice_client.get("/jobs/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="history-stats")
    html = tiles.content.decode()
    assert html.startswith('<div class="grid grid-4 history-stats" id="history-stats"')
    assert 'hx-trigger="jobs-changed from:body"' in html
    assert re.findall(r'<div class="value">(\d+)</div>', html) == ["4", "2", "0"]


def test_a_row_delete_checks_ownership(bob_client, history):
    job = history["best"]
    response = bob_client.post(
        f"/jobs/{job.job_id}/delete/", {"from": "list"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 404
    assert wiring.job_repository().get(job.job_id) is not None


def test_live_jobs_offer_no_delete_in_the_list(alice_client, alice, iris):
    job = store_job(alice, iris, status=JobStatus.RUNNING)
    html = alice_client.get("/jobs/").content.decode()
    row = html.split(f'id="job-row-{job.job_id}"')[1].split("</tr>")[0]
    assert "delete" not in row


# --------------------------------------------------------------------------- API


def api_ids(client, query: str) -> list[str]:
    response = client.get(f"/api/jobs?{query}")
    assert response.status_code == 200, response.content
    return [j["job_id"] for j in response.json()["jobs"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status=completed", ["worse", "best"]),
        ("status=cancelled", ["cancelled"]),
        ("tag=baseline", ["best"]),
        ("problem_type=regression", ["houses"]),
        ("q=houses", ["houses"]),
        ("status=completed&q=" + quote("IRIS"), ["worse", "best"]),
        ("status=&tag=&q=", ["houses", "cancelled", "failed", "worse", "best"]),
    ],
)
def test_the_api_filters_the_list(alice_client, history, query, expected):
    assert api_ids(alice_client, query) == [history[name].job_id for name in expected]


def test_the_api_filters_by_dataset(alice_client, history, iris):
    ids = api_ids(alice_client, f"dataset_id={iris.dataset_id}&status=failed")
    assert ids == [history["failed"].job_id]


def test_the_api_pages_a_filter_with_next_token(alice_client, history):
    first = alice_client.get("/api/jobs?status=completed&limit=1").json()
    second = alice_client.get(
        f"/api/jobs?status=completed&limit=1&next_token={first['next_token']}"
    ).json()
    assert [j["job_id"] for j in first["jobs"] + second["jobs"]] == [
        history["worse"].job_id,
        history["best"].job_id,
    ]
    assert second["next_token"] is None
    mixed = alice_client.get(f"/api/jobs?status=failed&next_token={first['next_token']}")
    assert mixed.status_code == 400 and "pagination token" in mixed.json()["detail"]


def test_the_api_reports_a_cancelled_job_for_both_kinds_of_client(alice_client, history):
    (summary,) = alice_client.get("/api/jobs?status=cancelled").json()["jobs"]
    assert summary["status"] == "failed"  # the reference contract knows four statuses
    assert summary["status_detail"] == "cancelled"


@pytest.mark.parametrize("query", ["status=exploded", "problem_type=clustering", "q=" + "x" * 101])
def test_the_api_answers_422_for_a_bad_filter(alice_client, query):
    assert alice_client.get(f"/api/jobs?{query}").status_code == 422


def test_the_api_never_lists_another_users_jobs(bob_client, history, iris):
    assert api_ids(bob_client, f"dataset_id={iris.dataset_id}") == []
    assert history["best"].job_id not in api_ids(bob_client, "q=iris")
