"""Reading a user's CSV and describing its columns.

`load_csv` reads a file in the dialect the upload analysis sniffed (`csv_dialect`: a BOM,
UTF-16, cp1252/Latin-1, `;` with decimal commas, single quotes), treats `NA`/`?` as missing,
and turns everything else into a `DataError` that says what is wrong. `profile_frame` builds
one `detection.ColumnProfile` per column from pandas, so the container asks `detection.py` the same questions, with the same facts, as the web's analyzer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from training_image import csv_dialect, detection, features
from training_image.csv_dialect import CsvDialect, CsvRejected
from training_image.detection import ColumnProfile, Family, Kind
from training_image.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

SAMPLE_VALUES = 100  # values handed to detection (code-likeness of ID columns)
DATETIME_SAMPLE = detection.DATETIME_SAMPLE  # distinct values tried against each date format
DATETIME_MIN_SHARE = detection.DATETIME_MIN_SHARE  # share of sampled values a format must parse

# strptime formats, so a server can parse the same values with the standard library.
DATETIME_FORMATS = detection.DATETIME_FORMATS
_HAS_DIGIT = re.compile(r"\d")


@dataclass
class ColumnInfo:
    """What the container knows about one column of the file."""

    profile: ColumnProfile
    kind: Kind
    datetime_format: str | None = None  # strptime format, for DATETIME columns


# --------------------------------------------------------------------------- reading


def load_csv(path: str | Path, dialect: CsvDialect | None = None) -> pd.DataFrame:
    """Read a CSV file into a DataFrame with missing values as NaN.

    Args:
        path: the file.
        dialect: how to read it: the one the upload analysis sniffed (AUTOML_CSV_DIALECT),
            used as is. None (an older job, `manage.py train`): sniffed here from the head
            of the file with the same rule (`csv_dialect.sniff_file`).

    Raises:
        DataError: the file is empty, binary, has no data rows or cannot be parsed.
    """
    path = Path(path)
    given = dialect is not None
    if dialect is None:
        try:
            dialect = csv_dialect.sniff_file(path)
        except CsvRejected as rejected:
            raise DataError(rejected.message) from None
    while True:
        try:
            df = _read_csv(path, dialect)
            break
        except UnicodeDecodeError:
            fallback = None if given else dialect.fallback()
            if fallback is None:
                raise DataError(csv_dialect.undecodable(dialect).message) from None
            # Valid UTF-8 (or cp1252) in the head, not further down: read it all as the next.
            dialect = fallback
    if len(df.columns) < 2:
        raise DataError(
            "The file has a single column. A training file needs at least one feature column "
            "and the target column, separated by commas or semicolons."
        )
    frame = normalise_frame(df)
    empty = frame.isna().all(axis=1)
    if empty.any():
        # Rows whose every cell is missing carry nothing; the upload analysis skips them too.
        frame = normalise_frame(df[~empty.to_numpy()].reset_index(drop=True))
    if len(frame) == 0:
        raise DataError("The file has a header but no data rows.")
    return frame


def _read_csv(path: Path, dialect: CsvDialect) -> pd.DataFrame:
    import pandas as pd

    try:
        return pd.read_csv(
            path,
            encoding=dialect.codec,
            sep=dialect.delimiter,
            decimal=dialect.decimal,
            quotechar=dialect.quotechar,
            keep_default_na=False,
            na_values=sorted(detection.NA_TOKENS),
            dtype_backend="numpy_nullable",
            low_memory=False,
        )
    except pd.errors.EmptyDataError:
        raise DataError(
            "The file is empty: upload a CSV with a header row and data rows."
        ) from None
    except pd.errors.ParserError as error:
        detail = str(error).strip().splitlines()[-1]
        raise DataError(
            f"The CSV could not be read: {detail}. Some rows have a different number of fields "
            "than the header (often an unquoted comma inside a value); fix or remove them."
        ) from None


def normalise_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Plain dtypes: numbers as int64/float64, text as strings, missing as NaN.

    Text cells are stripped; blank cells become missing; text columns whose values are all
    numbers (e.g. a total with a few blank cells) become numbers, and so do columns of numbers
    written with a unit (`"23.4 kmpl"`, by `detection.common_unit`; the unit is recorded in
    `attrs["units"]`, and the few cells in no unit or another one become missing).
    """
    import numpy as np
    import pandas as pd

    out = {}
    integer_columns = set(df.attrs.get("integer_columns", ()))
    units = dict(df.attrs.get("units", {}))
    for name in df.columns:
        s = df[name]
        if pd.api.types.is_bool_dtype(s.dtype):
            out[name] = s.astype(object).where(s.notna(), np.nan)
        elif pd.api.types.is_integer_dtype(s.dtype):
            if s.hasnans:
                # Whole numbers with gaps: float64 for the model, "integer" for detection.
                integer_columns.add(str(name))
                out[name] = s.astype("float64")
            else:
                out[name] = s.astype("int64")
        elif pd.api.types.is_float_dtype(s.dtype):
            out[name] = s.astype("float64")
        else:
            text = s.astype("str").str.strip()
            text = text.where(~text.isin(detection.NA_TOKENS) & text.notna(), np.nan)
            numbers = pd.to_numeric(text, errors="coerce")
            present = text.notna()
            if present.any() and numbers[present].notna().all():
                integral = (numbers[present] % 1 == 0).all() and not text[present].str.contains(
                    r"[.eE]", regex=True
                ).any()
                if integral and not numbers.hasnans:
                    out[name] = numbers.astype("int64")
                else:
                    if integral:
                        integer_columns.add(str(name))
                    out[name] = numbers.astype("float64")
            elif (read := _numbers_with_unit(str(name), text[present])) is not None:
                units[str(name)], values = read
                numbers = pd.Series(np.nan, index=df.index, dtype="float64")
                numbers[present.to_numpy()] = values
                out[name] = numbers
            else:
                out[name] = text
    frame = pd.DataFrame(out, index=df.index)
    frame.attrs["integer_columns"] = sorted(integer_columns)
    frame.attrs["units"] = {name: unit for name, unit in units.items() if name in frame.columns}
    return frame


