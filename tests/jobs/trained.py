"""Real trained models stored as completed jobs, for the serving tests (predict, explain, use).

`train` runs the container's whole pipeline for a few seconds; `store_trained_job` puts its
artifacts in the models storage and its facts (metrics, preprocessing) on a job record.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from django.core.files.base import ContentFile

from training_image.contract import (
    ARTIFACT_STORAGE,
    EVALUATION,
    MODEL_CARD,
    MODEL_ONNX,
    MODEL_PKL,
    JobStatus,
    artifact_key,
)

ARTIFACT_NAMES = (MODEL_PKL, MODEL_ONNX, MODEL_CARD, EVALUATION)


def mixed_frame(n: int = 300, seed: int = 1) -> pd.DataFrame:
    """Every encoding: a number with gaps, a yes/no boolean, a category, free text, a date."""
    rng = np.random.default_rng(seed)
    amount = rng.gamma(2.0, 50.0, n).round(2)
    amount[rng.random(n) < 0.05] = np.nan
    plan = rng.choice(["basic", "plus", "pro"], n)
    member = rng.choice(["yes", "no"], n)
    signup = pd.Timestamp("2022-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D")
    words = ["slow", "refund", "great", "friendly", "billing", "works", "cancel", "love"]
    comment = [" ".join(rng.choice(words, 3)) + f" order {i}" for i in range(n)]
    score = (
        np.nan_to_num(amount, nan=100) / 100
        + np.where(plan == "basic", 1.0, -0.5)
        + np.where(member == "yes", -0.7, 0.3)
        + np.array([1.0 if "refund" in c else 0.0 for c in comment])
    )
    return pd.DataFrame(
        {
            "amount": amount,
            "plan": plan,
            "member": member,
            "comment": comment,
            "signup": signup.strftime("%Y-%m-%d"),
            "churn": np.where(score + rng.normal(0, 0.3, n) > 1.0, "yes", "no"),
        }
    )


def train(
    frame: pd.DataFrame,
    target: str,
    out: Path,
    *,
    estimators: Sequence[str] | None = ("lgbm",),
    budget: float = 4,
    ensemble: bool = False,
) -> Any:
    """A real pipeline run; the artifacts land in `out`."""
    from training_image.pipeline import train_frame

    return train_frame(
        frame,
        target,
        time_budget=budget,
        n_jobs=1,
        estimators=estimators,
        ensemble=ensemble,
        reports=False,
        out_dir=out,
    )


def store_trained_job(owner: Any, dataset: Any, result: Any, out: Path, **overrides: Any) -> Any:
    """A completed (by default deployed) job holding `result`'s artifacts."""
    from automl_lite import wiring
    from tests.jobs.factories import store_job

    values = {
        "status": JobStatus.COMPLETED,
        "deployed": True,
        "target_column": result.target,
        "problem_type": result.problem_type,
        "metric": result.metric,
        "metrics": result.metrics,
        "preprocessing": result.preprocessing,
    }
    job = store_job(owner, dataset, **{**values, **overrides})
    artifacts = {}
    for name in ARTIFACT_NAMES:
        path = out / name
        if path.exists():
            storage = wiring.storage(ARTIFACT_STORAGE[name])
            artifacts[name] = storage.save(
                artifact_key(job.job_id, name), ContentFile(path.read_bytes())
            )
    return wiring.job_repository().update(job.job_id, artifacts=artifacts)
