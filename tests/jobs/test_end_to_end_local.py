"""One real training through the LocalRunner: penguins species, a string target.

job_create -> LocalRunner.submit -> the Celery task (eager here) -> `python -m
training_image` as a subprocess with the contract's environment -> the container
writes the record and artifacts -> results page, deploy, predict, download.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pandas as pd
import pytest

from automl_lite import wiring
from jobs import services
from jobs.inference import model_cache
from tests.jobs.factories import store_dataset
from tests.jobs.models import GENTOO, PENGUINS_CSV
from training_image.contract import JobStatus

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def penguins(alice):
    return store_dataset(alice, content=PENGUINS_CSV.read_bytes(), filename="penguins.csv")


def test_it_trains_a_string_target_end_to_end(alice, alice_client, anon, penguins, settings):
    if not (ROOT / "training_image" / "__main__.py").exists():
        pytest.skip("the training container entrypoint is not there yet")
    settings.AUTOML_MIN_TIME_BUDGET = 1
    model_cache.clear()

    job = services.job_create(
        owner_id=str(alice.pk),
        dataset_id=penguins.dataset_id,
        target_column="species",
        time_budget=5,
        excluded_columns=["year"],
    )

    job = wiring.job_repository().get(job.job_id)
    assert job.status == JobStatus.COMPLETED, (job.error_type, job.error_message)
    assert job.problem_type == "multiclass"
    assert job.runner_job_id and ":" in job.runner_job_id
    assert job.metrics["accuracy"] > 0.8
    assert job.preprocessing["target_mapping"] == {"0": "Adelie", "1": "Chinstrap", "2": "Gentoo"}
    assert {"model.pkl", "model.onnx", "model_card.json", "evaluation.json"} <= set(job.artifacts)

    page = alice_client.get(f"/jobs/{job.job_id}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Model performance" in html
    assert "Accuracy" in html
    assert "hx-trigger" not in html  # a finished job does not poll

    api = alice_client.get(f"/api/jobs/{job.job_id}").json()
    assert api["status"] == "completed"
    assert api["metrics"]["accuracy"] == job.metrics["accuracy"]

    deployed = alice_client.post(
        f"/api/jobs/{job.job_id}/deploy", {"deploy": True}, content_type="application/json"
    )
    assert deployed.status_code == 200
    prediction = alice_client.post(
        f"/api/predict/{job.job_id}", {"features": GENTOO}, content_type="application/json"
    ).json()
    assert prediction["prediction"] == "Gentoo"
    assert set(prediction["probabilities"]) == {"0", "1", "2"}
    assert set(prediction["class_probabilities"]) == {"Adelie", "Chinstrap", "Gentoo"}

    download = anon.get(api["model_download_url"].removeprefix("http://testserver"))
    assert download.status_code == 200
    model = pickle.loads(b"".join(download.streaming_content))
    rows = pd.read_csv(PENGUINS_CSV).drop(columns=["species"]).head(5)
    predicted = list(model.predict(rows))
    assert set(predicted) <= {"Adelie", "Chinstrap", "Gentoo"}
    assert predicted[0] == "Adelie"
