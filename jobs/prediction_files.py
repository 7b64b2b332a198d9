"""Batch prediction: score every row of an uploaded CSV and write the result CSV.

The file is read in the dialect `datasets.analysis.sniff.sniff` finds in its first
megabyte with the rule uploads and training share (`training_image.csv_dialect`:
encoding, BOM, delimiter, decimal mark, quoting; plus the header names), so any file
that uploads as a dataset also scores here. Rows stream through the standard library's
csv reader and are scored CHUNK_ROWS at a time by one run of the ONNX graph
(`inference.predict_columns`); only one chunk of rows and outputs is in memory.

Values go through the same conversion as the one-row form and API, with one addition
that matches how training read its CSV: cells that are a missing-value marker
(`detection.NA_TOKENS`: blank, NA, N/A, null, ?, ...) are missing, and the model
imputes them. Any other value a numeric column cannot read stops the run with its row
and column, rather than quietly becoming NaN.

The result holds every original column and value as it was (except that a cell a
spreadsheet would run as a formula gets a leading `'`: `core.csv_safety`, for the
original cells, our labels and our headers alike), then `prediction` and,
for classification, `probability` (of the predicted class) and `probability_<class>`
per class. It keeps the input's delimiter and decimal mark and is written as UTF-8,
with a BOM when the input had one or was not UTF-8, so the spreadsheet that wrote the
file opens the result the same way.
"""

from __future__ import annotations

import csv
import io
import logging
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from django.http import FileResponse
from django.template.defaultfilters import filesizeformat
from django.utils.text import slugify

from core.csv_safety import safe_row, spreadsheet_safe
from core.exceptions import InvalidInput, PayloadTooLarge
from datasets.analysis.errors import CsvRejected
from datasets.analysis.sniff import Dialect, sniff
from jobs import inference
from jobs.validation import Validator
from training_image.contract import Job
from training_image.csv_dialect import DELIMITER_NAMES
from training_image.detection import NA_TOKENS

logger = logging.getLogger(__name__)

CHUNK_ROWS = 10_000  # rows per run of the graph: big enough to amortise, small in memory
SNIFF_BYTES = 1 << 20
READ_BUFFER = 1 << 16
_MAX_VALUE_SHOWN = 40


@dataclass
class ScoredFile:
    """The result CSV of a batch prediction.

    Attributes:
        file: the CSV bytes, positioned at the start; whoever serves it closes it.
        filename: `<dataset-stem>-<job8>-predictions.csv`.
        rows: data rows scored.
        columns: the result's header.
        seconds: time spent reading, scoring and writing.
        validation: metrics and drift (`jobs.validation`), when the file held the target.
    """

    file: IO[bytes]
    filename: str
    rows: int
    columns: list[str]
    seconds: float
    validation: dict[str, Any] | None = None

    def download(self) -> FileResponse:
        """The CSV as a private attachment, with the number of rows scored in a header."""
        response = FileResponse(
            self.file,
            as_attachment=True,
            filename=self.filename,
            content_type="text/csv; charset=utf-8",
        )
        response["X-Rows-Scored"] = str(self.rows)
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response


def result_filename(job: Job) -> str:
    """`<dataset-stem>-<job8>-predictions.csv`, like the job's other downloads."""
    stem = slugify(job.dataset_name.rsplit(".", 1)[0])[:40] or "job"
    return f"{stem}-{job.job_id[:8]}-predictions.csv"


def _size_text(size: int) -> str:
    return str(filesizeformat(size)).replace("\xa0", " ")


def check_size(size: int | None, limit: int, *, framing: int = 0) -> None:
    """Refuse a file larger than `limit` bytes.

    Args:
        size: the file's size, or a request body's (None: unknown, accepted).
        limit: the largest file allowed.
        framing: bytes a request adds around the file (multipart boundaries).

    Raises:
        PayloadTooLarge: with both sizes in the message (413).
    """
    if size is not None and size > limit + framing:
        raise PayloadTooLarge(
            f"The file is {_size_text(size)}; files up to {_size_text(limit)} can be scored. "
            "Split it into smaller files and score each.",
            {"max_bytes": limit},
        )


# Called after each chunk with (rows scored so far, bytes of the input read so far).
Progress = Callable[[int, int], None]


