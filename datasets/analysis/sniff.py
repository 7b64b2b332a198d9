"""The analysis' view of a CSV's dialect: the shared rule plus the header's column names.

Sniffing itself (encoding, delimiter, decimal mark, quoting, what is not a CSV) is
`training_image.csv_dialect`, the one rule the training container reads with too. This
module adds what only the analysis needs: the header's names as pandas makes them and
the column limit of the dataset record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from datasets.analysis.errors import CsvRejected
from training_image.csv_dialect import (
    DELIMITER_NAMES,
    DELIMITERS,
    HEAD_BYTES,
    CsvDialect,
    column_names,
    sniff_head,
)

__all__ = ["DELIMITERS", "DELIMITER_NAMES", "HEAD_BYTES", "MAX_COLUMNS", "Dialect", "sniff"]

# Wider files do not fit the dataset record (one DynamoDB item, 400 KB) with their stats.
MAX_COLUMNS = 500


@dataclass(frozen=True)
class Dialect:
    """How to read the file (`csv`, stored with the dataset) and the names of its columns."""

    csv: CsvDialect = field(default_factory=CsvDialect)
    header: list[str] = field(default_factory=list)
    renamed_columns: list[tuple[str, str]] = field(default_factory=list)  # (raw, name used)

    @property
    def encoding(self) -> str:
        return self.csv.encoding

    @property
    def bom(self) -> bool:
        return self.csv.bom

    @property
    def delimiter(self) -> str:
        return self.csv.delimiter

    @property
    def decimal(self) -> str:
        return self.csv.decimal

    @property
    def quotechar(self) -> str:
        return self.csv.quotechar

    @property
    def line_terminator(self) -> str:
        return self.csv.line_terminator

    @property
    def codec(self) -> str:
        return self.csv.codec

    @property
    def needs_transcoding(self) -> bool:
        return self.csv.needs_transcoding

    @property
    def is_plain(self) -> bool:
        return self.csv.is_plain

    def describe(self) -> str:
        return self.csv.describe()

    def encoding_label(self) -> str:
        return self.csv.encoding_label()

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.csv.to_dict(),
            "renamed_columns": [list(pair) for pair in self.renamed_columns],
            "description": self.describe(),
        }


def sniff(head: bytes, *, complete: bool, encoding: str | None = None) -> Dialect:
    """The dialect of a CSV whose first bytes are `head`, with its column names.

    Args:
        head: the first bytes of the file (HEAD_BYTES or the whole file).
        complete: True when `head` is the whole file (its last line is whole).
        encoding: decode with this encoding instead of detecting it (a rescan after
            the body proved not to be valid in the detected one).

    Returns:
        The dialect, with the header's column names (BOM removed, blanks and
        duplicates renamed the way pandas does).

    Raises:
        CsvRejected: empty, binary or otherwise unreadable as a table, or too wide.
    """
    sniffed = sniff_head(head, complete=complete, encoding=encoding)
    header, renamed = column_names(sniffed.header)
    if len(header) > MAX_COLUMNS:
        raise CsvRejected(
            f"The file has {len(header):,} columns; AutoML Lite reads up to "
            f"{MAX_COLUMNS:,}. Keep the columns that matter (and the target) and upload again.",
            code="too_many_columns",
        )
    return Dialect(csv=sniffed.dialect, header=header, renamed_columns=renamed)
