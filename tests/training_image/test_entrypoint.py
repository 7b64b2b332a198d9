"""`python -m training_image` as a real subprocess against a temp SQLite job table and folders."""

from __future__ import annotations

import json
import signal
import textwrap

import numpy as np
import pytest

from datasets.analysis import analyze_csv, stored_dialect
from tests.datasets import csv_files
from tests.training_image import frames
from tests.training_image.jobenv import (
    LocalDeployment,
    run_container,
    start_container,
    wait_for,
)
from training_image import contract
from training_image.contract import ErrorType, JobStatus
from training_image.jobstore import SqliteJobStore

pytestmark = pytest.mark.slow


@pytest.fixture
def deployment(tmp_path):
    return LocalDeployment(tmp_path).create()


@pytest.fixture
def penguins(deployment):
    return deployment.add_dataset(frames.penguins_csv().read_bytes(), "penguins.csv")


def test_it_trains_a_queued_job_to_completion(deployment, penguins):
    job = deployment.add_job(target_column="species", time_budget=4)

    done = run_container(deployment.env(job, penguins))

    assert done.returncode == 0, done.stderr
    record = deployment.job(job.job_id)
    assert record["status"] == JobStatus.COMPLETED
    assert record["error_type"] is None
    assert record["started_at"] and record["completed_at"] >= record["started_at"]
    assert (record["problem_type"], record["metric"]) == ("multiclass", "accuracy")
    assert record["metrics"]["accuracy"] > 0.9
    assert record["metrics"]["best_estimator"] and record["metrics"]["training_time"] > 0
    assert record["progress"]["phase"] == "done"
    assert record["preprocessing"]["target_mapping"] == {
        "0": "Adelie",
        "1": "Chinstrap",
        "2": "Gentoo",
    }
    assert set(record["artifacts"]) == set(contract.ARTIFACTS)
    for name, key in record["artifacts"].items():
        assert key == contract.artifact_key(job.job_id, name)
        folder = deployment.folder(contract.ARTIFACT_STORAGE[name])
        assert (folder / key).stat().st_size > 0, name
    evaluation = json.loads(
        (deployment.folder("models") / record["artifacts"][contract.EVALUATION]).read_text()
    )
    assert evaluation["onnx"]["available"] is True
    assert "Traceback" not in done.stderr


def test_it_reads_the_excluded_columns_from_the_job_record(deployment, penguins):
    # Hundreds of long names would not fit Batch's 8,192-character overrides: the record
    # carries them and the environment does not.
    excluded = ["island", "sex", *(f"not-in-this-file-{i:03d}-{'x' * 14}" for i in range(500))]
    job = deployment.add_job(target_column="species", time_budget=3, excluded_columns=excluded)
    env = deployment.env(job, penguins)
    assert not any("island" in value for value in env.values())

    done = run_container(env)

    assert done.returncode == 0, done.stderr
    record = deployment.job(job.job_id)
    assert record["status"] == JobStatus.COMPLETED
    dropped = {d["column"]: d["reason"] for d in record["preprocessing"]["dropped_columns"]}
    assert "excluded" in dropped["island"] and "excluded" in dropped["sex"]
    features = record["preprocessing"]["feature_types"]
    assert "island" not in features and "sex" not in features
    assert "bill_length_mm" in features


@pytest.mark.parametrize(
    "content",
    [
        csv_files.utf16_csv(byte_order="le"),
        csv_files.utf16_csv(byte_order="be", bom=False),
        csv_files.cp1252_csv(),
    ],
    ids=["utf16-le-bom", "utf16-be-no-bom", "cp1252"],
)
def test_it_trains_on_the_dialect_the_upload_analysis_stored(deployment, content):
    # The web's analysis sniffs the file once; the job carries that dialect to the container
    # in AUTOML_CSV_DIALECT, and the container reads the file with it.
    key = deployment.add_dataset(content, "cities.csv")
    analysis = analyze_csv(deployment.folder("datasets") / key)
    dialect = stored_dialect(analysis)
    job = deployment.add_job(target_column="species", time_budget=3, csv_dialect=dialect.to_dict())
    env = deployment.env(job, key)
    assert contract.CsvDialect.from_json(env[contract.ENV_CSV_DIALECT]) == dialect

    done = run_container(env)

    assert done.returncode == 0, done.stderr
    record = deployment.job(job.job_id)
    assert record["status"] == JobStatus.COMPLETED
    assert record["metrics"]["accuracy"] > 0.9
    shown = {
        t["value"]
        for t in next(c for c in analysis["columns"] if c["name"] == "city")["top_values"]
    }
    assert (
        set(record["preprocessing"]["categorical_values"]["city"]) == shown == set(csv_files.CITIES)
    )
    card = json.loads(
        (deployment.folder("models") / record["artifacts"][contract.MODEL_CARD]).read_text("utf-8")
    )
    [city] = [f for f in card["features"] if f["name"] == "city"]
    assert "Zürich €" in city["allowed_values"]
    assert not any("\x80" in v for v in city["allowed_values"])


