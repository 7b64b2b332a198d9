"""The streaming CSV analyzer on files built from pip-shipped data (no Django needed)."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from datasets.analysis import CsvRejected, analyze_csv, columns
from tests.datasets.csv_files import (
    ACCENTED,
    ACCEPTED,
    REJECTED,
    awkward,
    breast_cancer_csv,
    diabetes_csv,
    iris_csv,
    penguins_csv,
    penguins_raw_csv,
)
from training_image import csv_dialect, detection


def analyze(content: bytes, **kwargs) -> dict:
    return analyze_csv(io.BytesIO(content), **kwargs)


def by_name(analysis: dict) -> dict[str, dict]:
    return {c["name"]: c for c in analysis["columns"]}


# 4 KiB blocks: even small files cross many chunk boundaries.
SMALL = {"block_bytes": 4096}


# --------------------------------------------------------------------------- awkward files


@pytest.mark.parametrize("name", REJECTED)
def test_it_rejects_awkward_files_with_a_clear_message(name):
    file = awkward(name)
    with pytest.raises(CsvRejected) as caught:
        analyze(file.content)
    assert caught.value.code == file.code
    assert file.message in caught.value.message


@pytest.mark.parametrize("name", ACCEPTED)
def test_it_reads_awkward_files_correctly(name):
    file = awkward(name)
    analysis = analyze(file.content)
    assert (analysis["rows"], analysis["column_count"]) == (file.rows, file.cols)
    assert analysis["columns"][0]["name"] == "species"  # no BOM glued to the first name


def test_it_reads_semicolon_decimal_comma_numbers_as_numbers():
    analysis = analyze(awkward("semicolon_decimal_comma_crlf").content)
    columns = by_name(analysis)
    assert analysis["dialect"]["delimiter"] == ";"
    assert analysis["dialect"]["decimal"] == ","
    assert analysis["dialect"]["line_terminator"] == "\r\n"
    assert columns["bill_length_mm"]["family"] == "float"
    assert columns["bill_length_mm"]["min"] == pytest.approx(32.1)
    assert columns["bill_length_mm"]["missing"] == 2


def test_it_decodes_latin1_text():
    analysis = analyze(awkward("latin1").content)
    site = by_name(analysis)["site"]
    assert analysis["dialect"]["encoding"] in ("cp1252", "latin-1")
    assert {t["value"] for t in site["top_values"]} == set(ACCENTED)


def test_it_decodes_latin1_bytes_first_seen_after_the_head(monkeypatch):
    # The head is plain ASCII (valid UTF-8); the first é comes later: rescan as Latin-1.
    monkeypatch.setattr(csv_dialect, "HEAD_BYTES", 2048)
    rows = ["id,city"] + [f"{i},Paris" for i in range(1, 400)] + ["400,Orléans"]
    analysis = analyze(("\n".join(rows) + "\n").encode("latin-1"))
    assert analysis["rows"] == 400
    assert "Orléans" in {t["value"] for t in by_name(analysis)["city"]["top_values"]}


def test_it_keeps_quoted_newlines_inside_values():
    analysis = analyze(awkward("multiline_quoted").content, **SMALL)
    notes = by_name(analysis)["notes"]
    assert analysis["rows"] == 344
    assert notes["missing"] == 0
    assert notes["unique"] == 230  # "single line" once + 229 distinct multi-line notes


def test_it_names_the_first_ragged_line_even_deep_in_the_file():
    with pytest.raises(CsvRejected) as caught:
        analyze(_ragged_at(300), **SMALL)
    assert caught.value.line == 300
    assert "Line 300 has 9 fields but the header has 8" in caught.value.message


def _ragged_at(line: int) -> bytes:
    lines = penguins_csv().decode().splitlines(keepends=True)
    lines[line - 1] = lines[line - 1].replace(",", ",extra,", 1)
    return "".join(lines).encode()


@pytest.mark.parametrize(
    ("content", "phrase"),
    [
        (b"\x00\x01\x02binary\x00" * 50, "binary"),
        (b"<!DOCTYPE html><html><body>hi</body></html>", "web page"),
        (b'{"a": 1, "b": 2}', "JSON"),
        (b"just one column\nvalue\nvalue\n", "Only one column"),
        (b"\n\n  \n", "blank lines"),
        (b"%PDF-1.7 rest", "PDF"),
    ],
)
def test_it_rejects_other_non_csv_content(content, phrase):
    # (also: unquoted commas in the first data row are a ragged row, not a crash)
    with pytest.raises(CsvRejected) as caught:
        analyze(content)
    assert phrase in caught.value.message


# --------------------------------------------------------------------------- statistics


def test_it_matches_pandas_counts_on_penguins():
    analysis = analyze(penguins_csv(), **SMALL)
    frame = pd.read_csv(io.BytesIO(penguins_csv()))
    assert analysis["rows"] == len(frame)
    for name, column in by_name(analysis).items():
        assert column["missing"] == int(frame[name].isna().sum()), name
        assert column["unique"] == int(frame[name].nunique()), name
        assert not column["unique_approximate"]
    mass = by_name(analysis)["body_mass_g"]
    assert mass["min"] == frame["body_mass_g"].min()
    assert mass["max"] == frame["body_mass_g"].max()
    assert mass["mean"] == pytest.approx(frame["body_mass_g"].mean())
    assert mass["std"] == pytest.approx(frame["body_mass_g"].std())
    assert mass["missing_pct"] == pytest.approx(100 * 2 / 344, abs=0.01)


def test_it_gives_top_values_with_counts_for_categories():
    species = by_name(analyze(penguins_csv()))["species"]
    assert species["kind"] == "categorical"
    assert [(t["value"], t["count"]) for t in species["top_values"]] == [
        ("Adelie", 152),
        ("Gentoo", 124),
        ("Chinstrap", 68),
    ]


def test_it_suggests_the_target_and_a_problem_type_for_every_column():
    iris = analyze(iris_csv())
    assert iris["suggested_target"] == "species"
    assert iris["problem_types"]["species"] == "multiclass"
    assert iris["problem_types"]["sepal length (cm)"] == "regression"
    cancer = analyze(breast_cancer_csv())
    assert cancer["suggested_target"] == "target"
    assert cancer["problem_types"]["target"] == "binary"
    diabetes = analyze(diabetes_csv())
    assert diabetes["problem_types"]["target"] == "regression"
    assert set(diabetes["problem_types"]) == set(diabetes["columns"][i]["name"] for i in range(11))


def test_it_detects_ids_dates_text_and_constants_in_penguins_raw():
    columns = by_name(analyze(penguins_raw_csv()))
    assert columns["Date Egg"]["kind"] == "datetime"
    assert columns["Date Egg"]["min"].startswith("2007-11-09")
    assert columns["Individual ID"]["kind"] == "id"
    assert columns["Region"]["kind"] == "constant"
    assert columns["Comments"]["missing"] == 290


def test_it_excludes_ids_and_constants_with_the_reason():
    content = "row_id,colour,flag,size\n" + "".join(
        f"{i},{['red', 'blue'][i % 2]},same,{i * 1.5}\n" for i in range(1, 101)
    )
    analysis = analyze(content.encode())
    assert analysis["excluded_columns"] == {
        "row_id": detection.KIND_REASONS[detection.Kind.ID],
        "flag": detection.KIND_REASONS[detection.Kind.CONSTANT],
    }
    assert by_name(analysis)["row_id"]["is_monotonic_step"] is True
    codes = {w["code"] for w in analysis["warnings"]}
    assert {"id", "constant"} <= codes


@pytest.mark.parametrize(
    ("values", "fmt"),
    [
        (["2012/01/01", "2012/01/02", "2013/12/31"], "%Y/%m/%d"),
        (["2012-01-01", "2012-01-02", "2013-12-31"], "%Y-%m-%d"),
        (["2021-09-25T10:00:00", "2021-09-26T11:30:00", "2021-10-01T00:00:00"], None),
        (["September 25, 2021", " August 4, 2020", "May 1, 2019"], "%B %d, %Y"),
    ],
)
def test_it_detects_date_strings(values, fmt):
    rows = [f'"{values[i % 3]}",{i % 2}' for i in range(30)]
    analysis = analyze(("when,label\n" + "\n".join(rows) + "\n").encode())
    when = by_name(analysis)["when"]
    assert when["kind"] == "datetime"
    assert when["family"] == "datetime"
    if fmt:
        assert when["date_format"] == fmt
    assert when["min"] < when["max"]


def test_it_treats_na_tokens_as_missing_including_question_marks_and_blanks():
    content = b"a,b,c,d\n1,x,?,2.5\nNA,y, ,N/A\n3,null,z,  \n4,?,w,1.0\n5, NA ,v,NaN\n"
    columns = by_name(analyze(content))
    assert [columns[n]["missing"] for n in "abcd"] == [1, 3, 2, 3]
    assert columns["a"]["family"] == "integer"
    assert columns["d"]["family"] == "float"


def test_it_widens_a_column_when_a_later_value_does_not_fit():
    # Integers for hundreds of rows, then a decimal, then a word: integer -> float -> text.
    lines = ["n,m,label"] + [f"{i},{i},{i % 2}" for i in range(1, 2000)]
    lines += ["2000,2000.5,1", "2001,oops,0"]
    columns = by_name(analyze(("\n".join(lines) + "\n").encode(), **SMALL))
    assert columns["n"]["family"] == "integer"
    assert columns["m"]["family"] == "string"
    assert columns["m"]["unique"] == 2001


def test_it_reads_numbers_written_with_spaces_or_mixed_na_tokens():
    lines = ["x,y"] + [f"{i},{i % 3}" for i in range(1000)] + [" 7 ,1", "NA,2", "?,0", "N/A,1"]
    x = by_name(analyze(("\n".join(lines) + "\n").encode(), **SMALL))["x"]
    assert x["family"] == "integer"
    assert x["missing"] == 3


def test_it_skips_blank_lines_with_a_warning():
    content = b"a,b\n1,x\n\n2,y\n\n\n3,z\n\n"
    analysis = analyze(content)
    assert analysis["rows"] == 3
    assert analysis["empty_rows_skipped"] == 4
    assert any(w["code"] == "empty_rows" for w in analysis["warnings"])


def test_it_names_unnamed_and_duplicate_columns_like_pandas():
    analysis = analyze(b"a,,a,b\n1,2,3,4\n5,6,7,8\n")
    assert [c["name"] for c in analysis["columns"]] == ["a", "Unnamed: 1", "a.1", "b"]
    assert sum(w["code"] == "renamed_column" for w in analysis["warnings"]) == 2


def test_it_reads_tab_and_pipe_separated_files():
    tab = analyze(iris_csv().replace(b",", b"\t"))
    pipe = analyze(iris_csv().replace(b",", b"|"))
    assert (tab["rows"], tab["column_count"]) == (150, 5)
    assert (pipe["rows"], pipe["column_count"]) == (150, 5)
    assert pipe["dialect"]["delimiter"] == "|"


def test_it_reads_old_mac_line_endings():
    analysis = analyze(iris_csv().replace(b"\n", b"\r"))
    assert (analysis["rows"], analysis["column_count"]) == (150, 5)


def test_it_estimates_distinct_counts_beyond_the_sketch_capacity(monkeypatch):
    # A small sketch (8,192 hashes: ~1.5 % standard error) so a small file exceeds it.
    monkeypatch.setattr(columns.DistinctSketch.__init__, "__defaults__", (8192,))
    lines = ["key,value"] + [f"k{i:06d},{i % 5}" for i in range(40_000)]
    analysis = analyze(("\n".join(lines) + "\n").encode(), block_bytes=65536)
    key = by_name(analysis)["key"]
    assert key["unique_approximate"] is True
    assert key["unique"] == pytest.approx(40_000, rel=0.05)
    assert key["kind"] == "id"
    assert by_name(analysis)["value"]["unique"] == 5
    assert any(w["code"] == "approximate_unique" for w in analysis["warnings"])


def test_it_counts_exactly_when_a_column_turns_high_cardinality_late_in_the_file():
    # Five values in the first chunks, then 3,000 more: value counts switch to hashes
    # mid-scan (the chunk expressions are rebuilt) and the count stays exact.
    lines = ["grade,label"] + [f"g{i % 5},{i % 2}" for i in range(3000)]
    lines += [f"late{i},{i % 2}" for i in range(3000)]
    content = ("\n".join(lines) + "\n").encode()
    grade = by_name(analyze(content, **SMALL))["grade"]
    frame = pd.read_csv(io.BytesIO(content))
    assert grade["unique"] == frame["grade"].nunique() == 3005
    assert grade["unique_approximate"] is False
    assert grade["top_values"] is None  # too many values to rank them all exactly


def test_it_keeps_distinct_counts_exact_when_values_repeat_across_chunks():
    import polars as pl

    # 100 chunks of the same 900 values: the buffered hashes exceed the capacity many
    # times over, but the distinct values never do, so the count stays exact.
    sketch = columns.DistinctSketch(capacity=1024)
    for _ in range(100):
        sketch.add(pl.Series(range(900), dtype=pl.Int64).hash(columns.HASH_SEED))
    assert sketch.estimate() == (900, True)
    sketch.add(pl.Series(range(900, 2000), dtype=pl.Int64).hash(columns.HASH_SEED))
    count, exact = sketch.estimate()
    assert not exact
    assert count == pytest.approx(2000, rel=0.15)


def test_it_analyzes_without_loading_numpy():
    # numpy adds ~12 MB to the worker's peak memory, and the analyzer does not need it.
    import subprocess
    import sys

    code = (
        "import io, sys; from datasets.analysis import analyze_csv; "
        "analyze_csv(io.BytesIO(b'a,b\\n1,x\\n2,y\\n')); print('numpy' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_it_returns_json_with_the_column_order_of_the_file():
    import json

    analysis = analyze(penguins_csv())
    assert json.loads(json.dumps(analysis)) == analysis
    assert [c["name"] for c in analysis["columns"]] == pd.read_csv(
        io.BytesIO(penguins_csv())
    ).columns.tolist()


# --------------------------------------------------------------------------- same facts as the container


@pytest.mark.parametrize(
    "content",
    [penguins_csv(), penguins_raw_csv(), iris_csv(), diabetes_csv(), breast_cancer_csv()],
    ids=["penguins", "penguins_raw", "iris", "diabetes", "breast_cancer"],
)
def test_it_profiles_columns_exactly_as_the_training_container(tmp_path, content):
    from training_image import data

    path = tmp_path / "data.csv"
    path.write_bytes(content)
    container = data.profile_frame(data.load_csv(path))
    analysis = analyze_csv(path)
    for column in analysis["columns"]:
        profile = container[column["name"]].profile
        assert column["family"] == profile.family, column["name"]
        assert column["kind"] == detection.column_kind(profile), column["name"]
        assert column["missing"] == profile.n_missing, column["name"]
        assert column["unique"] == profile.n_unique, column["name"]
        assert column["problem_type"] == detection.problem_type(profile), column["name"]
    assert analysis["suggested_target"] == detection.suggest_target(
        [info.profile for info in container.values()]
    )


def _cars_csv() -> bytes:
    from tests.training_image.frames import used_cars

    return used_cars(n=600).to_csv(index=False).encode()


def _houses_csv() -> bytes:
    from tests.training_image.frames import house_sales

    houses = house_sales(n=600)
    sold = houses["date"].str[:8].astype(int).where(houses.index % 9 != 0).astype("Int64")
    return houses.assign(sold_on=sold).to_csv(index=False).encode()


def _late_other_text_csv() -> bytes:
    # kmpl on every one of the first 1,200 rows; then 10 % of the file is other text.
    values = [f"{15 + i % 50 / 10:.1f} kmpl" for i in range(1200)] + ["not rated"] * 140
    return pd.DataFrame({"mileage": values, "y": range(len(values))}).to_csv(index=False).encode()


def _late_bad_dates_csv() -> bytes:
    # Dates like 20141013 for the first 1,000 rows, then 8 % numbers that are no date.
    days = pd.date_range("2014-01-01", periods=1000).strftime("%Y%m%d").astype(int).tolist()
    values = days + [20141399] * 90
    return pd.DataFrame({"sold_on": values, "y": range(len(values))}).to_csv(index=False).encode()


UNIT_AND_DATE_FILES = {
    "used-cars": _cars_csv,
    "house-sales": _houses_csv,
    "late-other-text": _late_other_text_csv,
    "late-bad-dates": _late_bad_dates_csv,
}


@pytest.mark.parametrize("blocks", [{}, SMALL], ids=["one-chunk", "4k-chunks"])
@pytest.mark.parametrize("name", sorted(UNIT_AND_DATE_FILES))
def test_it_reads_units_and_compact_dates_exactly_as_the_training_container(tmp_path, name, blocks):
    from training_image import data

    path = tmp_path / "data.csv"
    path.write_bytes(UNIT_AND_DATE_FILES[name]())
    frame = data.load_csv(path)
    container = data.profile_frame(frame)
    analysis = analyze_csv(path, **blocks)
    for column in analysis["columns"]:
        info = container[column["name"]]
        profile = info.profile
        assert column["family"] == profile.family, column["name"]
        assert column["kind"] == info.kind, column["name"]
        assert column["missing"] == profile.n_missing, column["name"]
        assert column["unique"] == profile.n_unique, column["name"]
        assert column.get("unit") == profile.unit, column["name"]
        assert column.get("date_format") == info.datetime_format, column["name"]
        if profile.unit is not None:
            numbers = frame[column["name"]].dropna()
            assert column["min"] == numbers.min() and column["max"] == numbers.max()
            assert column["mean"] == pytest.approx(numbers.mean(), rel=1e-12)
            assert column["all_integral"] == profile.all_integral


def test_it_shows_numbers_with_a_unit_and_what_did_not_read():
    columns_ = by_name(analyze(_cars_csv()))

    assert columns_["engine"]["kind"] == "numeric" and columns_["engine"]["unit"] == "CC"
    assert columns_["engine"]["all_integral"] is True
    assert columns_["mileage"]["unit"] == "kmpl"
    assert columns_["mileage"]["invalid"] > 0  # the gas cars' km/kg
    assert columns_["name"]["kind"] == "text"
    assert "unit" not in columns_["torque"]
    warning = next(w for w in analyze(_cars_csv())["warnings"] if w["code"] == "not_in_unit")
    assert warning["column"] == "mileage"
    assert "in another unit or not a number will be read as missing" in warning["message"]
    assert by_name(analyze(_late_other_text_csv()))["mileage"]["family"] == "string"
    late_dates = by_name(analyze(_late_bad_dates_csv()))["sold_on"]
    assert (late_dates["family"], late_dates["kind"]) == ("integer", "integer")
    houses = by_name(analyze(_houses_csv()))
    assert (houses["date"]["kind"], houses["date"]["date_format"]) == ("datetime", "%Y%m%dT%H%M%S")
    assert (houses["sold_on"]["kind"], houses["sold_on"]["date_format"]) == ("datetime", "%Y%m%d")


def test_it_tries_the_same_date_formats_as_the_container():
    from training_image import data

    # strptime writes fractions as ".%f"; polars (chrono) as "%.f".
    assert [f.replace("%.f", ".%f") for f in columns.DATE_FORMATS] == list(data.DATETIME_FORMATS)


# --------------------------------------------------------------------------- wide files


def _wide(columns: int, rows: int = 300) -> bytes:
    header = ",".join(f"feature_with_a_longish_name_{i}" for i in range(columns)) + ",target"
    body = [
        ",".join(f"level_{(r * 7 + c) % 30}" for c in range(columns)) + f",{r % 2}"
        for r in range(rows)
    ]
    return ("\n".join([header, *body]) + "\n").encode()


def test_it_rejects_files_wider_than_a_dataset_record_can_describe():
    with pytest.raises(CsvRejected) as caught:
        analyze(_wide(600))
    assert caught.value.code == "too_many_columns"
    assert "601 columns" in caught.value.message


def test_it_trims_detail_so_a_wide_analysis_fits_the_record():
    import json

    from datasets.analysis import summary

    analysis = analyze(_wide(499))
    assert analysis["column_count"] == 500
    assert "sample_values" in analysis["trimmed"]
    assert len(json.dumps(analysis).encode()) <= summary.MAX_ANALYSIS_BYTES
    assert all(c["unique"] == 30 for c in analysis["columns"][:-1])


def test_it_reads_a_one_way_stream_even_when_it_must_rescan():
    class OneWay(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

        def readinto(self, buffer) -> int:
            chunk = self._data.read(len(buffer))
            buffer[: len(chunk)] = chunk
            return len(chunk)

    lines = ["n,m"] + [f"{i},{i}" for i in range(3000)] + ["1.5,x"]  # forces two rescans
    analysis = analyze_csv(io.BufferedReader(OneWay(("\n".join(lines) + "\n").encode())), **SMALL)
    assert analysis["rows"] == 3001
    assert [c["family"] for c in analysis["columns"]] == ["float", "string"]
