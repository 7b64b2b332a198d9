"""CSV files the tests build from pip-shipped data: clean ones and every awkward kind.

Sources: palmerpenguins' own CSV (it writes missing values as `NA`) and scikit-learn's
bundled frames. Each awkward file says what the analyzer must make of it: rows x
columns, or the rejection code (and line) it must give.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from importlib import resources


def penguins_csv() -> bytes:
    """palmerpenguins' penguins.csv as shipped: 344 rows, 8 columns, `NA` for missing."""
    return resources.files("palmerpenguins").joinpath("data/penguins.csv").read_bytes()


def penguins_raw_csv() -> bytes:
    """palmerpenguins' penguins-raw.csv: ISO dates, an ID column, free-text comments."""
    return resources.files("palmerpenguins").joinpath("data/penguins-raw.csv").read_bytes()


def iris_csv() -> bytes:
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame
    frame["species"] = [["setosa", "versicolor", "virginica"][t] for t in frame.pop("target")]
    return frame.to_csv(index=False).encode()


def diabetes_csv() -> bytes:
    from sklearn.datasets import load_diabetes

    return load_diabetes(as_frame=True, scaled=False).frame.to_csv(index=False).encode()


def breast_cancer_csv() -> bytes:
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(as_frame=True).frame.to_csv(index=False).encode()


def _penguins_frame():  # a pandas DataFrame
    import pandas as pd

    return pd.read_csv(io.BytesIO(penguins_csv()))


# Accented names for the Latin-1 file (all within ISO-8859-1).
ACCENTED = ["Île Torgersen", "Señora Biscoe", "Dréam Café", "Über Ñandú", "Naïve Façade"]


def latin1_csv() -> bytes:
    frame = _penguins_frame()
    frame["site"] = [ACCENTED[i % len(ACCENTED)] for i in range(len(frame))]
    return frame.to_csv(index=False).encode("latin-1")


def multiline_csv() -> bytes:
    """Penguins with a quoted `notes` value holding newlines, commas and doubled quotes."""
    frame = _penguins_frame()
    frame["notes"] = [
        f'Nest {i}\nseen at "dawn", then dusk\nby crew {i % 7}' if i % 3 else "single line"
        for i in range(len(frame))
    ]
    return frame.to_csv(index=False).encode()


def semicolon_decimal_comma_csv() -> bytes:
    """A European spreadsheet export: `;` delimiter, `,` decimals, CRLF line endings."""
    return (
        _penguins_frame().to_csv(index=False, sep=";", decimal=",", lineterminator="\r\n").encode()
    )


# City names for the Windows-1252 and UTF-16 files: "€" and "–" are bytes 0x80 and 0x96 in
# cp1252 (C1 control characters in Latin-1), the rest are within ISO-8859-1.
CITIES = ["Zürich €", "Köln – Süd", "Nice", "Århus", "São Paulo"]


def _penguins_with_cities():  # a pandas DataFrame
    frame = _penguins_frame()
    frame["city"] = [CITIES[i % len(CITIES)] for i in range(len(frame))]
    return frame


def cp1252_csv() -> bytes:
    """A Windows spreadsheet export: Windows-1252 text with "Zürich €" in a `city` column."""
    return _penguins_with_cities().to_csv(index=False).encode("cp1252")


def utf16_csv(*, byte_order: str = "le", bom: bool = True) -> bytes:
    """Penguins with cities as UTF-16 ("Unicode text" from Excel), LE or BE, with or without BOM."""
    text = _penguins_with_cities().to_csv(index=False)
    data = text.encode(f"utf-16-{byte_order}")
    if bom:
        data = ("\ufeff".encode(f"utf-16-{byte_order}")) + data
    return data


def bom_crlf_csv() -> bytes:
    """UTF-8 with a byte order mark and Windows line endings (Excel's "CSV UTF-8")."""
    return b"\xef\xbb\xbf" + _penguins_frame().to_csv(index=False, lineterminator="\r\n").encode()


