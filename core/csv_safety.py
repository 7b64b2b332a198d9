"""CSV cells that are safe to open in a spreadsheet: the one rule every CSV writer applies.

A spreadsheet runs a cell that begins with `=`, `+`, `-` or `@` as a formula (and
some also after a leading tab or carriage return), so a scored file could carry
`=HYPERLINK(...)` or `+cmd|...` into whoever opens it (OWASP "CSV injection"). Such a
cell is written with a leading `'`, which spreadsheets show as text and which a reader
sees at once. A cell starting with `-` that reads as a number (`-1.5`, `-2,5` with a
decimal comma, `-1e-3`) stays as it is, so negative numbers remain numbers.
"""

from __future__ import annotations

from collections.abc import Iterable

# What a spreadsheet may take as the start of a formula.
FORMULA_STARTS = frozenset("=+-@\t\r")
PREFIX = "'"


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", "."))
    except ValueError:
        return False
    return True


def spreadsheet_safe(cell: str) -> str:
    """`cell` as it may be written to a CSV: formula-like text gets a leading `'`.

    Args:
        cell: One value or header, as text.

    Returns:
        The cell unchanged, or with `'` in front when a spreadsheet would run it.
    """
    if not cell or cell[0] not in FORMULA_STARTS:
        return cell
    if cell[0] == "-" and _is_number(cell):
        return cell
    return PREFIX + cell


def safe_row(row: Iterable[str]) -> list[str]:
    """Every cell of a row through `spreadsheet_safe` (cheap for the common, safe cell)."""
    return [c if not c or c[0] not in FORMULA_STARTS else spreadsheet_safe(c) for c in row]
