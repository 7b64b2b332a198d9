"""Column kinds, ID detection and problem type, from a small column profile.

The web's streaming analyzer and the container's pandas code both build a
`ColumnProfile` and ask these functions, so upload and training always agree.
Pure standard library.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field


class Family(enum.StrEnum):
    """Storage family of a parsed column."""

    INTEGER = "integer"
    FLOAT = "float"
    BOOLEAN = "boolean"
    STRING = "string"
    DATETIME = "datetime"
    EMPTY = "empty"  # every value missing


class Kind(enum.StrEnum):
    """What a column means to the model."""

    NUMERIC = "numeric"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    CATEGORICAL = "categorical"
    DATETIME = "datetime"
    TEXT = "text"
    ID = "id"
    CONSTANT = "constant"


# Cell values that mean "missing" (pandas' defaults plus "?"), for the web's analyzer and the
# container alike. Compared after stripping surrounding whitespace; a blank cell is missing too.
NA_TOKENS = frozenset(
    {
        "",
        "NA",
        "N/A",
        "n/a",
        "NaN",
        "nan",
        "-NaN",
        "-nan",
        "NULL",
        "null",
        "None",
        "<NA>",
        "#N/A",
        "#N/A N/A",
        "#NA",
        "-1.#IND",
        "-1.#QNAN",
        "1.#IND",
        "1.#QNAN",
        "?",
    }
)

# Kinds that never become model features.
DROPPED_KINDS = frozenset({Kind.ID, Kind.CONSTANT})

KIND_REASONS = {
    Kind.ID: "identifier: unique per row, carries no signal",
    Kind.CONSTANT: "constant: a single value (or empty)",
}


@dataclass
class ColumnProfile:
    name: str
    family: Family | str
    n_rows: int  # rows in the file (or the sample the counts came from)
    n_unique: int  # distinct non-missing values (may be approximate for large files)
    n_missing: int
    sample_values: Sequence[str] = field(default_factory=list)  # a few non-missing values
    # Only for numbers: are all non-missing values whole numbers? (floats like 1.0, 2.0)
    all_integral: bool | None = None
    # Only for strings: mean length and share of values with a space.
    mean_length: float | None = None
    is_monotonic_step: bool | None = None  # integers 1..n (or k..k+n-1) in file order
    # Only for numbers written with a unit ("23.4 kmpl"): the unit (see `common_unit`).
    unit: str | None = None

    @property
    def n_present(self) -> int:
        return self.n_rows - self.n_missing

    @property
    def unique_ratio(self) -> float:
        return self.n_unique / self.n_present if self.n_present else 0.0


_ID_NAME = re.compile(
    r"(^id$|_id$|^id_|_id_|^uuid$|^guid$|^index$|^row_?num|^serial|(^|_)key$|"
    r"record_?id|customer_?id|user_?id|order_?id|transaction_?id|session_?id|passenger_?id|"
    r"sample_?number|individual_?id)",
)
_CODE_LIKE = re.compile(r"^[A-Za-z0-9\-_.:/#]+$")


def _normalise_name(name: str) -> str:
    name = re.sub(r"([a-z])([A-Z])", r"\1_\2", name.strip())
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def looks_like_id_name(name: str) -> bool:
    return bool(_ID_NAME.search(_normalise_name(name)))


def is_id_column(p: ColumnProfile) -> bool:
    """Unique per row and shaped like a key: a name that says so, or an opaque code."""
    if p.n_present < 20 or p.n_missing > 0.01 * p.n_rows:
        return False
    nearly_unique = p.unique_ratio >= 0.98
    if p.family == Family.INTEGER:
        return bool(nearly_unique and (looks_like_id_name(p.name) or p.is_monotonic_step))
    if p.family == Family.STRING:
        if not nearly_unique:
            # A key-named string column with repeats (e.g. "Individual ID" per animal)
            # is still an identifier when it is mostly unique.
            return looks_like_id_name(p.name) and p.unique_ratio >= 0.5
        if looks_like_id_name(p.name):
            return True
        codes = [v for v in p.sample_values if v]
        if not codes:
            return False
        code_share = sum(1 for v in codes if _CODE_LIKE.match(v)) / len(codes)
        return code_share >= 0.9 and (p.mean_length or 0) <= 40
    return False


def column_kind(p: ColumnProfile) -> Kind:
    if p.family == Family.EMPTY or p.n_unique <= 1:
        return Kind.CONSTANT
    if is_id_column(p):
        return Kind.ID
    if p.family == Family.BOOLEAN or p.n_unique == 2:
        return Kind.BOOLEAN
    if p.family == Family.DATETIME:
        return Kind.DATETIME
    if p.family == Family.INTEGER:
        return Kind.INTEGER
    if p.family == Family.FLOAT:
        return Kind.NUMERIC
    # Strings: few distinct values, or short codes, are categories; long varied ones are text.
    if p.n_unique <= 50 or p.unique_ratio < 0.05:
        return Kind.CATEGORICAL
    if (p.mean_length or 0) >= 25 and p.unique_ratio >= 0.3:
        return Kind.TEXT
    if several_words_share(p.sample_values) >= WORDS_MIN_SHARE:
        return Kind.TEXT
    return Kind.CATEGORICAL


# Many distinct values made of several words ("Maruti Swift Dzire VDI", "chevrolet chevelle
# malibu") are split into words (the `text` encoding): most such values are too rare to get a
# category of their own, while their words (the brand, the model) repeat. A word here has two
# letters or more, so codes with the odd space ("PC 17599" among "113803": measured on
# titanic's Ticket, words scored lower, ROC AUC 0.847 against 0.858) and numbered names
# ("city 12", whose number is all that tells them apart) stay categories.
WORDS_MIN_SHARE = 0.8
_WORD = re.compile(r"[A-Za-z]{2,}")


def several_words_share(values: Sequence[str]) -> float:
    """The share of `values` (a column's sample) holding two words or more."""
    present = [v for v in values if v]
    if not present:
        return 0.0
    return sum(1 for v in present if len(_WORD.findall(v)) >= 2) / len(present)


# --------------------------------------------------------------------------- numbers with a unit
#
# A text column whose values are numbers written with one unit ("23.4 kmpl", "1248 CC",
# "74 bhp", "12%", "$1200") is a numeric column: the model reads the number. The number is
# written as Python and polars read it (digits, an optional sign and decimal point; no
# thousands separators, since "1,200" is 1.2 in a decimal-comma file, and no exponent); the
# unit is one ASCII word (optionally "word/word": "km/kg"), or "%", after the number, or a
# currency sign before it. Units compare case-insensitively ("CC" is "cc"). The pattern is
# written for both Python's `re` and polars' (Rust) regex: groups 1-2 are a sign-first value
# (sign, number), groups 3-4 a unit-last value (number, unit).
UNIT_PATTERN = (
    r"^(?:([$€£¥₹])\s*([-+]?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+))"
    r"|([-+]?(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+))\s*(%|[A-Za-z]+(?:/[A-Za-z]+)?))$"
)
_UNIT_VALUE = re.compile(UNIT_PATTERN)
# A column has a unit when, among its first UNIT_SAMPLE present values (in file order), one
# unit is on at least UNIT_MIN_SHARE of them and that unit or none (a bare number) on
# UNIT_MIN_READ_SHARE; and, over all its rows, that share holds too. The other values (none
# of a used-car table's "23.4 kmpl" column is "abc", but ~1 % are "26.6 km/kg") are read as
# missing in training and refused by the server. Rows, not distinct values: a rare unit's
# values are often all distinct.
UNIT_SAMPLE = 1000
UNIT_MIN_SHARE = 0.5
UNIT_MIN_READ_SHARE = 0.95


def split_unit(text: str) -> tuple[str, str] | None:
    """(number, unit) of a value written with a unit ("23.4 kmpl" -> ("23.4", "kmpl")), else
    None (a bare number is None too)."""
    match = _UNIT_VALUE.match(text.strip())
    if match is None:
        return None
    sign, before, after, unit = match.groups()
    return (before, sign) if sign else (after, unit)


def unit_counts(values: Iterable[str]) -> tuple[dict[str, int], int]:
    """How a column's first UNIT_SAMPLE present `values` read: ({unit as written: values,
    "" for a bare number}, values looked at)."""
    counts: dict[str, int] = {}
    looked_at = 0
    for value in values:
        if looked_at >= UNIT_SAMPLE:
            break
        looked_at += 1
        split = split_unit(value)
        if split is not None:
            counts[split[1]] = counts.get(split[1], 0) + 1
        elif _is_plain_number(value):
            counts[""] = counts.get("", 0) + 1
    return counts, looked_at


def _is_plain_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def common_unit(counts: Mapping[str, int], n_values: int) -> str | None:
    """The unit of a column from `unit_counts` of its first present values, or None.

    Args:
        counts: values per unit as written ("" for bare numbers).
        n_values: the values looked at (those that are no number, with a unit or not, too).

    Returns:
        The most frequent spelling of the most frequent unit (compared case-insensitively),
        when the rule above holds; else None.
    """
    if n_values <= 0:
        return None
    groups: dict[str, dict[str, int]] = {}
    for unit, count in counts.items():
        if unit:
            groups.setdefault(unit.lower(), {})[unit] = count
    if not groups:
        return None
    key = min(groups, key=lambda k: (-sum(groups[k].values()), k))
    with_unit = sum(groups[key].values())
    if with_unit < UNIT_MIN_SHARE * n_values:
        return None
    if with_unit + counts.get("", 0) < UNIT_MIN_READ_SHARE * n_values:
        return None
    spellings = groups[key]
    return min(spellings, key=lambda u: (-spellings[u], u))


def reads_as_numbers(n_read: int, n_present: int) -> bool:
    """Whether a column with a unit reads as numbers (in its unit, or bare) on enough of its
    `n_present` present values (all rows): `n_read` of them."""
    return n_present == 0 or n_read >= UNIT_MIN_READ_SHARE * n_present


# A numeric target with at most this many distinct values is a class label.
MAX_CLASSES_FOR_NUMERIC = 20


def problem_type(p: ColumnProfile) -> str | None:
    """binary | multiclass | regression for `p` as a target; None when it cannot be one."""
    if p.n_unique < 2 or p.family == Family.EMPTY:
        return None
    if p.n_unique == 2:
        return "binary"
    if p.family in (Family.STRING, Family.BOOLEAN):
        if p.family == Family.STRING and p.unique_ratio > 0.5 and p.n_present > 50:
            return None  # free text or an identifier: not a sensible target
        return "multiclass"
    if p.family == Family.DATETIME:
        return None
    integral = p.family == Family.INTEGER or bool(p.all_integral)
    if integral and p.n_unique <= MAX_CLASSES_FOR_NUMERIC and p.unique_ratio < 0.5:
        return "multiclass"
    return "regression"


def suggest_target(profiles: Sequence[ColumnProfile]) -> str | None:
    """The column most likely to be the target: a conventional name, else the last usable one."""
    usable = [p for p in profiles if problem_type(p) is not None and not is_id_column(p)]
    if not usable:
        return None
    preferred = ("target", "label", "class", "y", "outcome", "churn", "survived", "species")
    for p in usable:
        if _normalise_name(p.name) in preferred:
            return p.name
    return usable[-1].name


def unusable_target_reason(kind: str | None, n_unique: int | None) -> str:
    """Why a column whose `problem_type` is None cannot be predicted, in words for the user."""
    if n_unique is not None and n_unique < 2 or kind == Kind.CONSTANT:
        return "it holds a single value, so there is nothing to learn"
    if kind == Kind.DATETIME:
        return "it holds dates; AutoML Lite predicts categories or numbers, not dates"
    if kind == Kind.ID:
        return "it looks like an identifier (a different value on almost every row)"
    if kind in (Kind.TEXT, Kind.CATEGORICAL):
        return "it looks like free text: most of its values are unique, so they make no classes"
    return "it is empty or has no usable values"


def problem_type_label(value: str | None) -> str:
    return {
        "binary": "Binary classification",
        "multiclass": "Multiclass classification",
        "regression": "Regression",
    }.get(value or "", "Not a usable target")


# A text column is a date column when one of DATETIME_FORMATS parses DATETIME_MIN_SHARE of its
# first DATETIME_SAMPLE distinct values (the first format that does is its format).
DATETIME_SAMPLE = 500
DATETIME_MIN_SHARE = 0.95

# Date and time layouts both sides try, in order (Python strptime syntax; the web analyzer
# converts `.%f` to polars' `%.f`). One list, so upload and training parse the same dates.
DATETIME_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y/%m/%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M:%S",
    "%d.%m.%Y",
    "%d.%m.%Y %H:%M",
    "%d-%m-%Y",
    "%m-%d-%Y",
    "%B %d, %Y",
    "%b %d, %Y",
    "%d %B %Y",
    "%d %b %Y",
    "%Y%m%dT%H%M%S",  # compact ISO 8601 (house-sale exports: "20141013T000000")
    "%Y%m%d",
)

# Whole numbers of eight digits from 1900-01-01 to 2100-12-31 ("20141013") are tried as dates
# in this format only; a column of them is a date column when DATETIME_MIN_SHARE of its first
# distinct values are valid dates (random eight-digit numbers in that range are ~4 % dates).
COMPACT_DATE_FORMAT = "%Y%m%d"
COMPACT_DATE_RANGE = (19000101, 21001231)


def compact_date_candidates(minimum: float, maximum: float) -> bool:
    """Whether whole numbers between `minimum` and `maximum` could be dates like 20141013."""
    low, high = COMPACT_DATE_RANGE
    return low <= minimum and maximum <= high
