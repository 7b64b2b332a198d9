"""Adapters receive their collaborators from `automl_lite.wiring`; none imports it."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage

from automl_lite import wiring
from jobs.model_cache import ModelCache
from jobs.model_spec import ModelError
from tests.conftest import make_job
from training_image.contract import MODEL_CARD, read_model_card

ROOT = Path(__file__).resolve().parents[2]
# Runners, the model cache, the record stores: what wiring builds.
ADAPTERS = [
    *sorted((ROOT / "jobs" / "runners").glob("*.py")),
    ROOT / "jobs" / "model_cache.py",
    *sorted((ROOT / "jobs" / "adapters").glob("*.py")),
    *sorted((ROOT / "datasets" / "adapters").glob("*.py")),
    *sorted(p for p in (ROOT / "core").glob("*.py")),
]


def imports_wiring(path: Path) -> list[int]:
    """Lines of `path` that import automl_lite.wiring (at any depth of the module)."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            names = {f"{node.module}.{alias.name}" for alias in node.names} | {node.module}
        elif isinstance(node, ast.Import):
            names = {alias.name for alias in node.names}
        else:
            continue
        if "automl_lite.wiring" in names:
            lines.append(node.lineno)
    return lines


def test_no_adapter_imports_the_wiring_that_builds_it():
    offenders = {
        str(path.relative_to(ROOT)): lines for path in ADAPTERS if (lines := imports_wiring(path))
    }

    assert len(ADAPTERS) > 10
    assert offenders == {}


def test_the_check_sees_a_lazy_import_inside_a_function(tmp_path):
    module = tmp_path / "adapter.py"
    module.write_text("def f():\n    from automl_lite import wiring\n    return wiring\n")

    assert imports_wiring(module) == [2]


@pytest.mark.django_db
def test_wiring_hands_the_batch_runner_the_container_backend_it_would_build(settings):
    from jobs.runners.batch import BatchRunner

    settings.AUTOML_SEED = 7
    runner = BatchRunner(
        object(), job_queue="q", job_definition="d", backend=wiring.container_backend
    )

    assert runner.backend() == wiring.container_backend()
    assert runner.backend().seed == 7
    fixed = wiring.container_backend()
    assert (
        BatchRunner(object(), job_queue="q", job_definition="d", backend=fixed).backend() is fixed
    )


def test_the_model_cache_reads_through_the_storage_it_is_given(tmp_path):
    asked: list[str] = []

    def storage(alias: str) -> FileSystemStorage:
        asked.append(alias)
        return FileSystemStorage(location=tmp_path / alias)

    job = make_job(artifacts={MODEL_CARD: "jobs/j1/model_card.json"})
    cache = ModelCache(storage=storage, maxsize=1)

    with pytest.raises(ModelError, match="missing from storage"):
        cache.load_card(job)
    card = {"problem_type": "binary", "target": "y"}
    storage("models").save("jobs/j1/model_card.json", ContentFile(json.dumps(card)))

    assert cache.load_card(job) == read_model_card(card)
    assert set(asked) == {"models"}


def test_wiring_builds_one_model_cache_on_its_storages():
    from jobs import inference

    assert wiring.model_cache() is inference.model_cache
