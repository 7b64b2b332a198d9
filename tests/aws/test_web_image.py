"""The web image (Lambda and ECS) can explain a prediction: it installs the model libraries,
and those are all that loading, predicting with and explaining a real model.pkl imports."""

from __future__ import annotations

import importlib.metadata as metadata
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.jobs.trained import mixed_frame, train
from training_image.contract import MODEL_PKL

REPO = Path(__file__).resolve().parents[2]
MODEL_REQUIREMENTS = REPO / "training_image" / "requirements-model.txt"
pytestmark = pytest.mark.slow
# Imported when present, not needed: setuptools' .pth file loads `_distutils_hack` at start-up;
# numpy.f2py tries charset_normalizer and does without it.
OPTIONAL = {"setuptools", "charset-normalizer"}

# Loads model.pkl, predicts and explains one row, then prints the top-level modules imported.
PROBE = """
import json, pickle, sys
import pandas as pd
with open(sys.argv[1], "rb") as f:
    model = pickle.load(f)
rows = pd.read_json(sys.argv[2], orient="records")
model.predict_proba(rows)
from training_image import explain
encoded = explain.RowEncoder(model).encode(rows.iloc[0].to_dict())
explain.contributions(model.named_steps["model"], encoded, 1)
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def pinned(path: Path) -> set[str]:
    names = set()
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-r"):
            names.add(re.split(r"[=<>\[ ]", line, maxsplit=1)[0].lower().replace("_", "-"))
    return names


def with_dependencies(names: set[str]) -> set[str]:
    """The distributions and everything they require, as installed here."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for requirement in requires:
            if "extra ==" in requirement:
                continue
            todo.append(re.split(r"[=<>!~;\[ (]", requirement, maxsplit=1)[0].lower())
    return {n.replace("_", "-") for n in seen}


def test_the_web_image_installs_the_model_libraries_and_the_openmp_runtime():
    dockerfile = (REPO / "deploy" / "web.Dockerfile").read_text()
    ignored = (REPO / "deploy" / "web.Dockerfile.dockerignore").read_text().splitlines()
    assert re.search(r"^COPY [^\n]*training_image/requirements-model\.txt", dockerfile, re.M)
    assert re.search(r"pip install[^\n]*-r requirements-model\.txt", dockerfile)
    assert "libgomp1" in dockerfile  # LightGBM and XGBoost load it
    assert "!training_image/requirements-model.txt" in ignored
    # The training container installs the same file (its requirements include it).
    training = (REPO / "training_image" / "requirements.txt").read_text().splitlines()
    assert "-r requirements-model.txt" in training


def test_the_model_libraries_are_all_that_a_model_and_its_explanation_import(tmp_path):
    frame = mixed_frame()
    train(frame, "churn", tmp_path / "model")
    rows = tmp_path / "rows.json"
    rows.write_text(frame.drop(columns=["churn"]).head(3).to_json(orient="records"))
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "model" / MODEL_PKL), str(rows)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    modules = json.loads(probe.stdout.strip().splitlines()[-1])
    owners = metadata.packages_distributions()
    imported = {
        owner.lower().replace("_", "-")
        for module in modules
        for owner in owners.get(module, [])
        if module not in sys.stdlib_module_names
    }
    web = pinned(REPO / "requirements-web.txt") | pinned(MODEL_REQUIREMENTS)
    assert {"scikit-learn", "lightgbm", "pandas"} <= imported  # the probe did load the model
    needed = imported - OPTIONAL
    assert needed <= with_dependencies(web), needed - with_dependencies(web)
