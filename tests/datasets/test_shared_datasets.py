"""Extended: every file of ../shared/datasets (awkward ones included) against its manifest.

Skips with a reason when the shared folder is absent. Ragged rows are rejected by
design (see datasets/analysis/__init__.py), naming the first bad line (9).
"""

from __future__ import annotations

import json

import pytest

from datasets.analysis import CsvRejected, analyze_csv
from tests.conftest import SHARED_DATASETS, shared_datasets
from training_image import detection

pytestmark = pytest.mark.extended


def _manifest() -> list[dict]:
    path = SHARED_DATASETS / "manifest.json"
    return json.loads(path.read_text()) if path.exists() else []


ENTRIES = _manifest() or [{"name": "shared datasets absent", "file": None}]


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["name"] for e in ENTRIES])
def test_it_reads_every_shared_file_as_its_manifest_says(entry):
    root = shared_datasets()
    path = root / entry["file"]
    kind = entry.get("awkward_kind")
    if kind in ("empty", "header_only"):
        with pytest.raises(CsvRejected) as caught:
            analyze_csv(path)
        assert caught.value.code == {"empty": "empty", "header_only": "no_rows"}[kind]
        return
    if kind == "ragged_rows":
        with pytest.raises(CsvRejected) as caught:
            analyze_csv(path)
        assert caught.value.code == "ragged_rows"
        assert caught.value.line == 9
        assert "Line 9 has 13 fields but the header has 12" in caught.value.message
        return
    analysis = analyze_csv(path)
    assert (analysis["rows"], analysis["column_count"]) == (entry["rows"], entry["cols"])
    columns = {c["name"]: c for c in analysis["columns"]}
    assert {n: c["missing"] for n, c in columns.items() if c["missing"]} == entry["missing_by_col"]
    assert entry["target"] in columns
    expected = entry["task"]
    detected = columns[entry["target"]]["problem_type"]
    # wine quality (3-9) and fair's rating are integer-valued: multiclass is our rule's answer.
    assert detected == expected or (expected == "regression" and detected == "multiclass")
    if kind == "utf8_bom":
        assert analysis["columns"][0]["name"] == "PassengerId"
    if kind == "semicolon_decimal_comma_crlf":
        assert columns["Age"]["family"] == columns["Fare"]["family"] == "float"
    if kind == "latin1_encoding":
        import pandas as pd

        frame = pd.read_csv(path, encoding="latin-1")
        assert analysis["dialect"]["encoding"] in ("cp1252", "latin-1")
        # 204 cast lists hold accented names: decoded right, every length matches.
        cast = frame["cast"].dropna().str.strip()
        assert columns["cast"]["mean_length"] == pytest.approx(cast.str.len().mean(), abs=0.01)


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["name"] for e in ENTRIES])
def test_it_agrees_with_the_training_container_on_every_column(entry):
    root = shared_datasets()
    if entry.get("awkward_kind") in ("empty", "header_only", "ragged_rows"):
        pytest.skip("rejected by design")
    from training_image import data

    path = root / entry["file"]
    container = data.profile_frame(data.load_csv(path))
    analysis = analyze_csv(path)
    for column in analysis["columns"]:
        profile = container[column["name"]].profile
        facts = (column["family"], column["kind"], column["missing"], column["unique"])
        assert facts == (
            profile.family,
            detection.column_kind(profile),
            profile.n_missing,
            profile.n_unique,
        ), column["name"]
    assert analysis["suggested_target"] == detection.suggest_target(
        [info.profile for info in container.values()]
    )
