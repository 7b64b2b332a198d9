"""How a CSV file is read: one rule for the upload analysis, batch scoring and training.

The web sniffs a dataset once, at upload (`datasets.analysis`), stores the `CsvDialect`
with the dataset record, and the job hands it to the container in `AUTOML_CSV_DIALECT`
(training_image/contract.py); the container reads with exactly that dialect
(`data.load_csv`) and sniffs with this module only when none is given (older jobs,
`manage.py train`). Scored files (`jobs/prediction_files.py`) are sniffed here too.

Pure standard library, no imports from the rest of the package: the web imports it.

What is recognised, from the head of the file (`HEAD_BYTES`):
- encoding: UTF-8 (with or without a BOM), UTF-16 LE/BE (with a BOM, or without one:
  every other byte of ASCII text is NUL), else Windows-1252 when every byte decodes in
  it (0x80-0x9F are then real characters: €, smart quotes, dashes), else Latin-1 (which
  maps every byte). Where a file has no byte in 0x80-0x9F the two read the same text.
- delimiter: `,` `;` tab `|`, the one whose records agree best with the header's width;
- decimal mark: `,` in a non-comma file whose numbers are written 7,25 more often than 7.25;
- quote character: `"`, or `'` when fields are quoted with it and never with `"`;
- line terminator: `\\n`, `\\r\\n` or a lone `\\r` (old Mac exports).
Binary files (images, archives, workbooks, NUL bytes) and other text formats (HTML, XML,
JSON) are refused with a `CsvRejected` whose message says what to do.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

HEAD_BYTES = 1 << 20

ENCODINGS = ("utf-8", "utf-16-le", "utf-16-be", "cp1252", "latin-1")
DELIMITERS = (",", ";", "\t", "|")
DECIMALS = (".", ",")
QUOTECHARS = ('"', "'")
LINE_TERMINATORS = ("\n", "\r\n", "\r")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
ENCODING_LABELS = {
    "utf-8": "UTF-8",
    "utf-16-le": "UTF-16 (little-endian)",
    "utf-16-be": "UTF-16 (big-endian)",
    "cp1252": "Windows-1252 (Latin-1)",
    "latin-1": "Latin-1",
}
# Which encoding to read a file as when a byte past the head is not valid in the sniffed
# one: a UTF-8-looking head over a Windows export, then Latin-1, which maps every byte.
_FALLBACK = {"utf-8": "cp1252", "cp1252": "latin-1"}

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
# Bytes examined to tell BOM-less UTF-16 (NUL in every other byte) from binary.
_UTF16_PROBE = 4096


class CsvRejected(Exception):
    """The file cannot be read as a CSV table; `message` says why and what to do.

    Args:
        message: a complete sentence for the user (shown on the page and in the API).
        code: a stable machine-readable reason (empty, not_csv, no_rows, ragged_rows, ...).
        line: the 1-based line of the file the problem was found on, when known.
    """

    def __init__(self, message: str, *, code: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.line = line


@dataclass(frozen=True)
class CsvDialect:
    """How to read one file, byte for byte. Invalid values raise ValueError."""

    encoding: str = "utf-8"  # one of ENCODINGS
    bom: bool = False  # the file starts with a byte order mark (dropped when reading)
    delimiter: str = ","
    decimal: str = "."
    quotechar: str = '"'
    line_terminator: str = "\n"

    def __post_init__(self) -> None:
        for name, allowed in (
            ("encoding", ENCODINGS),
            ("delimiter", DELIMITERS),
            ("decimal", DECIMALS),
            ("quotechar", QUOTECHARS),
            ("line_terminator", LINE_TERMINATORS),
        ):
            value = getattr(self, name)
            if value not in allowed:
                shown = ", ".join(repr(a) for a in allowed)
                raise ValueError(f"{name} must be one of {shown}, got {value!r}")
        if not isinstance(self.bom, bool):
            raise ValueError(f"bom must be true or false, got {self.bom!r}")
        if self.bom and self.encoding in ("cp1252", "latin-1"):
            raise ValueError(f"a {self.encoding} file has no byte order mark")
        if self.decimal == self.delimiter:
            raise ValueError("the decimal mark cannot be the delimiter")

    # ------------------------------------------------------------------ reading

    @property
    def codec(self) -> str:
        """The Python codec that decodes the whole file, its byte order mark dropped."""
        if self.encoding == "utf-8":
            return "utf-8-sig"
        if self.encoding.startswith("utf-16") and self.bom:
            return "utf-16"  # reads the BOM (and with it the byte order) and drops it
        return self.encoding

    @property
    def needs_transcoding(self) -> bool:
        """True when the bytes must pass through a decoder before a UTF-8 parser."""
        return self.encoding != "utf-8" or self.line_terminator == "\r"

    @property
    def is_plain(self) -> bool:
        """A comma-separated UTF-8 file with '.' decimals: what every CSV reader expects."""
        return not self.needs_transcoding and self.delimiter == "," and self.decimal == "."

    def fallback(self) -> CsvDialect | None:
        """The dialect to try when a byte past the head is not valid in this encoding.

        None when there is nothing to fall back to: UTF-16, Latin-1 (it maps every byte),
        and a file whose byte order mark says UTF-8 (it is broken, not a Windows export).
        """
        encoding = _FALLBACK.get(self.encoding)
        if encoding is None or self.bom:
            return None
        return dataclasses.replace(self, encoding=encoding, bom=False)

    # ------------------------------------------------------------------ words

    def encoding_label(self) -> str:
        return ENCODING_LABELS[self.encoding]

    def describe(self) -> str:
        parts = [DELIMITER_NAMES[self.delimiter] + "-separated", self.encoding_label()]
        if self.decimal == ",":
            parts.append("decimal comma")
        if self.quotechar != '"':
            parts.append("single quotes")
        if self.bom:
            parts.append("byte order mark")
        return ", ".join(parts)

    # ------------------------------------------------------------------ storage

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CsvDialect:
        """The dialect `to_dict` wrote; every field is required, other keys are ignored.

        Raises:
            ValueError: not a mapping, a field missing, or a value out of range.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"must be a JSON object, got {type(data).__name__}")
        names = [f.name for f in dataclasses.fields(cls)]
        missing = [n for n in names if n not in data]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        return cls(**{n: data[n] for n in names})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> CsvDialect:
        """Raises ValueError (a message naming the problem) for anything but `to_json`'s."""
        try:
            data = json.loads(text)
        except (TypeError, json.JSONDecodeError) as error:
            raise ValueError(f"is not JSON ({error})") from None
        return cls.from_dict(data)


