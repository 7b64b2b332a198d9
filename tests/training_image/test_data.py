"""Reading real-world CSVs and describing their columns with the web's detection rules."""

from __future__ import annotations

import pytest

from tests.training_image import frames
from training_image.data import load_csv, normalise_frame, profile_frame
from training_image.detection import Family, Kind
from training_image.errors import DataError

ROWS = "name,age,fare,city\nAnna,22,7.25,Zürich\nBert,,71.2833,Köln\nCléo,35,8.05,Nice\n"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty"),
        (b"   \n\n", "The file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200), "a PNG image, not a CSV"),
        (b"\x00\x01\x02 binary garbage" * 50, "binary data"),
        (b"name,age,fare\n", "header but no data rows"),
        (b"just one column\nvalue\n", "Only one column"),
        (
            b"a,b,c\n1,2,3\n4,5,6,7\n",
            "Expected 3 fields in line 3, saw 4",
        ),
    ],
    ids=["empty", "blank", "png", "binary", "header-only", "one-column", "ragged"],
)
def test_it_rejects_unusable_files_with_a_clear_message(tmp_path, content, message):
    path = tmp_path / "data.csv"
    path.write_bytes(content)

    with pytest.raises(DataError, match=message):
        load_csv(path)


def test_it_reads_utf8_with_a_byte_order_mark(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + ROWS.encode("utf-8"))

    df = load_csv(path)

    assert list(df.columns) == ["name", "age", "fare", "city"]
    assert df["city"].tolist() == ["Zürich", "Köln", "Nice"]


