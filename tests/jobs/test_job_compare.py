"""The compare page: two to four of the user's jobs side by side, best value per row marked."""

from __future__ import annotations

import re

import pytest

from tests.jobs.factories import store_job
from training_image.contract import JobStatus

pytestmark = pytest.mark.django_db


def finished(owner, dataset, **metrics):
    return store_job(
        owner,
        dataset,
        status=JobStatus.COMPLETED,
        metric="accuracy",
        problem_type="multiclass",
        metrics={"best_estimator": "lgbm", "validation_score": 0.9, **metrics},
    )


def cells(html: str, label: str) -> list[str]:
    """The text of the value cells in the row whose first cell starts with `label`."""
    row = re.search(rf"<tr>\s*<td>{re.escape(label)}.*?</tr>", html, re.S)
    assert row, f"no row {label!r}"
    return [
        re.sub(r"<[^>]+>", "", c).strip()
        for c in re.findall(r"<td class=\"num[^\"]*\">(.*?)</td>", row.group(0), re.S)
    ]


def test_it_needs_at_least_two_jobs(alice_client, alice, iris):
    job = finished(alice, iris, accuracy=0.9, training_time=3.0)
    response = alice_client.get(f"/jobs/compare/?ids={job.job_id}")
    html = response.content.decode()
    assert response.status_code == 400 and 'id="compare-pick"' in html
    assert "Pick at least two jobs to compare." in html
    assert f'value="{job.job_id}" id="pick-{job.job_id}" checked' in html  # kept ticked


def test_it_refuses_more_than_four_jobs(alice_client, alice, iris):
    ids = [finished(alice, iris, accuracy=0.9).job_id for _ in range(5)]
    response = alice_client.get("/jobs/compare/", {"ids": ids})
    assert response.status_code == 400
    assert "Compare up to 4 jobs at a time; 5 were picked." in response.content.decode()


def test_another_users_job_is_not_found(alice_client, alice, bob, iris):
    mine = finished(alice, iris, accuracy=0.9)
    theirs = finished(bob, None, accuracy=0.8)
    response = alice_client.get("/jobs/compare/", {"ids": [mine.job_id, theirs.job_id]})
    assert response.status_code == 404
    assert alice_client.get(f"/jobs/compare/?ids={mine.job_id},not-a-uuid").status_code == 404


def test_it_marks_the_best_value_of_each_row(alice_client, alice, iris):
    a = finished(alice, iris, accuracy=0.91, log_loss=0.30, training_time=9.0)
    b = finished(alice, iris, accuracy=0.95, log_loss=0.42, training_time=4.0)
    html = alice_client.get(f"/jobs/compare/?ids={a.job_id},{b.job_id}").content.decode()
    assert cells(html, "Accuracy") == ["0.9100", "0.9500 best"]  # higher is better
    assert cells(html, "Log loss") == ["0.3000 best", "0.4200"]  # lower is better
    assert cells(html, "Training time") == ["9.0s", "4.0s fastest"]
    assert "not directly comparable" not in html


def test_ties_all_win_and_missing_values_show_a_dash(alice_client, alice, iris):
    a = finished(alice, iris, accuracy=0.9, roc_auc=0.97)
    b = finished(alice, iris, accuracy=0.9)
    html = alice_client.get("/jobs/compare/", {"ids": [a.job_id, b.job_id]}).content.decode()
    assert cells(html, "Accuracy") == ["0.9000 best", "0.9000 best"]
    assert cells(html, "ROC AUC") == ["0.9700", "—"]  # one value alone is not "best"


def test_it_warns_when_jobs_do_not_share_data_or_are_unfinished(alice_client, alice, iris):
    a = finished(alice, iris, accuracy=0.9)
    b = store_job(alice, iris, target_column="sepal width (cm)", status=JobStatus.RUNNING)
    html = alice_client.get("/jobs/compare/", {"ids": [a.job_id, b.job_id]}).content.decode()
    assert "not directly comparable" in html
    assert "1 of these jobs has no results yet" in html


def test_the_job_list_posts_its_ticked_rows_to_compare(alice_client, alice, iris):
    job = finished(alice, iris, accuracy=0.9)
    html = alice_client.get("/jobs/").content.decode()
    assert 'action="/jobs/compare/"' in html
    assert f'name="ids" value="{job.job_id}"' in html
