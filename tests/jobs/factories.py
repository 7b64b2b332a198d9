"""Builders for the jobs tests: a FakeRunner at the runner seam, datasets and jobs on disk."""

from __future__ import annotations

import io
from collections.abc import Sequence

from django.core.files.base import ContentFile

from jobs.runners.base import RunnerState
from tests.conftest import make_dataset, make_job
from training_image.contract import DatasetStatus, Job


class FakeRunner:
    """A runner that records what it was asked (CONVENTIONS 28): no Celery, no subprocess."""

    def __init__(self) -> None:
        self.submitted: list[tuple[str, str]] = []
        self.cancelled: list[str] = []
        self.states: dict[str, RunnerState] = {}
        self.fail_with: Exception | None = None
        self.runner_id = "fake-run-1"

    def submit(self, job: Job, *, dataset_key: str) -> str:
        if self.fail_with is not None:
            raise self.fail_with
        self.submitted.append((job.job_id, dataset_key))
        return self.runner_id

    def cancel(self, job: Job) -> None:
        self.cancelled.append(job.job_id)

    def describe(self, jobs: Sequence[Job]) -> dict[str, RunnerState]:
        return {j.job_id: self.states[j.job_id] for j in jobs if j.job_id in self.states}


def iris_csv() -> bytes:
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame
    frame["species"] = [["setosa", "versicolor", "virginica"][t] for t in frame.pop("target")]
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode()


IRIS_COLUMNS = [
    "sepal length (cm)",
    "sepal width (cm)",
    "petal length (cm)",
    "petal width (cm)",
    "species",
]


def store_dataset(owner, *, content: bytes | None = None, **overrides):
    """A ready dataset record whose CSV really sits in the datasets storage.

    Its analysis is the real one (`datasets.analysis.analyze_csv`) unless a test passes
    its own.
    """
    from automl_lite import wiring
    from datasets.analysis import analyze_csv, stored_dialect

    content = content or iris_csv()
    analysis = overrides.pop("analysis", None) or analyze_csv(io.BytesIO(content))
    values = dict(
        csv_dialect=stored_dialect(analysis).to_dict() if "dialect" in analysis else None,
        owner_id=str(owner.pk),
        filename="iris.csv",
        status=DatasetStatus.READY,
        row_count=analysis.get("rows"),
        columns=[c["name"] for c in analysis.get("columns", [])] or list(IRIS_COLUMNS),
        analysis=analysis,
    )
    values.update(overrides)
    dataset = make_dataset(**values)
    wiring.storage("datasets").save(dataset.storage_key, ContentFile(content))
    wiring.dataset_repository().add(dataset)
    return dataset


def store_job(owner, dataset=None, **overrides) -> Job:
    """A job record for `owner` (on `dataset` when given), added to the repository."""
    from automl_lite import wiring

    values = dict(owner_id=str(owner.pk))
    if dataset is not None:
        values.update(
            dataset_id=dataset.dataset_id,
            dataset_name=dataset.filename,
            csv_dialect=dataset.csv_dialect,  # as job_create copies it
        )
    values.setdefault("target_column", "species")
    values.setdefault("problem_type", "multiclass")
    values.setdefault("metric", "accuracy")
    values.update(overrides)
    job = make_job(**values)
    return wiring.job_repository().add(job)
