"""Loading deployed ONNX sessions and keeping them in a bounded LRU cache.

The cache reads model files through the storage it is given (an alias -> Storage
callable); `automl_lite.wiring.model_cache()` builds the process's one cache with the
wired storages, so this module never imports the wiring that builds it.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings

from jobs.model_spec import ModelError, ModelSpec, model_spec
from training_image.contract import (
    ARTIFACT_STORAGE,
    MODEL_CARD,
    MODEL_ONNX,
    Job,
    ModelCard,
    read_model_card,
)

if TYPE_CHECKING:
    from django.core.files.storage import Storage

logger = logging.getLogger(__name__)

StorageOf = Callable[[str], "Storage"]


@dataclass
class LoadedModel:
    """A ready ONNX session with what is needed to feed it and read its outputs."""

    session: Any
    spec: ModelSpec
    card: ModelCard
    explainer: Any = None  # jobs.explain.Explainer, loaded from model.pkl when first needed


class ModelCache:
    """A bounded, thread-safe LRU of loaded ONNX sessions, keyed by job id.

    Args:
        storage: The storage of an alias (`models`, `reports`): where artifacts are read.
        maxsize: Sessions kept at most (AUTOML_MODEL_CACHE_SIZE when omitted).
    """

    def __init__(self, *, storage: StorageOf, maxsize: int | None = None) -> None:
        self._storage = storage
        self._maxsize = maxsize
        self._items: OrderedDict[str, LoadedModel] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def maxsize(self) -> int:
        return self._maxsize or settings.AUTOML_MODEL_CACHE_SIZE

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._items

    def get(self, job: Job) -> LoadedModel:
        """The job's loaded model, from the cache or loaded now (evicting the oldest)."""
        with self._lock:
            if job.job_id in self._items:
                self._items.move_to_end(job.job_id)
                return self._items[job.job_id]
        loaded = _load(job, self._storage)  # outside the lock: loading can take a while
        with self._lock:
            self._items[job.job_id] = loaded
            self._items.move_to_end(job.job_id)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return loaded

    def load_card(self, job: Job) -> ModelCard:
        """The job's model_card.json, read now (ModelError when missing or unreadable)."""
        return load_card(job, self._storage)

    def evict(self, job_id: str) -> None:
        """Forget the job's model (deleted or undeployed)."""
        with self._lock:
            self._items.pop(job_id, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def _read_artifact(job: Job, name: str, storage: StorageOf) -> bytes:
    key = (job.artifacts or {}).get(name)
    if not key:
        raise ModelError(f"The model's {name} is missing")
    try:
        with storage(ARTIFACT_STORAGE[name]).open(key, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise ModelError(f"The model's {name} is missing from storage") from None


def load_card(job: Job, storage: StorageOf) -> ModelCard:
    """The job's model_card.json (ModelError when it is missing or unreadable)."""
    try:
        card = json.loads(_read_artifact(job, MODEL_CARD, storage).decode("utf-8"))
        if not isinstance(card, dict):
            raise ValueError("not a JSON object")
        return read_model_card(card)
    except ValueError:
        raise ModelError("Model metadata missing feature columns information") from None


def _load(job: Job, storage: StorageOf) -> LoadedModel:
    import onnxruntime as ort

    card = load_card(job, storage)
    spec = model_spec(card)
    options = ort.SessionOptions()
    # One request scores one row: threads cost more than they give, and the web shares cores.
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(
            _read_artifact(job, MODEL_ONNX, storage), options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # a corrupt model is a server fault, not user input
        logger.exception("Could not load the ONNX model of job %s", job.job_id)
        raise ModelError("Prediction error: the model could not be loaded") from exc
    return LoadedModel(session=session, spec=spec, card=card)
