"""Compare, complete: the picker, feature importance side by side, what differs between the
runs, their leaderboards, and no "best" across datasets or problem types."""

from __future__ import annotations

import json
import re

import pytest
from django.core.files.base import ContentFile

from automl_lite import wiring
from tests.jobs.factories import store_dataset, store_job
from training_image.contract import JobStatus, artifact_key

pytestmark = pytest.mark.django_db


def run(owner, dataset, *, importance, leaderboard, card=None, **overrides):
    values = {"metric": "accuracy", "problem_type": "multiclass", **overrides}
    accuracy = values.pop("accuracy", 0.9)
    job = store_job(
        owner,
        dataset,
        status=JobStatus.COMPLETED,
        metrics={"accuracy": accuracy, "best_estimator": leaderboard[0][0]},
        **values,
    )
    evaluation = {
        "feature_importance": [{"feature": f, "importance": v} for f, v in importance.items()],
        "leaderboard": [{"estimator": e, "best_score": s, "trials": 3} for e, s in leaderboard],
    }
    artifacts = {}
    for name, body in (
        ("evaluation.json", evaluation),
        (
            "model_card.json",
            card
            or {
                "problem_type": "multiclass",
                "target": "species",
                "seed": 42,
                "data_sha256": "ab" * 32,
            },
        ),
    ):
        key = artifact_key(job.job_id, name)
        wiring.storage("models").save(key, ContentFile(json.dumps(body).encode()))
        artifacts[name] = key
    return wiring.job_repository().update(job.job_id, artifacts=artifacts)


def test_the_picker_lists_finished_runs(alice_client, alice, bob, iris):
    done = run(alice, iris, importance={"a": 1}, leaderboard=[("lgbm", 0.9)])
    live = store_job(alice, iris, status=JobStatus.RUNNING)
    theirs = run(bob, None, importance={"a": 1}, leaderboard=[("rf", 0.8)])
    response = alice_client.get("/jobs/compare/")
    html = response.content.decode()
    assert response.status_code == 200 and 'id="compare-pick"' in html
    assert f'name="ids" value="{done.job_id}"' in html
    assert live.job_id not in html and theirs.job_id not in html


def test_the_settings_diff_marks_every_difference(alice_client, alice, iris):
    a = run(alice, iris, importance={"x": 1}, leaderboard=[("lgbm", 0.9)], time_budget=60, seed=1)
    b = run(
        alice,
        iris,
        importance={"x": 1},
        leaderboard=[("rf", 0.9)],
        time_budget=60,
        seed=2,
        ensemble=False,
        excluded_columns=["sepal width (cm)"],
        card={
            "problem_type": "multiclass",
            "target": "species",
            "seed": 2,
            "data_sha256": "cd" * 32,
        },
    )
    html = alice_client.get("/jobs/compare/", {"ids": [a.job_id, b.job_id]}).content.decode()
    table = html.split('id="settings-diff"')[1].split("</table>")[0]
    differing = set(
        re.findall(r'<tr class="differs"><td>([^<]+?) <span class="badge warn">differs', table)
    )
    assert differing == {"Excluded columns", "Winner", "Seed", "Ensemble", "Data hash"}
    assert "<td>Target</td>" in table and "<td>Time budget</td>" in table  # same: not marked


def test_feature_importance_is_a_chart_side_by_side(alice_client, alice, iris):
    a = run(alice, iris, importance={"petal": 0.6, "sepal": 0.2}, leaderboard=[("lgbm", 0.9)])
    b = run(alice, iris, importance={"petal": 0.3, "colour": 0.1}, leaderboard=[("rf", 0.9)])
    html = alice_client.get("/jobs/compare/", {"ids": [a.job_id, b.job_id]}).content.decode()
    chart = html.split('id="compare-importance"')[1].split("</section>")[0]
    groups = re.findall(r'<div class="name" title="([^"]+)">', chart)
    assert groups == ["petal", "sepal", "colour"]
    petal = chart.split('title="petal"')[1].split('<div class="feature-group">')[0]
    assert 'fill series-1" style="display:block;width:100.0%"' in petal
    assert 'fill series-2" style="display:block;width:50.0%"' in petal
    colour = chart.split('title="colour"')[1]
    assert "—" in colour.split("</div>\n    </div>")[0]  # run 1 has no such feature


def test_each_run_shows_its_leaderboard(alice_client, alice, iris):
    a = run(alice, iris, importance={"x": 1}, leaderboard=[("lgbm", 0.91), ("rf", 0.88)])
    b = run(alice, iris, importance={"x": 1}, leaderboard=[("xgboost", 0.93)])
    html = alice_client.get("/jobs/compare/", {"ids": [a.job_id, b.job_id]}).content.decode()
    boards = html.split('id="compare-leaderboards"')[1]
    assert boards.count("Leaderboard") == 2
    assert "LightGBM" in boards and "Random forest" in boards and "XGBoost" in boards
    assert '<tr class="is-best"><td>LightGBM</td>' in boards


def test_no_best_across_datasets_or_problem_types(alice_client, alice, iris):
    other = store_dataset(alice, filename="iris-copy.csv")
    a = run(alice, iris, importance={"x": 1}, leaderboard=[("lgbm", 0.9)], accuracy=0.91)
    b = run(alice, other, importance={"x": 1}, leaderboard=[("lgbm", 0.9)], accuracy=0.95)
    html = alice_client.get("/jobs/compare/", {"ids": [a.job_id, b.job_id]}).content.decode()
    assert "not directly comparable, so none is marked best" in html
    assert '<span class="badge ok">best</span>' not in html and "fastest" not in html
    c = run(alice, iris, importance={"x": 1}, leaderboard=[("lgbm", 0.9)], problem_type="binary")
    html = alice_client.get("/jobs/compare/", {"ids": [a.job_id, c.job_id]}).content.decode()
    assert "different problem types" in html and '<span class="badge ok">best</span>' not in html