def score_file(
    job: Job, source: IO[bytes], *, max_rows: int, on_progress: Progress | None = None
) -> ScoredFile:
    """Score every data row of the CSV in `source` with the job's ONNX model.

    Args:
        job: a completed job with an ONNX model (the caller checks).
        source: the uploaded file, readable from its start (it is read twice at most).
        max_rows: more data rows than this are refused.
        on_progress: told the rows scored and bytes read after every chunk (a batch
            records them; it may raise to stop the run).

    Returns:
        The result CSV in a temporary file.

    Raises:
        InvalidInput: unreadable file, missing columns, ragged row, unreadable value (400).
        PayloadTooLarge: more than `max_rows` rows (413).
        ModelError: the model cannot be loaded or run (500).
    """
    started = time.perf_counter()
    spec = inference.job_spec(job)
    source.seek(0)
    head = source.read(SNIFF_BYTES)
    complete = len(head) < SNIFF_BYTES or not source.read(1)
    dialect = _sniff(head, complete=complete, spec=spec)
    while True:
        try:
            out, rows, columns, validator = _score(
                job, spec, source, dialect, max_rows=max_rows, on_progress=on_progress
            )
            break
        except UnicodeDecodeError:
            # The head decoded, a later byte did not: read it all again as the export it is
            # (UTF-8 -> cp1252 -> Latin-1, which maps every byte; UTF-16 has no fallback).
            fallback = dialect.csv.fallback()
            if fallback is None:
                raise InvalidInput(
                    "The file's text encoding could not be recognised. Save it as CSV UTF-8."
                ) from None
            dialect = _sniff(head, complete=complete, spec=spec, encoding=fallback.encoding)
    seconds = time.perf_counter() - started
    logger.info("Scored a file of %d rows with job %s in %.2f s", rows, job.job_id, seconds)
    return ScoredFile(
        file=out,
        filename=result_filename(job),
        rows=rows,
        columns=columns,
        seconds=seconds,
        validation=validator.report() if validator is not None else None,
    )


def _sniff(
    head: bytes, *, complete: bool, spec: inference.ModelSpec, encoding: str | None = None
) -> Dialect:
    try:
        return sniff(head, complete=complete, encoding=encoding)
    except CsvRejected as exc:
        if exc.code != "one_column":
            raise InvalidInput(exc.message, {"code": exc.code}) from None
        needed = spec.feature_columns
        if len(needed) == 1:
            message = (
                f"Only one column was found. Files for this model need its column "
                f"'{needed[0]}' and at least one more (an id, say), separated by commas, "
                "semicolons, tabs or pipes: add one and upload again."
            )
        else:
            message = (
                f"Only one column was found, but this model needs {len(needed)}: "
                f"{', '.join(needed)}. Separate the columns with commas, semicolons, tabs or "
                "pipes, with their names in the first row."
            )
        raise InvalidInput(message, {"code": exc.code}) from None


def check_head(job: Job, head: bytes, *, complete: bool) -> None:
    """Refuse a file from its first bytes: not a CSV, or without the model's columns.

    The cheap part of `score_file`'s checks, made when a batch is confirmed, so the most
    common mistakes are answered at once instead of by a failed batch.

    Args:
        job: a completed job with an ONNX model.
        head: the file's first bytes (up to SNIFF_BYTES).
        complete: whether `head` is the whole file.

    Raises:
        InvalidInput: empty, binary or one-column file, or missing feature columns.
    """
    spec = inference.job_spec(job)
    dialect = _sniff(head, complete=complete, spec=spec)
    names = list(dialect.header)
    missing = [c for c in spec.feature_columns if c not in names]
    if names and missing:
        raise InvalidInput(_missing_columns_message(missing, names), {"missing_columns": missing})


class _Reader(io.RawIOBase):
    """Any object with `read(n)` (an UploadedFile, an S3 file) as a raw stream for io.

    Closing it leaves the underlying file open: the caller owns that.
    """

    def __init__(self, handle: Any) -> None:
        self._handle = handle
        self.count = 0  # bytes read so far (for progress)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._handle.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)


def _missing_columns_message(missing: list[str], names: list[str]) -> str:
    """Which needed columns are absent, with the file's near-miss names pointed out."""
    count = f"{len(missing)} column{'s' if len(missing) != 1 else ''}"
    listed = ", ".join(f"'{c}'" for c in missing)
    folded = {n.strip().casefold(): n for n in names}
    hints = [
        f"the file has '{folded[c.strip().casefold()]}' for '{c}'"
        for c in missing
        if c.strip().casefold() in folded
    ]
    message = f"The file is missing {count} the model needs: {listed}."
    if hints:
        message += f" Column names must match exactly ({'; '.join(hints)})."
    return message + " Other columns may stay: they are copied to the result."