def test_it_reads_latin1(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes(ROWS.encode("latin-1"))

    df = load_csv(path)

    assert df["name"].tolist() == ["Anna", "Bert", "Cléo"]


def test_it_reads_semicolons_with_decimal_commas(tmp_path):
    path = tmp_path / "excel.csv"
    text = ROWS.replace(",", ";").replace("7.25", "7,25").replace("71.2833", "71,2833")
    path.write_bytes(text.replace("8.05", "8,05").replace("\n", "\r\n").encode("utf-8"))

    df = load_csv(path)

    assert df["fare"].tolist() == [7.25, 71.2833, 8.05]
    assert df["age"].isna().tolist() == [False, True, False]


def test_it_treats_na_tokens_and_blank_cells_as_missing(tmp_path):
    path = tmp_path / "na.csv"
    path.write_text("x,y,total\n1,NA,10\n2,?,\n3,b, \n4,c,12.5\n")

    df = load_csv(path)

    assert df["y"].isna().tolist() == [True, True, False, False]
    # A number column with a blank cell is still numbers (the telco "TotalCharges" case).
    assert df["total"].dtype == "float64"
    assert df["total"].isna().sum() == 2


def test_it_profiles_the_penguins_file_like_the_web_does():
    df = load_csv(frames.penguins_csv())

    infos = profile_frame(df)

    assert infos["species"].kind == Kind.CATEGORICAL
    assert infos["sex"].kind == Kind.BOOLEAN
    # Whole numbers with NA gaps are integers to detection, as the web's analyzer sees them.
    assert infos["flipper_length_mm"].profile.family == Family.INTEGER
    assert infos["flipper_length_mm"].profile.n_missing == 2
    assert infos["bill_length_mm"].profile.family == Family.FLOAT


def test_it_finds_ids_constants_dates_and_text():
    df = frames.mixed()

    infos = profile_frame(df)

    assert infos["customer_id"].kind == Kind.ID
    assert infos["country"].kind == Kind.CONSTANT
    assert infos["signup_date"].kind == Kind.DATETIME
    assert infos["signup_date"].datetime_format == "%Y-%m-%d"
    assert infos["comment"].kind == Kind.TEXT
    assert infos["plan"].kind == Kind.CATEGORICAL


@pytest.mark.parametrize(
    ("values", "fmt"),
    [
        (["2012/01/01", "2012/01/02", "2013/12/31"], "%Y/%m/%d"),
        (["September 25, 2021", "March 1, 2020", "July 4, 2019"], "%B %d, %Y"),
        (
            ["2021-03-04 10:15:00", "2021-03-05 11:00:30", "2021-04-01 00:00:00"],
            "%Y-%m-%d %H:%M:%S",
        ),
        (["31.12.2020", "01.02.2021", "15.06.2021"], "%d.%m.%Y"),
    ],
)
def test_it_detects_date_formats_a_server_can_parse(values, fmt):
    import datetime as dt

    import pandas as pd

    infos = profile_frame(pd.DataFrame({"when": values * 10, "y": range(30)}))

    assert infos["when"].datetime_format == fmt
    assert dt.datetime.strptime(values[0], fmt)  # the standard library agrees


# --------------------------------------------------------------------------- units, compact dates


def test_it_reads_numbers_written_with_a_unit_as_numbers_and_records_the_unit(tmp_path):
    path = tmp_path / "cars.csv"
    frames.used_cars(n=400).to_csv(path, index=False)

    df = load_csv(path)
    infos = profile_frame(df)

    assert df.attrs["units"] == {"mileage": "kmpl", "engine": "CC", "max_power": "bhp"}
    raw = frames.used_cars(n=400)
    assert df["engine"].iloc[1] == float(raw["engine"].iloc[1].removesuffix(" CC"))
    for column, unit in df.attrs["units"].items():
        assert df[column].dtype == "float64"
        assert infos[column].profile.family == Family.FLOAT
        assert infos[column].kind == Kind.NUMERIC
        assert infos[column].profile.unit == unit
    # The few gas cars' "26.6 km/kg" are in another unit: missing, like the blank cells.
    other_unit = raw["mileage"].str.endswith("km/kg", na=False)
    assert other_unit.sum() > 0
    assert df["mileage"][other_unit].isna().all()
    assert df["mileage"].isna().sum() == other_unit.sum() + raw["mileage"].isna().sum()
    # Messy text stays text; the many-valued names are split into words.
    assert infos["torque"].profile.family == Family.STRING and infos["torque"].profile.unit is None
    assert infos["name"].kind == Kind.TEXT


def test_it_keeps_a_column_as_text_when_too_many_values_further_down_are_not_in_the_unit():
    import pandas as pd

    # The first 1,000 values say kmpl; over the whole column, 10 % are other text.
    values = [f"{15 + i % 50 / 10:.1f} kmpl" for i in range(1000)] + ["n/a yet"] * 112
    df = normalise_frame(pd.DataFrame({"mileage": values, "y": range(len(values))}))

    assert df.attrs["units"] == {}
    assert df["mileage"].iloc[0] == "15.0 kmpl"
    assert profile_frame(df)["mileage"].profile.family == Family.STRING


def test_it_reads_compact_dates_as_dates(tmp_path):
    path = tmp_path / "houses.csv"
    houses = frames.house_sales(n=300)
    sold_on = houses["date"].str[:8].astype(int).where(houses.index % 7 != 0).astype("Int64")
    houses.assign(sold_on=sold_on).to_csv(path, index=False)

    infos = profile_frame(load_csv(path))

    assert infos["date"].kind == Kind.DATETIME
    assert infos["date"].datetime_format == "%Y%m%dT%H%M%S"
    # Whole numbers of eight digits (with gaps, so read as floats) that are dates.
    assert infos["sold_on"].kind == Kind.DATETIME
    assert infos["sold_on"].datetime_format == "%Y%m%d"
    assert infos["sold_on"].profile.n_missing == 43
    # Other whole numbers stay numbers: a zip code, a year.
    assert infos["zipcode"].kind == Kind.INTEGER
    assert infos["yr_built"].kind == Kind.INTEGER


def test_it_keeps_eight_digit_numbers_that_are_not_dates_as_numbers():
    import pandas as pd

    codes = [20_000_000 + i * 5003 for i in range(200)]  # in the range, mostly no valid date
    infos = profile_frame(normalise_frame(pd.DataFrame({"code": codes, "y": range(200)})))

    assert infos["code"].profile.family == Family.INTEGER


@pytest.mark.extended
def test_it_reads_or_rejects_every_awkward_shared_file():
    import json

    from tests.conftest import shared_datasets

    root = shared_datasets()
    awkward = [e for e in json.loads((root / "manifest.json").read_text()) if e["awkward"]]
    for entry in awkward:
        path = root / entry["file"]
        if entry["rows"] == 0 or entry["awkward_kind"] == "ragged_rows":
            with pytest.raises(DataError):
                load_csv(path)
            continue
        df = load_csv(path)
        assert df.shape == (entry["rows"], entry["cols"]), entry["name"]
        assert not any(str(c).startswith("\ufeff") for c in df.columns)
