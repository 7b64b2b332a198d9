"""What a run costs: `training_image.costs` (the one definition of the prices and the
arithmetic), `estimated_cost_usd` before a run and `cost_usd` after, in the API and pages."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.jobs.factories import store_job
from training_image import costs
from training_image.contract import JobStatus

ROOT = Path(__file__).resolve().parents[2]
PER_SECOND = 2 * costs.VCPU_SECOND_USD + 8 * costs.GB_SECOND_USD


def test_a_run_is_billed_per_second_with_a_minute_minimum():
    assert costs.run_cost_usd(600) == pytest.approx(600 * PER_SECOND)
    assert costs.run_cost_usd(5) == pytest.approx(60 * PER_SECOND)
    assert costs.estimated_cost_usd(120) == pytest.approx(
        (120 + costs.RUN_OVERHEAD_SECONDS) * PER_SECOND
    )
    bigger = costs.run_cost_usd(600, task=costs.TaskSize(4, 16))
    assert bigger == pytest.approx(2 * costs.run_cost_usd(600))
    with pytest.raises(ValueError):
        costs.run_cost_usd(float("nan"))


def test_an_hour_costs_what_the_price_list_says():
    hour = costs.run_cost_usd(3600)
    assert hour == pytest.approx(2 * 0.01334058 + 8 * 0.00146489)
    assert 0.03 < hour < 0.05


def test_the_default_task_is_the_templates_training_task():
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    template = yaml.load((ROOT / "deploy/automl-lite.yaml").read_text(), Loader=Loader)
    parameters = template["Parameters"]
    assert float(parameters["TrainingVcpu"]["Default"]) == costs.TASK_VCPUS
    assert float(parameters["TrainingMemory"]["Default"]) / 1024 == costs.TASK_MEMORY_GB


@pytest.mark.django_db
def test_the_api_gives_an_estimate_before_and_the_cost_after(alice_client, alice, iris, settings):
    live = store_job(alice, iris, status=JobStatus.RUNNING, time_budget=300)
    body = alice_client.get(f"/api/jobs/{live.job_id}").json()
    assert body["estimated_cost_usd"] == pytest.approx(costs.estimated_cost_usd(300), abs=1e-6)
    assert body["cost_usd"] is None
    done = store_job(
        alice,
        iris,
        status=JobStatus.COMPLETED,
        started_at="2026-12-03T10:00:00.000000Z",
        completed_at="2026-12-03T10:10:00.000000Z",
    )
    body = alice_client.get(f"/api/jobs/{done.job_id}").json()
    assert body["cost_usd"] == pytest.approx(costs.run_cost_usd(600), abs=1e-6)
    (summary,) = [
        j for j in alice_client.get("/api/jobs").json()["jobs"] if j["job_id"] == done.job_id
    ]
    assert summary["cost_usd"] == body["cost_usd"]
    settings.AUTOML_FARGATE_SPOT_VCPU_SECOND_USD = 0.001
    settings.AUTOML_FARGATE_SPOT_GB_SECOND_USD = 0.0
    assert alice_client.get(f"/api/jobs/{done.job_id}").json()["cost_usd"] == pytest.approx(1.2)


@pytest.mark.django_db
def test_the_train_answer_carries_the_estimate(alice_client, iris, runner):
    body = {
        "dataset_id": iris.dataset_id,
        "target_column": "species",
        "config": {"time_budget": 60},
    }
    response = alice_client.post("/api/train", body, content_type="application/json")
    assert response.json()["estimated_cost_usd"] == pytest.approx(
        costs.estimated_cost_usd(60), abs=1e-6
    )


@pytest.mark.django_db
def test_the_pages_show_the_cost_and_say_local_mode_is_free(alice_client, alice, iris):
    done = store_job(
        alice,
        iris,
        status=JobStatus.COMPLETED,
        started_at="2026-12-03T10:00:00.000000Z",
        completed_at="2026-12-03T11:00:00.000000Z",
    )
    detail = alice_client.get(f"/jobs/{done.job_id}/").content.decode()
    card = detail.split('id="job-cost"')[1].split("</dd>")[0]
    assert "$0.04" in card and "free here: local mode" in card
    assert "$0.04" in alice_client.get("/jobs/").content.decode()
    configure = alice_client.get(f"/datasets/{iris.dataset_id}/").content.decode()
    estimate = configure.split('id="estimated-cost"')[1].split("</p>")[0]
    assert f"{costs.estimated_cost_usd(120):.4f}" in estimate and "local mode" in estimate
    target = alice_client.get(
        f"/datasets/{iris.dataset_id}/target/?target_column=species&time_budget=3600"
    )
    assert f"${costs.estimated_cost_usd(3600):.2f}" in target.content.decode()
