"""Label mapping: at configure time integer-coded classes get names (0 -> "no", 1 -> "yes");
the model then predicts, reports and serves the names."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from automl_lite import wiring
from core.exceptions import InvalidInput
from jobs import services
from jobs.inference import model_cache
from tests.jobs.factories import store_dataset
from training_image import contract
from training_image.contract import JobStatus

pytestmark = pytest.mark.django_db


def coded_csv(n: int = 240) -> bytes:
    """A 0/1 target that follows x, beside a category."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "x": x.round(4),
            "colour": rng.choice(["red", "blue"], n),
            "bought": (x + rng.normal(0, 0.3, n) > 0).astype(int),
        }
    )
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode()


@pytest.fixture
def coded(alice):
    return store_dataset(alice, content=coded_csv(), filename="shop.csv")


def create(alice, dataset, names, **kwargs):
    return services.job_create(
        owner_id=str(alice.pk),
        dataset_id=dataset.dataset_id,
        target_column=kwargs.pop("target", "bought"),
        class_names=names,
        **kwargs,
    )


def test_the_configure_page_offers_a_name_for_each_class(alice_client, coded):
    html = alice_client.get(f"/datasets/{coded.dataset_id}/target/?target_column=bought").content
    html = html.decode()
    assert 'name="class_name:0"' in html and 'name="class_name:1"' in html
    other = alice_client.get(f"/datasets/{coded.dataset_id}/target/?target_column=x").content
    assert b"class_name:" not in other  # a regression target has no classes to name


@pytest.mark.parametrize(
    ("names", "target", "message"),
    [
        ({"2": "maybe"}, "bought", "does not have"),
        ({"0": "same", "1": "same"}, "bought", "used twice"),
        ({"0": "x" * 61}, "bought", "60 characters"),
        ({"0": "low"}, "x", "not to regression"),
        ({"red": "r"}, "colour", "whole numbers"),
    ],
)
def test_bad_class_names_are_refused_before_anything_is_stored(
    alice, coded, runner, names, target, message
):
    kwargs = {"problem_type": "binary"} if target == "colour" else {}
    with pytest.raises(InvalidInput, match=message):
        create(alice, coded, names, target=target, **kwargs)
    assert runner.submitted == []


def test_the_names_travel_to_the_container_environment(alice, coded, runner):
    job = create(alice, coded, {"0": "no", "1": " yes "})
    assert job.class_names == {"0": "no", "1": "yes"}
    stored = wiring.job_repository().get(job.job_id)
    assert stored.class_names == {"0": "no", "1": "yes"}
    backend = contract.Backend("local", "d", "m", "r", "sqlite", "j")
    env = contract.container_env(stored, dataset_key="k", backend=backend)
    assert json.loads(env[contract.ENV_CLASS_NAMES]) == {"0": "no", "1": "yes"}
    config = contract.read_container_env(env)
    assert dict(config.class_names) == {"0": "no", "1": "yes"}
    with pytest.raises(contract.ContainerEnvError, match="AUTOML_CLASS_NAMES"):
        contract.read_container_env({**env, contract.ENV_CLASS_NAMES: '["no"]'})


def test_the_train_api_takes_class_names_and_refuses_bad_ones(alice_client, coded, runner):
    def train(names):
        return alice_client.post(
            "/api/train",
            {
                "dataset_id": coded.dataset_id,
                "target_column": "bought",
                "config": {"time_budget": 60, "class_names": names},
            },
            content_type="application/json",
        )

    assert train({"0": "no", "1": "yes"}).status_code == 200
    refused = train({"7": "seven"})
    assert refused.status_code == 400
    assert "does not have" in refused.json()["detail"]


@pytest.mark.slow
def test_a_named_model_predicts_reports_and_serves_the_names(alice, alice_client, coded, settings):
    settings.AUTOML_MIN_TIME_BUDGET = 1
    model_cache.clear()
    job = create(alice, coded, {"0": "no", "1": "yes"}, time_budget=6)
    job = wiring.job_repository().get(job.job_id)
    assert job.status == JobStatus.COMPLETED, job.error_message
    assert job.preprocessing["target_mapping"] == {"0": "no", "1": "yes"}

    page = alice_client.get(f"/jobs/{job.job_id}/").content.decode()
    assert "Class names" in page and "→ yes" in page
    services.job_deploy(job=job, deploy=True)
    body = alice_client.post(
        f"/api/predict/{job.job_id}?explain=true",
        {"features": {"x": 2.5, "colour": "red"}},
        content_type="application/json",
    ).json()
    assert body["prediction"] == "yes"
    assert set(body["class_probabilities"]) == {"no", "yes"}
    assert body["explanation_info"]["toward"] == "yes"
    playground = alice_client.post(
        f"/jobs/{job.job_id}/predict/", {"f:x": "-2.5", "f:colour": "blue"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert 'data-testid="prediction">no<' in playground
    report = alice_client.get(f"/jobs/{job.job_id}/reports/training_report.html")
    assert b"yes" in b"".join(report.streaming_content)
