"""Streaming analysis of an uploaded CSV, in bounded memory.

`analyze_csv(path_or_binary_file)` sniffs the dialect from the first MiB with
`training_image.csv_dialect`, the rule the training container reads with too (BOM,
UTF-8 / Windows-1252 / Latin-1 / UTF-16 LE or BE, delimiter `,` `;` tab `|`, decimal
comma, quote character, line endings), then reads the file once in 1.5 MiB chunks of whole records (a newline
outside quotes ends a record, so quoted values may span lines). A worker thread reads
and parses chunk k+1 with polars while chunk k's statistics are merged, so peak memory
is a few chunks plus fixed-size per-column state, whatever the file size. It returns
the JSON-able dict stored in `Dataset.analysis`, or raises `CsvRejected` with a
message for the user.

Engines, measured on this machine (2 cores shared with other work; the 331 MB,
2,000,000-row, 24-column mixed CSV of `bench/analysis.py`; one fresh process each,
peak RSS from `os.wait4`; `python bench/analysis.py --engines` repeats it). "quiet":
an earlier run at load average ~1 (an earlier edition of this module); "loaded": one
`--engines` run at load average ~7 (other work on the machine), so its times are
~2-4x longer and only ratios within a column compare:

| approach | computes | quiet | loaded | peak RSS |
|---|---|---|---|---|
| pandas `read_csv` + per-column `nunique`/`isna` (the baseline) | distinct, missing | 2.9-4.5 s | 15.1 s | 1,187 MB |
| polars `scan_csv(...).collect(engine="streaming")` | null counts | 1.3 s | 4.2 s | 356 MB (the file is mmapped) |
| the same + `approx_n_unique()` | + HLL distinct | 1.5 s | 6.5 s | 363 MB; 7 % low on a unique id |
| the same + `n_unique()` | + exact distinct | 2.9 s | | 915 MB (not streamed) |
| polars `collect_batches(chunk_size=100_000)` | parse only | 1.3 s | 7.7 s | 418 MB |
| pyarrow `csv.open_csv` (8 MiB blocks, threads) | parse only | 2.4 s | 8.3 s | 488 MB |
| DuckDB `read_csv`, 2 threads, `memory_limit` 128 MB | count/min/max/avg/std/approx distinct | 2.9 s | | 168 MB |
| DuckDB, all VARCHAR + `TRY_CAST`/`try_strptime` (type checks) | | 25.6 s | | 177 MB |
| polars `read_csv` on our record-aligned chunks | parse only | 1.4 s | | 85-95 MB |
| **this module** (polars on our chunks + mergeable statistics) | everything below | 3.1 s (load ~2) | 8.2 s | 137-145 MB |

DuckDB streams in little memory but was 2x slower than polars for the aggregates and
its sampled type sniffing needs a second path for files whose types change late;
pyarrow was the slowest parser here; polars' own streaming scan is the fastest parser
but maps the whole file into memory and does not stream `n_unique`. Feeding polars our
own chunks keeps its parser, bounds memory, works on any file object (S3 too) and on
transcoded Latin-1 text, and lets every statistic merge exactly: counts and min/max,
Chan's mean/variance, exact value counts for columns with at most 1,000 distinct
values (their top values), and a distinct-hash sample for the rest (exact up to 65,536
distinct values, then an estimate within ~0.5 %: the analysis says
`unique_approximate`).

Where the time goes (CPU, one polars thread): parsing ~45 %, the statistics ~55 %
(distinct counting, ~0.1 s per column, is the largest part; then dates and text
cleaning). Each chunk is counted with one cached set of expressions, checks that have
settled (a float column with a fraction, an integer column that is not a 1..n run) are
dropped, and numpy is not loaded (12 MB of resident memory). Against the baseline in
the same run: 1.1x faster at 8.6x less memory at load ~2 (3.1 s and 137 MB against
3.5 s and 1,179 MB), 1.4-1.8x faster at 8.2-8.4x less memory at load 4-7; both use
about the same CPU time (pandas 3 uses threads too), so the speed ratio mostly says
which process got more of the two cores. No approach measured here is 5x faster than the baseline on this file:
polars' own streaming scan computing only null counts was 2.2-3.6x faster (at 356 MB),
so parsing the file bounds the ratio well below 5x.

Choices worth knowing:
- Missing: `training_image.detection.NA_TOKENS` (pandas' defaults plus `?`,
  compared after stripping spaces), blank cells, whitespace-only cells.
- Ragged rows: a row with more fields than the header is REJECTED, naming its
  line (pandas raises on it too; silently dropping rows would train on other data
  than the user sees). Short rows are padded with missing values, as pandas does.
  Blank lines (and rows whose every cell is missing) are skipped with a warning.
- Column families, kinds, sample values and date formats follow the training
  container's loader (`training_image/data.py`), so both ask `detection.py` with the
  same facts: tests compare the two on every dataset.
- At most 500 columns (a wider analysis does not fit the dataset record).
"""

from __future__ import annotations

import os
import time
from typing import Any

from datasets.analysis.columns import Replan
from datasets.analysis.errors import CsvRejected
from datasets.analysis.reader import BLOCK_BYTES, Reencode, Source, open_source
from datasets.analysis.scanner import scan
from datasets.analysis.sniff import Dialect, sniff
from datasets.analysis.summary import ANALYSIS_VERSION, summarize
from training_image.csv_dialect import CsvDialect, read_head
from training_image.detection import Family

__all__ = [
    "ANALYSIS_VERSION",
    "CsvDialect",
    "CsvRejected",
    "Dialect",
    "analyze_csv",
    "sniff_source",
    "stored_dialect",
]

# Each rescan settles at least one column (integer -> float -> text) or the encoding.
_MAX_SCANS = 8


def sniff_source(source: Source) -> Dialect:
    """The dialect of a file, from its head only (fast: for upload-time type checks).

    Raises:
        CsvRejected: empty, binary, or not a table.
    """
    with open_source(source) as handle:
        head, complete = read_head(handle)
        return sniff(head, complete=complete)


def stored_dialect(analysis: dict[str, Any]) -> CsvDialect:
    """The dialect an analysis read its file with: the one stored with the dataset."""
    return CsvDialect.from_dict(analysis["dialect"])


def analyze_csv(
    source: Source, *, file_size: int | None = None, block_bytes: int = BLOCK_BYTES
) -> dict[str, Any]:
    """Analyze a CSV file: a path or a binary file object (rewound; left open).

    Args:
        source: the file.
        file_size: its size in bytes, when known (stored in the analysis).
        block_bytes: bytes read per block (chunks are about this size).

    Returns:
        The analysis dict (JSON-able; see `summary.summarize` for its keys).

    Raises:
        CsvRejected: the file cannot be used; `.message` says why and what to do.
    """
    started = time.perf_counter()
    if file_size is None and isinstance(source, str | os.PathLike):
        file_size = os.path.getsize(source)
    overrides: dict[str, Family] = {}
    with open_source(source) as handle:
        head, complete = read_head(handle)
        dialect = sniff(head, complete=complete)
        for _ in range(_MAX_SCANS):
            try:
                result = scan(handle, dialect, overrides, block_bytes=block_bytes)
                break
            except Reencode as change:
                dialect = sniff(head, complete=complete, encoding=change.encoding)
            except Replan as change:
                overrides[change.name] = change.family
        else:  # pragma: no cover - every rescan widens a column, so this cannot loop
            raise CsvRejected("The column types of this file could not be settled.", code="types")
    analysis = summarize(result, dialect, file_size=file_size)
    analysis["seconds"] = round(time.perf_counter() - started, 3)
    return analysis