def test_it_fails_a_job_whose_dialect_variable_is_malformed(deployment, penguins):
    job = deployment.add_job(target_column="species")
    env = deployment.env(job, penguins)
    env[contract.ENV_CSV_DIALECT] = '{"encoding": "utf-8", "delimiter": ";"}'

    done = run_container(env)

    assert done.returncode == 2
    record = deployment.job(job.job_id)
    assert (record["status"], record["error_type"]) == (JobStatus.FAILED, ErrorType.CONFIG)
    assert "AUTOML_CSV_DIALECT: must be a CSV dialect as JSON" in record["error_message"]
    assert "missing bom" in record["error_message"]
    assert "AUTOML_CSV_DIALECT" in done.stderr


def test_it_leaves_a_cancelled_job_alone(deployment, penguins):
    job = deployment.add_job(target_column="species", status=JobStatus.CANCELLED)

    done = run_container(deployment.env(job, penguins))

    assert done.returncode == 0
    record = deployment.job(job.job_id)
    assert record["status"] == JobStatus.CANCELLED
    assert record["started_at"] is None and record["artifacts"] == {}


@pytest.mark.parametrize(
    ("change", "variable", "problem"),
    [
        ({"AUTOML_TIME_BUDGET": None}, "AUTOML_TIME_BUDGET", "is missing or empty"),
        ({"AUTOML_SEED": "forty-two"}, "AUTOML_SEED", "must be an integer"),
        ({"AUTOML_PROBLEM_TYPE": "clustering"}, "AUTOML_PROBLEM_TYPE", "must be one of"),
        (
            {"AUTOML_PROBLEM_TYPE": "regression", "AUTOML_METRIC": "accuracy"},
            "AUTOML_METRIC",
            "does not apply",
        ),
    ],
    ids=["missing", "not-an-integer", "unknown-choice", "metric-of-another-task"],
)
def test_it_fails_a_job_whose_environment_is_wrong(deployment, penguins, change, variable, problem):
    job = deployment.add_job(target_column="species")
    env = deployment.env(job, penguins)
    for name, value in change.items():
        env.pop(name) if value is None else env.__setitem__(name, value)

    done = run_container(env)

    assert done.returncode == 2
    record = deployment.job(job.job_id)
    assert record["status"] == JobStatus.FAILED
    assert record["error_type"] == ErrorType.CONFIG
    assert variable in record["error_message"] and problem in record["error_message"]
    assert record["error_phase"] == "starting"
    assert variable in done.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x00\x01\x02 binary garbage" * 50, "binary data"),
        (b"species,island,bill_length_mm\n", "header but no data rows"),
        (b"", "The file is empty"),
    ],
    ids=["binary", "header-only", "empty"],
)
def test_it_fails_a_job_with_a_bad_csv_and_says_why(deployment, content, message):
    key = deployment.add_dataset(content)
    job = deployment.add_job(target_column="species")

    done = run_container(deployment.env(job, key))

    assert done.returncode == 1
    record = deployment.job(job.job_id)
    assert (record["status"], record["error_type"]) == (JobStatus.FAILED, ErrorType.DATA)
    assert message in record["error_message"]
    assert record["error_phase"] == "loading"
    assert "Traceback" not in record["error_message"]


def test_it_fails_a_job_whose_dataset_file_is_gone(deployment):
    job = deployment.add_job(target_column="species")

    done = run_container(deployment.env(job, "datasets/nope/data.csv"))

    record = deployment.job(job.job_id)
    assert done.returncode == 1
    assert record["error_type"] == ErrorType.DATA
    assert "could not be found" in record["error_message"]


