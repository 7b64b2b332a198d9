"""Why a deployed model predicted what it did: each prediction's top feature contributions.

Serving scores with the ONNX graph, which has no contributions; the booster (and the forest
trees, the linear coefficients) are in `model.pkl`, which is loaded the first time a job's
prediction is explained and kept with the job's ONNX session in the model cache
(`LoadedModel.explainer`), so it is evicted with it. The math is `training_image/explain.py`.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from automl_lite import wiring
from jobs.model_cache import LoadedModel
from training_image.contract import ARTIFACT_STORAGE, MODEL_PKL, Job

logger = logging.getLogger(__name__)

TOP_FEATURES = 8  # contributions returned per prediction, largest first
# Explain by default while explaining keeps a prediction within the latency target (p50 of
# 15 ms with explanations): an explanation may take this long (median of its recent ones).
DEFAULT_MAX_MS = 10.0
_RECENT = 20
_lock = threading.Lock()


@dataclass
class Explainer:
    """A loaded model.pkl with what explaining a row needs."""

    pipeline: Any
    sources: list[str]  # the original column of each encoded feature
    columns: list[str]  # the pipeline's feature columns
    encoder: Any = None  # training_image.explain.RowEncoder, when it matches the pipeline
    recent_ms: deque[float] = field(default_factory=lambda: deque(maxlen=_RECENT))

    @property
    def typical_ms(self) -> float | None:
        return statistics.median(self.recent_ms) if self.recent_ms else None


class ExplanationUnavailable(Exception):
    """This model cannot be explained here (no model.pkl, or no ML libraries in this process)."""


def _load(job: Job) -> Explainer:
    key = (job.artifacts or {}).get(MODEL_PKL)
    if not key:
        raise ExplanationUnavailable("the job has no model.pkl to explain predictions with")
    try:
        import pickle

        from training_image.preprocess import encoded_sources
    except ImportError as exc:  # the web image may lack the ML libraries
        raise ExplanationUnavailable(f"explanations need the ML libraries ({exc.name})") from None
    try:
        with wiring.storage(ARTIFACT_STORAGE[MODEL_PKL]).open(key, "rb") as handle:
            pipeline = pickle.loads(handle.read())  # our own artifact
    except FileNotFoundError:
        raise ExplanationUnavailable("the model.pkl is missing from storage") from None
    except Exception as exc:  # noqa: BLE001 - a model that cannot load is reported, not raised
        logger.exception("Could not load model.pkl of job %s", job.job_id)
        raise ExplanationUnavailable("the model.pkl could not be loaded") from exc
    preparer = pipeline.named_steps["prepare"]
    sources = encoded_sources(pipeline.named_steps["encode"], preparer.features)
    found = Explainer(pipeline, sources, [f.column for f in preparer.features])
    found.encoder = _checked_encoder(found)
    return found


def _checked_encoder(found: Explainer) -> Any:
    """The fast row encoder, if it encodes an all-missing row exactly as the pipeline does."""
    import numpy as np
    import pandas as pd

    from training_image.explain import RowEncoder

    encoder = RowEncoder(found.pipeline)
    probe = {c: None for c in found.columns}
    fast = encoder.encode(probe)
    slow = found.pipeline[:-1].transform(pd.DataFrame({c: [None] for c in found.columns}))
    if fast is None or fast.shape != slow.shape or not np.allclose(fast, slow, equal_nan=True):
        return None
    return encoder


def explainer(job: Job, loaded: LoadedModel | None = None) -> Explainer:
    """The job's explainer, loaded once and kept with its ONNX session."""
    loaded = loaded or wiring.model_cache().get(job)
    if loaded.explainer is None:
        with _lock:
            if loaded.explainer is None:
                try:
                    loaded.explainer = _load(job)
                except ExplanationUnavailable as exc:
                    loaded.explainer = exc  # asked again only after the model is reloaded
    if isinstance(loaded.explainer, ExplanationUnavailable):
        raise loaded.explainer
    return loaded.explainer


def explain_by_default(job: Job) -> bool:
    """Explain when not asked otherwise, while explanations stay within the latency budget."""
    loaded = wiring.model_cache().get(job)
    if loaded.explainer is None:
        return True  # not measured yet: the first one tells
    if isinstance(loaded.explainer, ExplanationUnavailable):
        return True  # answered at once with the reason
    typical = loaded.explainer.typical_ms
    return typical is None or typical <= DEFAULT_MAX_MS


def explain(
    job: Job, row: Mapping[str, Any], *, class_index: int | None, label: Any = None
) -> dict[str, Any]:
    """The row's top feature contributions toward its prediction.

    Returns:
        `{explanation: [{feature, value, contribution}], explanation_info: {method,
        description, exact, unit, baseline, toward}}`; when the model cannot be explained here,
        `explanation` is None and `explanation_info.unavailable` says why.
    """
    try:
        found = explainer(job)
    except ExplanationUnavailable as exc:
        return {"explanation": None, "explanation_info": {"unavailable": str(exc)}}
    started = time.perf_counter()  # the explanation itself, not the one-off load
    import pandas as pd

    from training_image import explain as math

    try:
        encoded = found.encoder.encode(dict(row)) if found.encoder is not None else None
        if encoded is None:
            frame = pd.DataFrame({c: [row.get(c)] for c in found.columns})
            encoded = found.pipeline[:-1].transform(frame)
        parts = math.contributions(found.pipeline.named_steps["model"], encoded, class_index)
    except Exception:  # noqa: BLE001 - never fail a prediction over its explanation
        logger.exception("Could not explain a prediction of job %s", job.job_id)
        return {
            "explanation": None,
            "explanation_info": {"unavailable": "the explanation failed (see the server log)"},
        }
    if parts is None:
        return {
            "explanation": None,
            "explanation_info": {"unavailable": "this model type has no explanation method"},
        }
    totals = math.by_column(parts.values, found.sources)
    ranked = sorted(totals.items(), key=lambda kv: abs(kv[1]), reverse=True)[:TOP_FEATURES]
    description, _ = math.METHODS[parts.method]
    found.recent_ms.append((time.perf_counter() - started) * 1000)
    return {
        "explanation": [
            {"feature": name, "value": _shown(row.get(name)), "contribution": round(value, 6)}
            for name, value in ranked
        ],
        "explanation_info": {
            "method": parts.method,
            "description": description,
            "exact": parts.exact,
            "unit": parts.unit,
            "baseline": round(parts.baseline, 6),
            "toward": None if label is None else str(label),
        },
    }


def _shown(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