def undecodable(dialect: CsvDialect) -> CsvRejected:
    """The refusal of a file whose bytes are not valid text in its (last) encoding."""
    return CsvRejected(
        f"The file is not valid {dialect.encoding_label()} text. Save it as CSV (UTF-8) and "
        "upload it again.",
        code="encoding",
    )


@dataclass(frozen=True)
class SniffedHead:
    """The dialect and the header record as the file writes it (before any renaming)."""

    dialect: CsvDialect
    header: tuple[str, ...]


# --------------------------------------------------------------------------- sniffing


def read_head(handle: BinaryIO) -> tuple[bytes, bool]:
    """The first HEAD_BYTES of an open binary file and whether that is the whole file."""
    head = handle.read(HEAD_BYTES + 1)
    return head[:HEAD_BYTES], len(head) <= HEAD_BYTES


def sniff_file(path: str | Path) -> CsvDialect:
    """The dialect of the file at `path`, from its head (see `sniff`)."""
    with open(path, "rb") as handle:
        head, complete = read_head(handle)
    return sniff(head, complete=complete)


def sniff(head: bytes, *, complete: bool, encoding: str | None = None) -> CsvDialect:
    """The dialect of a CSV whose first bytes are `head` (see `sniff_head`)."""
    return sniff_head(head, complete=complete, encoding=encoding).dialect


def sniff_head(head: bytes, *, complete: bool, encoding: str | None = None) -> SniffedHead:
    """The dialect of a CSV whose first bytes are `head`, with its header record.

    Args:
        head: the first bytes of the file (HEAD_BYTES of it, or the whole file).
        complete: True when `head` is the whole file (its last line is whole).
        encoding: read the head in this encoding (one of ENCODINGS) instead of detecting
            it: a rescan after the body proved not to be valid in the detected one.

    Raises:
        CsvRejected: empty, binary, another format, or a single column.
    """
    if not head:
        raise CsvRejected("The file is empty.", code="empty")
    _reject_signatures(head)
    text, encoding, bom = _decode(head, complete=complete, encoding=encoding)
    _reject_control_characters(text)
    if not text.strip():
        raise CsvRejected("The file is empty: it holds only blank lines.", code="empty")
    _reject_other_text_formats(text)
    terminator = "\n"
    if "\n" not in text and "\r" in text:
        terminator = "\r"  # classic Mac line endings
        text = text.replace("\r", "\n")
    elif "\r\n" in text:
        terminator = "\r\n"
    if not complete:
        # The head may stop mid-record; only whole lines take part in the vote.
        cut = text.rfind("\n")
        text = text[: cut + 1] if cut > 0 else text
    delimiter, records = _choose_delimiter(text)
    quotechar = _quote_char(text, delimiter)
    if quotechar != '"':
        records = _parse(text, delimiter, quotechar)
    dialect = CsvDialect(
        encoding=encoding,
        bom=bom,
        delimiter=delimiter,
        decimal=_decimal_mark(records[1:], delimiter),
        quotechar=quotechar,
        line_terminator=terminator,
    )
    return SniffedHead(dialect=dialect, header=tuple(records[0]))


