"""The earlier edition's browser client, replayed call by call against our API.

Its Next.js front end (another origin) uploads with a cross-origin PUT, confirms, trains, polls,
deploys, reads `/predict/{id}/info` and predicts; each step below sends what it sent (with the
CORS preflight the browser makes first) and asserts the fields it reads: its playground builds
a select for a `categorical` feature with `categorical_mappings`, a number input otherwise,
and labels each of `probabilities`' keys through `target_mapping[key]` (`parseInt(key)`).
"""

from __future__ import annotations

import io
import time

import numpy as np
import pandas as pd
import pytest
from django.test import Client

from automl_lite import wiring
from jobs.inference import model_cache

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

ORIGIN = "http://localhost:3000"


def client_csv() -> bytes:
    """A binary target driven by a two-valued text column, with a number and free text."""
    rng = np.random.default_rng(3)
    n = 240
    sex = rng.choice(["female", "male"], n)
    words = ["quiet", "sunny", "large", "small", "garden", "flat", "near", "station", "old", "new"]
    notes = [
        f"{' '.join(rng.choice(words, 4))} with {int(rng.integers(1, 400))} square metres"
        for _ in range(n)
    ]
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n),
            "sex": sex,
            "note": notes,
            "smoker": np.where(sex == "female", "yes", "no"),
        }
    )
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode()


class Browser:
    """A client from another origin: every non-simple request is preceded by its preflight."""

    def __init__(self) -> None:
        self.http = Client(REMOTE_ADDR="127.0.0.1", HTTP_ORIGIN=ORIGIN)

    def preflight(self, method: str, path: str) -> None:
        response = self.http.options(
            path,
            HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
            HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type",
        )
        assert response.status_code == 204, (method, path)
        assert response["Access-Control-Allow-Origin"] == ORIGIN
        allowed = {m.strip() for m in response["Access-Control-Allow-Methods"].split(",")}
        assert method in allowed, (method, path, allowed)

    def call(self, method: str, path: str, body: object = None, **kwargs: object):
        if method != "GET":
            self.preflight(method, path)
        if method == "GET":
            response = self.http.get(path)
        elif method == "PUT":
            response = self.http.generic("PUT", path, body, content_type="text/csv")
        else:
            response = self.http.generic(
                method, path, b"" if body is None else _json(body), content_type="application/json"
            )
        assert response["Access-Control-Allow-Origin"] == ORIGIN
        return response


def _json(body: object) -> bytes:
    import json

    return json.dumps(body).encode()


def test_the_earlier_clients_whole_flow_works_and_its_playground_reads_what_it_expects(settings):
    settings.CORS_ALLOWED_ORIGINS = [ORIGIN]
    settings.AUTOML_LOCAL_AUTO_LOGIN = True
    model_cache.clear()
    browser = Browser()

    # upload → PUT → confirm
    upload = browser.call("POST", "/api/upload", {"filename": "homes.csv"}).json()
    assert set(upload) >= {"dataset_id", "upload_url", "expires_in"}
    path = upload["upload_url"].removeprefix("http://testserver")
    assert browser.call("PUT", path, client_csv()).status_code == 200
    confirmed = browser.call("POST", f"/api/datasets/{upload['dataset_id']}/confirm")
    assert confirmed.status_code == 200
    dataset = browser.call("GET", f"/api/datasets/{upload['dataset_id']}").json()
    assert dataset["columns"] == ["age", "sex", "note", "smoker"]

    # train → poll
    trained = browser.call(
        "POST",
        "/api/train",
        {
            "dataset_id": upload["dataset_id"],
            "target_column": "smoker",
            "config": {"time_budget": 60},
        },
    )
    assert trained.status_code == 200, trained.content
    job_id = trained.json()["job_id"]
    # The earlier statuses only (tasks run eagerly here, so it may be finished already).
    assert trained.json()["status"] in ("pending", "running", "completed")
    deadline = time.monotonic() + 300
    while True:
        job = browser.call("GET", f"/api/jobs/{job_id}").json()
        if job["status"] in ("completed", "failed") or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert job["status"] == "completed", job.get("error_message")
    assert job["onnx_model_download_url"]  # the client shows the playground only with it

    # What its playground builds its form from.
    info = job["preprocessing_info"]
    assert info["feature_columns"] == ["age", "sex", "note"]
    assert info["feature_types"]["age"] == "numeric"
    assert info["feature_types"]["sex"] == "categorical"  # two-valued text: a select
    assert sorted(info["categorical_mappings"]["sex"]) == ["female", "male"]
    stored = wiring.job_repository().get(job_id).preprocessing["feature_types"]
    assert stored == {"age": "integer", "sex": "boolean", "note": "text"}  # our own kinds
    assert info["feature_types"]["note"] == "categorical"  # free text: a select, never a number
    assert info["categorical_mappings"]["note"]
    assert {"min", "max", "is_integer"} <= set(info["numeric_stats"]["age"])
    assert sorted(info["target_mapping"].values()) == ["no", "yes"]

    # deploy → predict/info → predict
    deployed = browser.call("POST", f"/api/jobs/{job_id}/deploy", {"deploy": True})
    assert deployed.json()["deployed"] is True
    described = browser.call("GET", f"/api/predict/{job_id}/info").json()
    assert described["feature_columns"] == info["feature_columns"]
    assert described["feature_info"]["sex"]["type"] == "categorical"

    # It sends parseFloat(value) where that is a number, the text otherwise.
    note = next(iter(info["categorical_mappings"]["note"]))
    features = {"age": 41, "sex": "female", "note": note}
    predicted = browser.call("POST", f"/api/predict/{job_id}", {"features": features})
    assert predicted.status_code == 200, predicted.content
    body = predicted.json()
    assert body["prediction"] == "yes"  # our original label, which it shows as text
    # Each key parses as an integer and names a class through target_mapping: no "Class NaN".
    assert set(body["probabilities"]) == set(info["target_mapping"])
    labels = {
        info["target_mapping"][str(int(code))]: p for code, p in body["probabilities"].items()
    }
    assert labels == body["class_probabilities"]
    assert labels["yes"] == body["probability"] > 0.5
    assert isinstance(body["inference_time_ms"], float)
    assert body["model_type"] == job["metrics"]["best_estimator"]
