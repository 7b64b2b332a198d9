"""Recognise a CSV's dialect from its first bytes, or reject what is not a CSV.

Pure standard library: the decisions here (encoding, delimiter, decimal comma,
header names) are made on the head of the file only; the streaming reader then
applies them to every byte and reports anything the head did not reveal.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from datasets.analysis.errors import CsvRejected

HEAD_BYTES = 1 << 20
# Wider files do not fit the dataset record (one DynamoDB item, 400 KB) with their stats.
MAX_COLUMNS = 500
DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}

# Signatures of formats people rename to .csv, with the name we tell them.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "an Excel workbook or ZIP archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Excel (.xls) or Office file"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"BZh", "a bzip2-compressed file"),
    (b"\xfd7zXZ\x00", "an xz-compressed file"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"PAR1", "a Parquet file"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\x7fELF", "a program (ELF binary)"),
    (b"MZ", "a Windows program"),
)

_COMMA_DECIMAL = re.compile(r"^\s*[+-]?\d+,\d+\s*$")
_DOT_DECIMAL = re.compile(r"^\s*[+-]?\d*\.\d+\s*$")


@dataclass
class Dialect:
    """How to read the file: applied to the whole stream by the reader."""

    encoding: str = "utf-8"  # utf-8 | cp1252 | latin-1 | utf-16
    bom: bool = False
    delimiter: str = ","
    decimal: str = "."
    quotechar: str = '"'
    line_terminator: str = "\n"  # "\n" | "\r\n" | "\r"
    header: list[str] = field(default_factory=list)
    renamed_columns: list[tuple[str, str]] = field(default_factory=list)  # (raw, name used)

    @property
    def needs_transcoding(self) -> bool:
        """True when the bytes must pass through a decoder before the UTF-8 parser."""
        return self.encoding != "utf-8" or self.line_terminator == "\r"

    @property
    def is_plain(self) -> bool:
        """A comma-separated UTF-8 file with '.' decimals: what every CSV reader expects."""
        return not self.needs_transcoding and self.delimiter == "," and self.decimal == "."

    def describe(self) -> str:
        parts = [DELIMITER_NAMES[self.delimiter] + "-separated", self.encoding_label()]
        if self.decimal == ",":
            parts.append("decimal comma")
        if self.bom:
            parts.append("byte order mark")
        return ", ".join(parts)

    def encoding_label(self) -> str:
        return {"cp1252": "Windows-1252 (Latin-1)", "latin-1": "Latin-1"}.get(
            self.encoding, self.encoding.upper()
        )

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("header")
        data["description"] = self.describe()
        return data


def sniff(head: bytes, *, complete: bool, encoding: str | None = None) -> Dialect:
    """The dialect of a CSV whose first bytes are `head`.

    Args:
        head: the first bytes of the file (HEAD_BYTES or the whole file).
        complete: True when `head` is the whole file (its last line is whole).
        encoding: decode with this encoding instead of detecting it (a rescan after
            the body proved not to be valid in the detected one).

    Returns:
        The dialect, with the header's column names (BOM removed, blanks and
        duplicates renamed the way pandas does).

    Raises:
        CsvRejected: empty, binary or otherwise unreadable as a table.
    """
    if not head:
        raise CsvRejected("The file is empty.", code="empty")
    dialect = Dialect()
    head = _strip_bom(head, dialect)
    _reject_binary(head, dialect)
    if encoding is not None:
        dialect.encoding = encoding
        text = head.decode(encoding, errors="replace")
    else:
        text = _decode_head(head, dialect, complete=complete)
    if not text.strip():
        raise CsvRejected("The file is empty: it holds only blank lines.", code="empty")
    _reject_other_text_formats(text)
    if "\n" not in text and "\r" in text:
        dialect.line_terminator = "\r"  # classic Mac line endings: the reader transcodes them
        text = text.replace("\r", "\n")
    elif "\r\n" in text:
        dialect.line_terminator = "\r\n"
    if not complete:
        # The head may stop mid-record; only whole lines take part in the vote.
        cut = text.rfind("\n")
        text = text[: cut + 1] if cut > 0 else text
    records = _choose_delimiter(text, dialect)
    dialect.decimal = _decimal_mark(records[1:], dialect.delimiter)
    dialect.header, dialect.renamed_columns = _column_names(records[0])
    if len(dialect.header) > MAX_COLUMNS:
        raise CsvRejected(
            f"The file has {len(dialect.header):,} columns; AutoML Lite reads up to "
            f"{MAX_COLUMNS:,}. Keep the columns that matter (and the target) and upload again.",
            code="too_many_columns",
        )
    return dialect


def _strip_bom(head: bytes, dialect: Dialect) -> bytes:
    if head.startswith(codecs.BOM_UTF8):
        dialect.bom = True
        return head[len(codecs.BOM_UTF8) :]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        dialect.bom = True
        dialect.encoding = "utf-16"
    return head


def _reject_binary(head: bytes, dialect: Dialect) -> None:
    for signature, name in _SIGNATURES:
        if head.startswith(signature):
            raise CsvRejected(
                f"This file is {name}, not a CSV. Open it in the program that made it and "
                "export or save it as CSV (UTF-8).",
                code="not_csv",
            )
    if dialect.encoding == "utf-16":
        return
    sample = head[:65536]
    controls = sum(1 for b in sample if b < 32 and b not in (9, 10, 13))
    if b"\x00" in sample or controls > len(sample) // 100:
        raise CsvRejected(
            "This file is binary, not a CSV (text) file. Export it as CSV (UTF-8) and upload that.",
            code="not_csv",
        )


def _decode_head(head: bytes, dialect: Dialect, *, complete: bool) -> str:
    if dialect.encoding == "utf-16":
        try:
            return head.decode("utf-16")
        except UnicodeDecodeError:
            return head[: len(head) // 2 * 2].decode("utf-16", errors="ignore")
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        # final=False tolerates a character cut in two at the end of the head.
        return decoder.decode(head, final=complete)
    except UnicodeDecodeError:
        pass
    try:
        text = head.decode("cp1252")
        dialect.encoding = "cp1252"
    except UnicodeDecodeError:
        # Bytes cp1252 leaves undefined (0x81, 0x8d, ...): plain Latin-1 maps every byte.
        text = head.decode("latin-1")
        dialect.encoding = "latin-1"
    return text


def _reject_other_text_formats(text: str) -> None:
    start = text.lstrip()[:100].lower()
    if start.startswith(("<!doctype html", "<html")):
        raise CsvRejected(
            "This file is a web page (HTML), not a CSV. Download the data itself as CSV.",
            code="not_csv",
        )
    if start.startswith("<?xml"):
        raise CsvRejected(
            "This file is XML, not a CSV. Export the data as CSV (UTF-8).", code="not_csv"
        )
    if start.startswith("{"):
        raise CsvRejected(
            "This file looks like JSON, not a CSV. Export the data as CSV (UTF-8).",
            code="not_csv",
        )


def _parse(text: str, delimiter: str, limit: int = 500) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar='"')
    records: list[list[str]] = []
    try:
        for row in reader:
            if row:  # blank lines are skipped, as every reader does
                records.append(row)
            if len(records) >= limit:
                break
    except csv.Error:
        pass  # an unterminated quote in the head: the vote uses what parsed
    return records


def _choose_delimiter(text: str, dialect: Dialect) -> list[list[str]]:
    """The delimiter whose records agree best with the header's field count."""
    best: tuple[float, int] | None = None
    best_records: list[list[str]] = []
    for delimiter in DELIMITERS:
        if delimiter not in text:
            continue
        records = _parse(text, delimiter)
        if not records or len(records[0]) < 2:
            continue
        width = len(records[0])
        body = records[1:]
        agreement = sum(1 for r in body if len(r) == width) / len(body) if body else 1.0
        score = (agreement, width)
        if best is None or score > best:
            best, best_records = score, records
            dialect.delimiter = delimiter
    if best is None:
        raise CsvRejected(
            "Only one column was found. A dataset needs at least two columns (features and a "
            "target), separated by commas, semicolons, tabs or pipes. Check the export settings "
            "and save the file as CSV.",
            code="one_column",
        )
    return best_records


def _decimal_mark(records: list[list[str]], delimiter: str) -> str:
    """',' when numbers in a non-comma file are written like 7,25 and never like 7.25."""
    if delimiter == ",":
        return "."
    comma = dot = 0
    for row in records:
        for value in row:
            if _COMMA_DECIMAL.match(value):
                comma += 1
            elif _DOT_DECIMAL.match(value):
                dot += 1
    return "," if comma > 0 and comma > dot else "."


def _column_names(raw: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """Header names as pandas makes them: blanks become 'Unnamed: i', repeats get '.1'."""
    names: list[str] = []
    renamed: list[tuple[str, str]] = []
    seen: dict[str, int] = {}
    for i, raw_name in enumerate(raw):
        name = raw_name if raw_name.strip() else f"Unnamed: {i}"
        if name in seen:
            base = name
            while name in seen:
                seen[base] += 1
                name = f"{base}.{seen[base]}"
        seen.setdefault(name, 0)
        if name != raw_name:
            renamed.append((raw_name, name))
        names.append(name)
    return names, renamed