def _numbers_with_unit(name: str, present: pd.Series) -> tuple[str, list[float]] | None:
    """(unit, numbers) of a text column written with a unit (`detection.common_unit`), read by
    the rule of `features.read_number` (other text is NaN); None for any other column."""
    import math

    counts, looked_at = detection.unit_counts(present.iloc[: detection.UNIT_SAMPLE].tolist())
    unit = detection.common_unit(counts, looked_at)
    if unit is None:
        return None
    spec = features.FeatureSpec(name, Kind.NUMERIC, "numeric", (name,), unit=unit)
    numbers = list(features.prepare_column(spec, present.tolist(), strict=False)[0])
    read = sum(1 for number in numbers if not math.isnan(number))
    if not detection.reads_as_numbers(read, len(numbers)):
        return None
    return unit, numbers


# --------------------------------------------------------------------------- profiling


def column_family(s: pd.Series, *, int_hint: bool = False) -> tuple[Family, str | None]:
    """The storage family of a normalised column and, for dates, the strptime format."""
    import pandas as pd

    present = s.dropna()
    if present.empty:
        return Family.EMPTY, None
    whole = pd.api.types.is_integer_dtype(s.dtype) or (
        int_hint and pd.api.types.is_float_dtype(s.dtype)
    )
    if whole and (fmt := _compact_date_format(present)) is not None:
        return Family.DATETIME, fmt
    if pd.api.types.is_integer_dtype(s.dtype):
        return Family.INTEGER, None
    if pd.api.types.is_float_dtype(s.dtype):
        return (Family.INTEGER if int_hint else Family.FLOAT), None
    if s.dtype == object and present.map(lambda v: isinstance(v, bool)).all():
        return Family.BOOLEAN, None
    fmt = detect_datetime_format(present)
    if fmt is not None:
        return Family.DATETIME, fmt
    return Family.STRING, None