def test_it_fails_a_job_whose_target_is_unusable(deployment, penguins):
    job = deployment.add_job(target_column="flipper", time_budget=3)

    run_container(deployment.env(job, penguins))

    record = deployment.job(job.job_id)
    assert (record["status"], record["error_type"]) == (JobStatus.FAILED, ErrorType.DATA)
    assert "The target column 'flipper' is not in the file" in record["error_message"]
    assert record["error_phase"] == "profiling"


INJECT = textwrap.dedent(
    """
    import runpy, lightgbm, sklearn.ensemble
    calls = {{"n": 0}}
    def failing(original):
        def fit(self, *args, **kwargs):
            calls["n"] += 1
            if calls["n"] > 6:  # the first trials succeed, a later one fails
                raise {error}
            return original(self, *args, **kwargs)
        return fit
    for cls in (lightgbm.LGBMClassifier, sklearn.ensemble.RandomForestClassifier,
                sklearn.ensemble.ExtraTreesClassifier):
        cls.fit = failing(cls.fit)
    runpy.run_module("training_image", run_name="__main__")
    """
)


@pytest.mark.parametrize(
    ("error", "error_type", "message"),
    [
        ('RuntimeError("injected internal failure")', ErrorType.INTERNAL, "unexpected error"),
        ("MemoryError()", ErrorType.OUT_OF_MEMORY, "ran out of memory"),
    ],
    ids=["exception", "memory"],
)
def test_it_records_an_exception_in_the_middle_of_the_search(
    deployment, penguins, error, error_type, message
):
    job = deployment.add_job(target_column="species", time_budget=20)

    process = start_container(deployment.env(job, penguins), code=INJECT.format(error=error))
    _, stderr = process.communicate(timeout=240)

    record = deployment.job(job.job_id)
    assert process.returncode == 1, stderr
    assert (record["status"], record["error_type"]) == (JobStatus.FAILED, error_type)
    assert record["error_phase"] == "searching"
    assert message in record["error_message"]
    assert "injected" not in record["error_message"]  # raw exception text stays in the log
    assert "Traceback" in stderr and "Traceback" not in record["error_message"]


def _slow_dataset(deployment) -> str:
    """Enough rows and noise that the search is still running when the test acts."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(6000, 20))
    y = (X[:, 0] + X[:, 1] * X[:, 2] + rng.normal(scale=2.0, size=6000) > 0).astype(int)
    header = ",".join([f"x{i}" for i in range(20)] + ["target"])
    rows = "\n".join(",".join(f"{v:.4f}" for v in r) + f",{t}" for r, t in zip(X, y, strict=True))
    return deployment.add_dataset(f"{header}\n{rows}\n".encode(), "slow.csv")


def test_it_records_sigterm_as_an_interruption(deployment):
    key = _slow_dataset(deployment)
    job = deployment.add_job(target_column="target", time_budget=120)
    process = start_container(deployment.env(job, key))

    wait_for(lambda: deployment.job(job.job_id)["progress"].get("phase") == "searching")
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)

    record = deployment.job(job.job_id)
    assert process.returncode == 143, stderr
    assert (record["status"], record["error_type"]) == (JobStatus.FAILED, ErrorType.INTERRUPTED)
    assert record["error_phase"] == "searching"
    assert "SIGTERM" in record["error_message"] and "resubmitted" in record["error_message"]
    assert ErrorType.INTERRUPTED in contract.RESUBMITTABLE_ERRORS


def test_it_stops_when_the_job_is_cancelled_while_running(deployment):
    key = _slow_dataset(deployment)
    job = deployment.add_job(target_column="target", time_budget=120)
    process = start_container(deployment.env(job, key))

    wait_for(lambda: deployment.job(job.job_id)["progress"].get("phase") == "searching")
    store = SqliteJobStore(deployment.records)
    assert store.transition(job.job_id, JobStatus.CANCELLED)  # what the web does
    _, stderr = process.communicate(timeout=90)

    record = deployment.job(job.job_id)
    assert process.returncode == 0, stderr
    assert record["status"] == JobStatus.CANCELLED
    assert record["metrics"] == {} and record["error_type"] is None