def _unique(name: str, taken: set[str]) -> str:
    """`name`, or `name.1`, `name.2`, ... when the file already has a column of that name."""
    candidate, suffix = name, 0
    while candidate in taken:
        suffix += 1
        candidate = f"{name}.{suffix}"
    taken.add(candidate)
    return candidate


def _numbers_text(values: Any, decimal: str) -> list[str]:
    """Numbers as the shortest text that reads back to the same value of their dtype."""
    import numpy as np

    text = np.asarray(values).astype(str)
    if decimal != ".":
        text = np.char.replace(text, ".", decimal)
    return text.tolist()


def _shown(value: str) -> str:
    return value if len(value) <= _MAX_VALUE_SHOWN else value[: _MAX_VALUE_SHOWN - 1] + "…"


@dataclass
class _Layout:
    """Where the model's columns sit in the file and how to read them."""

    positions: dict[str, int]  # feature column -> field index
    decimal_comma: frozenset[str]  # numeric feature columns written with ',' decimals
    target: int | None = None  # field index of the target (a validation file), else None


def _records(
    reader: Any, width: int, max_rows: int, delimiter: str
) -> Iterator[tuple[list[str], int]]:
    """The data records with their line numbers; blank lines are skipped as pandas does."""
    count = 0
    try:
        for record in reader:
            if not record or (len(record) == 1 and not record[0].strip()):
                continue
            count += 1
            if count > max_rows:
                raise PayloadTooLarge(
                    f"The file has more than {max_rows:,} rows; at most {max_rows:,} rows can "
                    "be scored per file. Split it into smaller files and score each.",
                    {"max_rows": max_rows},
                )
            if len(record) != width:
                name = DELIMITER_NAMES.get(delimiter, repr(delimiter))
                raise InvalidInput(
                    f"Row {count} (line {reader.line_num}) has {len(record)} fields, but the "
                    f"header has {width}. Look for an unquoted {name} inside a value, or a "
                    "missing or extra field, on that line.",
                    {"row": count, "line": reader.line_num},
                )
            yield record, reader.line_num
    except csv.Error as exc:
        raise InvalidInput(
            f"Line {reader.line_num} could not be read as CSV ({exc}). Check the quotes "
            "on that line.",
            {"line": reader.line_num},
        ) from None


def _score(
    job: Job,
    spec: inference.ModelSpec,
    source: IO[bytes],
    dialect: Dialect,
    *,
    max_rows: int,
    on_progress: Progress | None = None,
) -> tuple[IO[bytes], int, list[str], Validator | None]:
    source.seek(0)
    raw = _Reader(source)
    text = io.TextIOWrapper(
        io.BufferedReader(raw, READ_BUFFER),
        encoding=dialect.codec,
        newline="",
    )
    reader = csv.reader(text, delimiter=dialect.delimiter, quotechar=dialect.quotechar)
    try:
        header = next((r for r in reader if r), None)
    except csv.Error as exc:
        raise InvalidInput(f"The header row could not be read as CSV ({exc}).") from None
    if header is None:
        raise InvalidInput("The file is empty: it holds no header row.")
    # sniff's names are pandas' (BOM gone, blanks and repeats renamed), as training saw them.
    names = dialect.header if len(dialect.header) == len(header) else header
    missing = [c for c in spec.feature_columns if c not in names]
    if missing:
        raise InvalidInput(_missing_columns_message(missing, names), {"missing_columns": missing})
    layout = _Layout(
        positions={c: names.index(c) for c in spec.feature_columns},
        decimal_comma=frozenset(
            f.column for f in spec.features if dialect.decimal == "," and f.encoding == "numeric"
        ),
        target=names.index(job.target_column) if job.target_column in names else None,
    )
    validator = (
        Validator(job, spec, inference.load_card(job), decimal=dialect.decimal)
        if layout.target is not None
        else None
    )

    out = tempfile.TemporaryFile()  # noqa: SIM115 - returned open; the response closes it
    # UTF-8 with a BOM for files from a spreadsheet (a BOM, or a legacy code page).
    bom = dialect.bom or dialect.encoding not in ("utf-8",)
    out_text = io.TextIOWrapper(out, encoding="utf-8-sig" if bom else "utf-8", newline="")
    writer = csv.writer(
        out_text,
        delimiter=dialect.delimiter,
        quotechar=dialect.quotechar,
        lineterminator="\n" if dialect.line_terminator == "\n" else "\r\n",
    )
    columns: list[str] = []
    rows = 0
    try:
        chunk: list[list[str]] = []
        lines: list[int] = []
        for record, line in _records(reader, len(header), max_rows, dialect.delimiter):
            chunk.append(record)
            lines.append(line)
            if len(chunk) >= CHUNK_ROWS:
                columns = _write_chunk(
                    job, layout, dialect, chunk, lines, rows, writer, header, validator
                )
                rows += len(chunk)
                chunk, lines = [], []
                if on_progress is not None:
                    on_progress(rows, raw.count)
        if chunk:
            columns = _write_chunk(
                job, layout, dialect, chunk, lines, rows, writer, header, validator
            )
            rows += len(chunk)
            if on_progress is not None:
                on_progress(rows, raw.count)
        if rows == 0:
            raise InvalidInput("The file has a header but no data rows: add the rows to score.")
        out_text.flush()
        out_text.detach()
    except BaseException:
        out.close()
        raise
    finally:
        text.detach()
    out.seek(0)
    return out, rows, columns, validator