def tab_csv() -> bytes:
    """Tab-separated penguins (a .tsv, or a copy from a spreadsheet)."""
    return _penguins_frame().to_csv(index=False, sep="\t").encode()


def empty_rows_csv() -> bytes:
    """Penguins with rows that hold nothing: a blank line, only delimiters, only NA, spaces."""
    lines = penguins_csv().decode().splitlines(keepends=True)
    for at, junk in (
        (5, ",,,,,,,\n"),
        (9, "NA,NA,NA,NA,NA,NA,NA,NA\n"),
        (12, "\n"),
        (20, "  , ,,,,,,\n"),
    ):
        lines.insert(at, junk)
    return "".join(lines).encode()


def ragged_csv(bad_line: int = 9) -> bytes:
    """Penguins where line `bad_line` (1-based, header = 1) has one field too many."""
    lines = penguins_csv().decode().splitlines(keepends=True)
    lines[bad_line - 1] = lines[bad_line - 1].replace(",", ",extra,", 1)
    return "".join(lines).encode()


def png_bytes() -> bytes:
    """The start of a real PNG image (signature + IHDR chunk)."""
    return (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x02"
        b"\x00\x00\x00\x90\x91h6" + bytes(range(256))
    )


def xlsx_bytes() -> bytes:
    """A ZIP archive laid out like an .xlsx workbook."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
    return buffer.getvalue()


@dataclass(frozen=True)
class Awkward:
    name: str
    filename: str
    content: bytes
    rows: int | None = None  # accepted: rows x cols
    cols: int | None = None
    code: str | None = None  # rejected: CsvRejected.code
    message: str | None = None  # a phrase the rejection message contains


def awkward_files() -> list[Awkward]:
    """One file per awkward kind, built from pip-shipped data."""
    penguins = penguins_csv()
    return [
        Awkward("bom", "bom.csv", b"\xef\xbb\xbf" + penguins, rows=344, cols=8),
        Awkward("semicolon_decimal_comma_crlf", "euro.csv", semicolon_decimal_comma_csv(), 344, 8),
        Awkward(
            "header_only",
            "header.csv",
            penguins.split(b"\n", 1)[0] + b"\n",
            code="no_rows",
            message="no data rows",
        ),
        Awkward("empty", "empty.csv", b"", code="empty", message="The file is empty"),
        Awkward(
            "ragged", "ragged.csv", ragged_csv(9), code="ragged_rows", message="Line 9 has 9 fields"
        ),
        Awkward("latin1", "latin1.csv", latin1_csv(), rows=344, cols=9),
        Awkward("multiline_quoted", "multiline.csv", multiline_csv(), rows=344, cols=9),
        Awkward("cp1252", "windows.csv", cp1252_csv(), rows=344, cols=9),
        Awkward("utf16_le_bom", "unicode.csv", utf16_csv(byte_order="le"), rows=344, cols=9),
        Awkward("utf16_be_bom", "unicode-be.csv", utf16_csv(byte_order="be"), rows=344, cols=9),
        Awkward("utf16_le", "nobom.csv", utf16_csv(byte_order="le", bom=False), rows=344, cols=9),
        Awkward("utf16_be", "nobom-be.csv", utf16_csv(byte_order="be", bom=False), 344, 9),
        Awkward("bom_crlf", "excel-utf8.csv", bom_crlf_csv(), rows=344, cols=8),
        Awkward("tab", "penguins.tsv", tab_csv(), rows=344, cols=8),
        Awkward("empty_rows", "gaps.csv", empty_rows_csv(), rows=344, cols=8),
        Awkward("png", "image.csv", png_bytes(), code="not_csv", message="PNG image"),
        Awkward("xlsx", "book.csv", xlsx_bytes(), code="not_csv", message="Excel workbook"),
    ]


def awkward(name: str) -> Awkward:
    return next(f for f in awkward_files() if f.name == name)


ACCEPTED = [f.name for f in awkward_files() if f.code is None]
REJECTED = [f.name for f in awkward_files() if f.code is not None]