def _compact_date_format(present: pd.Series) -> str | None:
    """`detection.COMPACT_DATE_FORMAT` for whole numbers that are dates like 20141013.

    Decided on the first distinct values, as text dates are; the web's analyzer also counts
    the cells of the whole file that are no date, and so do we: too many, and the column stays
    numbers.
    """
    import pandas as pd

    digits = present.astype("int64")
    sample = pd.Series(digits.unique()[:DATETIME_SAMPLE])
    if not detection.compact_date_candidates(sample.min(), sample.max()):
        return None
    fmt = detection.COMPACT_DATE_FORMAT
    for values in (sample, digits):
        parsed = pd.to_datetime(values.astype(str), format=fmt, errors="coerce")
        if parsed.notna().mean() < DATETIME_MIN_SHARE:
            return None
    return fmt


def detect_datetime_format(values: pd.Series) -> str | None:
    """The first format in DATETIME_FORMATS that parses nearly all of `values`, else None."""
    import pandas as pd

    sample = pd.Series(values.astype(str).unique()[:DATETIME_SAMPLE])
    if sample.empty or not sample.str.contains(_HAS_DIGIT).all():
        return None
    if sample.str.len().max() > 40:
        return None
    for fmt in DATETIME_FORMATS:
        parsed = pd.to_datetime(sample, format=fmt, errors="coerce")
        if parsed.notna().mean() >= DATETIME_MIN_SHARE:
            return fmt
    return None


def profile_column(
    name: str, s: pd.Series, *, int_hint: bool = False, unit: str | None = None
) -> ColumnInfo:
    """The detection profile and kind of one normalised column (`unit`: the unit its numbers
    were written with, from `normalise_frame`)."""
    import numpy as np

    family, fmt = column_family(s, int_hint=int_hint)
    present = s.dropna()
    n_rows = int(len(s))
    profile = ColumnProfile(
        name=str(name),
        family=family,
        n_rows=n_rows,
        n_unique=int(present.nunique()),
        n_missing=int(n_rows - len(present)),
        sample_values=[str(v) for v in present.iloc[:SAMPLE_VALUES]],
        unit=unit if family == Family.FLOAT else None,
    )
    if family in (Family.INTEGER, Family.FLOAT) and len(present):
        values = present.to_numpy(dtype="float64")
        profile.all_integral = bool(np.all(np.isfinite(values) & (values % 1 == 0)))
        if family == Family.INTEGER and profile.n_missing == 0 and len(values) > 1:
            profile.is_monotonic_step = bool(np.all(np.diff(values) == 1))
    if family in (Family.STRING, Family.DATETIME) and len(present) and s.dtype.kind not in "fiu":
        # Text lengths (the web's analyzer measures text, not dates read from numbers).
        profile.mean_length = float(present.astype(str).str.len().mean())
    return ColumnInfo(profile=profile, kind=detection.column_kind(profile), datetime_format=fmt)


def profile_frame(df: pd.DataFrame) -> dict[str, ColumnInfo]:
    """One ColumnInfo per column, in file order.

    Args:
        df: a frame from `normalise_frame` (or `load_csv`). Columns the file wrote as whole
            numbers but that hold NaN are float64; `df.attrs["integer_columns"]` names them so
            detection still sees integers, as the web's analyzer does; `df.attrs["units"]`
            gives the unit of columns written with one.
    """
    integer_columns = set(df.attrs.get("integer_columns", ()))
    units = df.attrs.get("units", {})
    return {
        str(name): profile_column(
            str(name),
            df[name],
            int_hint=str(name) in integer_columns,
            unit=units.get(str(name)),
        )
        for name in df.columns
    }
