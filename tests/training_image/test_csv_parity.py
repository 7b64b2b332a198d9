"""One reading of a CSV: the upload analysis and the training container see the same table.

Every awkward file the tests build (tests/datasets/csv_files.py, plus a few dialects only
built here) is analysed by the web's streaming analyzer, its dialect goes through the
contract (`container_env` -> `AUTOML_CSV_DIALECT` -> `read_container_env`) as a job
would carry it, and the container's loader reads the file with exactly that dialect.
Both must give the same columns, the same row count and the same values: missing and
distinct counts, numeric ranges and means, the most frequent values, the first values.
"""

from __future__ import annotations

import dataclasses
import io
import math

import pandas as pd
import pytest

from datasets.analysis import analyze_csv, stored_dialect
from tests.datasets.csv_files import ACCEPTED, CITIES, awkward, penguins_csv
from tests.training_image.jobenv import LocalDeployment, new_job
from training_image import contract, csv_dialect, data
from training_image.contract import ContainerEnvError, container_env, read_container_env
from training_image.csv_dialect import CsvDialect

# 4 KiB blocks: the web's reader cuts even these small files into many chunks.
SMALL = {"block_bytes": 4096}


def _penguins_text() -> str:
    return penguins_csv().decode()


def _extra_files() -> dict[str, tuple[bytes, dict[str, object]]]:
    """Dialects the shared builders do not cover, with what the sniffer must find."""
    text = _penguins_text()
    single = "\n".join(
        ",".join(
            f"'{cell}'" if cell and not cell[0].isdigit() else cell for cell in line.split(",")
        )
        for line in text.splitlines()
    )
    undefined = (
        "name,code,score\n" + "".join(f"n{i},x\x81{i % 4},{i}\n" for i in range(40))
    ).encode("latin-1")
    return {
        "cr_only": (text.replace("\n", "\r").encode(), {"line_terminator": "\r"}),
        "single_quotes": (single.encode(), {"quotechar": "'"}),
        "pipe_cp1252_decimal_comma": (
            pd.read_csv(io.StringIO(text))
            .assign(city=lambda f: [CITIES[i % 5] for i in range(len(f))])
            .to_csv(index=False, sep="|", decimal=",")
            .encode("cp1252"),
            {"delimiter": "|", "decimal": ",", "encoding": "cp1252"},
        ),
        "latin1_undefined_byte": (undefined, {"encoding": "latin-1"}),
    }


EXPECTED = {
    "bom": {"encoding": "utf-8", "bom": True},
    "semicolon_decimal_comma_crlf": {"delimiter": ";", "decimal": ",", "line_terminator": "\r\n"},
    "latin1": {"encoding": "cp1252"},  # no byte in 0x80-0x9F: cp1252 and Latin-1 read alike
    "multiline_quoted": {"encoding": "utf-8", "quotechar": '"'},
    "cp1252": {"encoding": "cp1252"},
    "utf16_le_bom": {"encoding": "utf-16-le", "bom": True},
    "utf16_be_bom": {"encoding": "utf-16-be", "bom": True},
    "utf16_le": {"encoding": "utf-16-le", "bom": False},
    "utf16_be": {"encoding": "utf-16-be", "bom": False},
    "bom_crlf": {"encoding": "utf-8", "bom": True, "line_terminator": "\r\n"},
    "tab": {"delimiter": "\t"},
    "empty_rows": {"delimiter": ","},  # rows of blanks, spaces or NA are skipped by both
}
FILES = {name: (awkward(name).content, EXPECTED[name]) for name in ACCEPTED} | _extra_files()


def test_every_accepted_awkward_file_is_in_the_parity_set():
    assert set(ACCEPTED) <= set(FILES)
    assert {"utf16_le_bom", "utf16_be_bom", "utf16_le", "utf16_be", "cp1252", "latin1"} <= set(
        FILES
    )


def _through_the_contract(dialect: CsvDialect, tmp_path) -> CsvDialect:
    """The dialect as the container gets it: a job's env, built and read by the contract."""
    deployment = LocalDeployment(tmp_path)
    job = new_job(csv_dialect=dialect.to_dict())
    env = container_env(job, dataset_key="datasets/x/data.csv", backend=deployment.backend)
    config = read_container_env(env)
    assert config.csv_dialect is not None
    return config.csv_dialect


def _present(series: pd.Series) -> pd.Series:
    return series.dropna()


def _same_number(a: float | None, b: float) -> bool:
    return a is not None and math.isclose(a, float(b), rel_tol=1e-9, abs_tol=1e-9)


