"""`manage.py analyze PATH`: the analysis as JSON; exit status 1 and one line when rejected."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.datasets.csv_files import awkward, penguins_csv

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "analyze", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_it_prints_the_analysis_as_json(tmp_path):
    path = tmp_path / "penguins.csv"
    path.write_bytes(penguins_csv())
    result = run(str(path), "--indent", "0")
    assert result.returncode == 0, result.stderr
    analysis = json.loads(result.stdout)
    assert analysis["rows"] == 344
    assert analysis["suggested_target"] == "species"
    assert [c["name"] for c in analysis["columns"]][:2] == ["species", "island"]


@pytest.mark.parametrize("name", ["ragged", "png"])
def test_it_exits_with_1_and_one_line_for_a_rejected_file(tmp_path, name):
    file = awkward(name)
    path = tmp_path / file.filename
    path.write_bytes(file.content)
    result = run(str(path))
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert file.message in lines[0]


def test_it_explains_a_missing_path(tmp_path):
    result = run(str(tmp_path / "nope.csv"))
    assert result.returncode == 1
    assert "no such file" in result.stderr