def _write_chunk(
    job: Job,
    layout: _Layout,
    dialect: Dialect,
    chunk: list[list[str]],
    lines: list[int],
    done: int,
    writer: Any,
    header: list[str],
    validator: Validator | None = None,
) -> list[str]:
    """Score one chunk and append its rows (the header first, before the first chunk)."""
    values = _feature_columns(layout, chunk)
    predictions = _predict_chunk(job, layout, values, chunk, lines, done)
    if validator is not None and layout.target is not None:
        validator.add([record[layout.target] for record in chunk], values, predictions)
    added: list[list[str]]
    if predictions.regression:
        added = [_numbers_text(predictions.labels, dialect.decimal)]
        names = ["prediction"]
    else:
        # Labels are few: make each one spreadsheet-safe once.
        safe: dict[Any, str] = {}
        added = [
            [
                safe[label]
                if label in safe
                else safe.setdefault(label, spreadsheet_safe(str(label)))
                for label in predictions.labels
            ]
        ]
        names = ["prediction"]
        best = predictions.best_probability()
        if best is not None:
            added.append(_numbers_text(best, dialect.decimal))
            names.append("probability")
            for index, label in enumerate(predictions.classes or []):
                added.append(_numbers_text(predictions.probabilities[:, index], dialect.decimal))
                names.append(f"probability_{label}")
    taken = set(header)
    columns = [*header, *(_unique(name, taken) for name in names)]
    if done == 0:
        writer.writerow(safe_row(columns))
    # The added columns are numbers or labels made safe above; the file's own cells and
    # every header go through the one rule here.
    writer.writerows(
        [*safe_row(record), *extra]
        for record, extra in zip(chunk, zip(*added, strict=True), strict=True)
    )
    return columns


def _feature_columns(layout: _Layout, chunk: list[list[str]]) -> dict[str, list[str | None]]:
    """Each feature column's cells of the chunk, missing-value markers as None."""
    by_position = list(zip(*chunk, strict=True))
    columns: dict[str, list[str | None]] = {}
    for name, position in layout.positions.items():
        values = by_position[position]
        if name in layout.decimal_comma:
            columns[name] = [
                None if v.strip() in NA_TOKENS else v.replace(",", ".") for v in values
            ]
        else:
            columns[name] = [None if v.strip() in NA_TOKENS else v for v in values]
    return columns


def _predict_chunk(
    job: Job,
    layout: _Layout,
    columns: dict[str, list[str | None]],
    chunk: list[list[str]],
    lines: list[int],
    done: int,
) -> inference.Predictions:
    try:
        return inference.predict_columns(job, columns, len(chunk))
    except InvalidInput as exc:
        index = exc.extra.get("row")
        column = exc.extra.get("column")
        if index is None or column not in layout.positions:
            raise
        row, line = done + index + 1, lines[index]
        value = _shown(chunk[index][layout.positions[column]])
        expected = exc.extra.get("expected") or "a valid value"
        raise InvalidInput(
            f"Row {row} (line {line}), column '{column}': '{value}' is not {expected}. "
            "Fix the value, or leave the cell empty to let the model fill it in.",
            {"row": row, "line": line, "column": column},
        ) from None