@pytest.mark.parametrize("name", sorted(FILES))
def test_the_analysis_and_the_container_read_the_same_table(tmp_path, name):
    content, expected = FILES[name]
    path = tmp_path / "data.csv"
    path.write_bytes(content)

    analysis = analyze_csv(path, **SMALL)
    dialect = stored_dialect(analysis)
    for field, value in expected.items():
        assert getattr(dialect, field) == value, field
    given = _through_the_contract(dialect, tmp_path)
    assert given == dialect
    frame = data.load_csv(path, given)
    profiles = data.profile_frame(frame)

    names = [c["name"] for c in analysis["columns"]]
    assert list(frame.columns) == names
    assert len(frame) == analysis["rows"]
    for column in analysis["columns"]:
        label = column["name"]
        series = frame[label]
        profile = profiles[label].profile
        assert column["family"] == profile.family, label
        assert column["missing"] == int(series.isna().sum()), label
        assert column["unique"] == int(series.nunique()), label
        present = _present(series)
        if column["family"] in ("integer", "float"):
            # Numbers in both, decimal commas included.
            assert pd.api.types.is_numeric_dtype(series.dtype), label
            assert _same_number(column["min"], present.min()), label
            assert _same_number(column["max"], present.max()), label
            assert math.isclose(column["mean"], float(present.mean()), rel_tol=1e-9), label
        if column["top_values"]:
            counts = present.astype(str).value_counts()
            for top in column["top_values"]:
                if column["family"] in ("integer", "float"):
                    continue  # shown as numbers; compared through min/max/mean above
                assert counts[top["value"]] == top["count"], (label, top)
        shown = [str(v) for v in present.iloc[:5]]
        if column["family"] == "string":
            assert column["sample_values"] == shown, label


@pytest.mark.parametrize(
    "name", ["cp1252", "utf16_le_bom", "utf16_be", "pipe_cp1252_decimal_comma"]
)
def test_the_container_reads_zurich_euro_as_the_web_shows_it(tmp_path, name):
    path = tmp_path / "data.csv"
    path.write_bytes(FILES[name][0])

    analysis = analyze_csv(path)
    frame = data.load_csv(path, stored_dialect(analysis))

    city = next(c for c in analysis["columns"] if c["name"] == "city")
    assert "Zürich €" in {t["value"] for t in city["top_values"]}
    assert set(frame["city"]) == set(CITIES)
    assert not frame["city"].str.contains("\x80").any()


@pytest.mark.parametrize("name", sorted(FILES))
def test_the_container_sniffs_the_same_dialect_when_none_is_given(tmp_path, name):
    # Older jobs and `manage.py train` carry no dialect: the container sniffs with the same rule.
    content, _ = FILES[name]
    path = tmp_path / "data.csv"
    path.write_bytes(content)

    analysis = analyze_csv(path)
    assert csv_dialect.sniff_file(path) == stored_dialect(analysis)
    pd.testing.assert_frame_equal(
        data.load_csv(path), data.load_csv(path, stored_dialect(analysis))
    )


def test_the_container_reads_with_the_given_dialect_and_does_not_sniff(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(penguins_csv())

    # A comma file read as the (wrong) semicolon dialect it is told: one column, refused.
    told = CsvDialect(delimiter=";")
    with pytest.raises(data.DataError, match="single column"):
        data.load_csv(path, told)


def test_the_container_reads_a_cp1252_byte_past_the_head_as_the_analysis_does(
    tmp_path, monkeypatch
):
    # The head is plain ASCII; "€" comes late. The analysis rescans as cp1252 and stores
    # that; the container, told cp1252, reads "€", and sniffing alone falls back the same way.
    monkeypatch.setattr(csv_dialect, "HEAD_BYTES", 2048)
    rows = ["id,city,price"] + [f"{i},Paris,{i}.5" for i in range(1, 400)] + ["400,Zürich €,2.5"]
    path = tmp_path / "late.csv"
    path.write_bytes(("\n".join(rows) + "\n").encode("cp1252"))

    analysis = analyze_csv(path)
    dialect = stored_dialect(analysis)
    assert dialect.encoding == "cp1252"
    assert data.load_csv(path, dialect)["city"].iloc[-1] == "Zürich €"
    assert data.load_csv(path)["city"].iloc[-1] == "Zürich €"


# --------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x00\x01\x02 binary garbage" * 50, "binary data"),
        (bytes(range(256)) * 20, "binary data"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200), "a PNG image"),
    ],
    ids=["nul-bytes", "all-bytes", "png"],
)
def test_both_sides_refuse_a_binary_file_with_the_same_message(tmp_path, content, message):
    path = tmp_path / "data.csv"
    path.write_bytes(content)

    with pytest.raises(csv_dialect.CsvRejected) as web:
        analyze_csv(path)
    with pytest.raises(data.DataError) as container:
        data.load_csv(path)
    assert message in web.value.message
    assert container.value.message == web.value.message