def column_names(raw: list[str] | tuple[str, ...]) -> tuple[list[str], list[tuple[str, str]]]:
    """Header names as pandas makes them: blanks become 'Unnamed: i', repeats get '.1'.

    Returns:
        The names, and the (raw, name used) pairs of the names that changed.
    """
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


def _reject_signatures(head: bytes) -> None:
    for signature, name in _SIGNATURES:
        if head.startswith(signature):
            raise CsvRejected(
                f"This file is {name}, not a CSV. Open it in the program that made it and "
                "export or save it as CSV (UTF-8).",
                code="not_csv",
            )


def _binary() -> CsvRejected:
    return CsvRejected(
        "This file holds binary data, not CSV text. Export it as CSV (UTF-8) and upload that.",
        code="not_csv",
    )


def _utf16_byte_order(head: bytes) -> str | None:
    """'utf-16-le' / 'utf-16-be' when the head reads as BOM-less UTF-16 text, else None.

    Text in Latin script, written in UTF-16, has a NUL in the high byte of nearly every
    character: at odd offsets for little-endian, even ones for big-endian. Binary data
    has NULs on both sides (or none), and no other text encoding has them at all.
    """
    probe = head[: _UTF16_PROBE - _UTF16_PROBE % 2]
    pairs = len(probe) // 2
    if pairs < 2:
        return None
    even = probe[0::2].count(0)
    odd = probe[1::2].count(0)
    if odd >= 0.3 * pairs and even <= 0.02 * pairs:
        return "utf-16-le"
    if even >= 0.3 * pairs and odd <= 0.02 * pairs:
        return "utf-16-be"
    return None


def _decode(head: bytes, *, complete: bool, encoding: str | None) -> tuple[str, str, bool]:
    """The head as text, its encoding and whether it had a byte order mark."""
    bom = False
    if head.startswith(codecs.BOM_UTF8):
        bom, detected = True, "utf-8"
        head = head[len(codecs.BOM_UTF8) :]
    elif head.startswith(codecs.BOM_UTF16_LE):
        bom, detected = True, "utf-16-le"
        head = head[2:]
    elif head.startswith(codecs.BOM_UTF16_BE):
        bom, detected = True, "utf-16-be"
        head = head[2:]
    else:
        detected = _utf16_byte_order(head) or "utf-8"
    if encoding is not None:
        if encoding not in ENCODINGS:
            raise ValueError(f"unknown encoding {encoding!r}")
        bom = bom and encoding == detected
        return head.decode(encoding, errors="replace"), encoding, bom
    if detected.startswith("utf-16"):
        decoder = codecs.getincrementaldecoder(detected)()
        try:
            return decoder.decode(head, final=complete), detected, bom
        except UnicodeDecodeError:
            raise _binary() from None
    if b"\x00" in head[:65536]:
        raise _binary()
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        # final=False tolerates a character cut in two at the end of the head.
        return decoder.decode(head, final=complete), "utf-8", bom
    except UnicodeDecodeError:
        if bom:  # a UTF-8 BOM over bytes that are not UTF-8: nothing to guess from
            raise CsvRejected(
                "The file starts like UTF-8 text (a byte order mark) but is not valid UTF-8. "
                "Save it as CSV (UTF-8) and upload it again.",
                code="encoding",
            ) from None
    try:
        return head.decode("cp1252"), "cp1252", False
    except UnicodeDecodeError:
        # Bytes cp1252 leaves undefined (0x81, 0x8d, ...): plain Latin-1 maps every byte.
        return head.decode("latin-1"), "latin-1", False


def _reject_control_characters(text: str) -> None:
    sample = text[:65536]
    controls = sum(1 for c in sample if c < " " and c not in "\t\n\r")
    if "\x00" in sample or controls > len(sample) // 100:
        raise _binary()


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


def _parse(text: str, delimiter: str, quotechar: str = '"', limit: int = 500) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, quotechar=quotechar)
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


def _choose_delimiter(text: str) -> tuple[str, list[list[str]]]:
    """The delimiter whose records agree best with the header's field count."""
    best: tuple[float, int] | None = None
    chosen, chosen_records = ",", []
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
            best, chosen, chosen_records = score, delimiter, records
    if best is None:
        raise CsvRejected(
            "Only one column was found. A dataset needs at least two columns (features and a "
            "target), separated by commas, semicolons, tabs or pipes. Check the export settings "
            "and save the file as CSV.",
            code="one_column",
        )
    return chosen, chosen_records


def _quote_char(text: str, delimiter: str) -> str:
    """`'` when whole fields are wrapped in it and none in `"`; else `"`."""
    sep = re.escape(delimiter)

    def quoted(mark: str) -> int:
        q = re.escape(mark)
        return len(re.findall(rf"(?:^|{sep}){q}[^{q}\n]*{q}(?={sep}|$)", text, re.MULTILINE))

    return "'" if quoted("'") > 0 and quoted('"') == 0 else '"'


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
