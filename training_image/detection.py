"""Column kinds, ID detection and problem type, from a small column profile.

The web's streaming analyzer and the container's pandas code both build a
`ColumnProfile` and ask these functions, so upload and training always agree.
Pure standard library.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
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
    return Kind.CATEGORICAL


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
)