def test_the_container_refuses_a_file_that_is_not_text_in_its_given_dialect(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes("name,city\nAnna,Zürich\n".encode("cp1252"))

    with pytest.raises(data.DataError, match="not valid UTF-8 text"):
        data.load_csv(path, CsvDialect(encoding="utf-8"))


def test_both_sides_refuse_a_utf8_bom_file_with_a_bad_byte_past_the_head(tmp_path, monkeypatch):
    # A byte order mark says UTF-8: a later byte that is not is a broken file, not an export.
    monkeypatch.setattr(csv_dialect, "HEAD_BYTES", 2048)
    rows = ["id,city"] + [f"{i},Paris" for i in range(1, 400)] + ["400,Z\xfcrich"]
    path = tmp_path / "broken.csv"
    path.write_bytes(b"\xef\xbb\xbf" + ("\n".join(rows) + "\n").encode("latin-1"))

    with pytest.raises(csv_dialect.CsvRejected) as web:
        analyze_csv(path)
    with pytest.raises(data.DataError) as sniffing:
        data.load_csv(path)
    with pytest.raises(data.DataError) as told:
        data.load_csv(path, CsvDialect(bom=True))
    assert web.value.code == "encoding"
    assert web.value.message == sniffing.value.message == told.value.message
    assert "not valid UTF-8 text" in web.value.message


def test_the_sniffer_refuses_a_utf8_bom_over_bytes_that_are_not_utf8():
    with pytest.raises(csv_dialect.CsvRejected) as caught:
        csv_dialect.sniff(b"\xef\xbb\xbfname,city\nAnna,Z\xfcrich\n", complete=True)
    assert caught.value.code == "encoding"


def _env(tmp_path, raw: str | None) -> dict[str, str]:
    env = container_env(
        new_job(), dataset_key="datasets/x/data.csv", backend=LocalDeployment(tmp_path).backend
    )
    if raw is not None:
        env[contract.ENV_CSV_DIALECT] = raw
    return env


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("{not json", "is not JSON"),
        ('[",", "."]', "must be a JSON object"),
        ('{"encoding": "utf-8"}', "missing bom, delimiter"),
        (
            CsvDialect().to_json().replace('"utf-8"', '"ebcdic"'),
            "encoding must be one of",
        ),
        (CsvDialect().to_json().replace('"delimiter": ","', '"delimiter": "x"'), "delimiter"),
        (CsvDialect().to_json().replace('"bom": false', '"bom": "yes"'), "bom must be"),
        (
            CsvDialect().to_json().replace('"decimal": "."', '"decimal": ","'),
            "cannot be the delimiter",
        ),
    ],
    ids=["not-json", "not-an-object", "missing-fields", "encoding", "delimiter", "bom", "clash"],
)
def test_a_malformed_dialect_in_the_env_is_a_config_error_naming_the_variable(
    tmp_path, raw, problem
):
    with pytest.raises(ContainerEnvError) as caught:
        read_container_env(_env(tmp_path, raw))
    assert caught.value.variable == contract.ENV_CSV_DIALECT
    assert str(caught.value).startswith("AUTOML_CSV_DIALECT: ")
    assert problem in str(caught.value)


def test_an_absent_dialect_means_sniff(tmp_path):
    env = _env(tmp_path, None)
    assert contract.ENV_CSV_DIALECT not in env
    assert read_container_env(env).csv_dialect is None
    assert contract.ENV_CSV_DIALECT not in contract.REQUIRED_ENV


def test_the_dialect_round_trips_as_json():
    dialect = CsvDialect(
        encoding="utf-16-be", bom=True, delimiter=";", decimal=",", line_terminator="\r\n"
    )
    assert CsvDialect.from_json(dialect.to_json()) == dialect
    assert CsvDialect.from_dict(dialect.to_dict()) == dialect
    assert dialect.codec == "utf-16"
    assert CsvDialect(encoding="utf-16-le").codec == "utf-16-le"
    assert CsvDialect().codec == "utf-8-sig"
    with pytest.raises(dataclasses.FrozenInstanceError):
        dialect.delimiter = ","  # type: ignore[misc]


def test_the_shared_rule_imports_only_the_standard_library():
    # The web imports it (through the contract): no pandas, numpy or polars behind it.
    import subprocess
    import sys

    code = (
        "import sys, training_image.contract, training_image.csv_dialect; "
        "print(sorted(m for m in ('pandas', 'numpy', 'polars') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
