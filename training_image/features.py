"""How a raw value becomes a model input: the one rule training and serving share.

Pure standard library (numpy only as an optional fast path), so the web imports it without the
ML stack, and `model.pkl` ships it (see `portable.py`). The saved pipeline's `prepare` step
applies these functions to whole columns (training, `model.pkl.predict`); the server applies them
to the values of a request (`jobs/model_inputs.py`) and, before that, checks a row with
`check_value` so a refusal names every problem at once.

The rule, per encoding (the README and the API docs state it too):

* missing: `None`/JSON null, NaN, a blank string, or a missing-value token of the CSV reader
  (`NA`, `N/A`, `null`, `NaN`, `?`, ...). A missing value is allowed for every feature: the model
  imputes the *training* median (numbers) or has learned the missing category.
* `numeric`: a finite number, or text Python's float() reads (`" 4.5 "`, `"1e3"`). Refused: booleans
  (`true`), infinities (`inf`, `"Infinity"`, `1e999`), other text, lists and objects. A column
  trained on numbers written with a unit (`unit`, see `detection.common_unit`: `"23.4 kmpl"`)
  takes the number with that unit, in any case (`"23.4 KMPL"`, `"23.4kmpl"`), or without
  one (`23.4`, `"23.4"`); a number in another unit (`"17.3 km/kg"`) is refused.
* `boolean`: `true`/`false`, `1`/`0`, or the text `true t yes y 1 1.0` / `false f no n 0 0.0` in
  any case. Anything else is refused.
* `onehot`/`ordinal` (categories): text (stripped), or a number or boolean whose text form is a
  category (`5` for `"5"`). A value the model never saw is refused with the allowed values when
  the model card lists them all, and accepted with a warning when it only lists the most frequent
  ones. Lists and objects are refused.
* `text`: any text or number (lower-cased for the model). Lists and objects are refused.
* `datetime`: text in the column's training format (`strptime`), or a date-time object; a value
  with an offset is converted to UTC. A whole number is read as its digits (`20141013` in the
  format `%Y%m%d`). Other text is refused.

Training reads its own columns with the same functions, but leniently: a value the server would
refuse becomes missing (so a stray cell in a training file does not stop the run).
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from training_image.detection import NA_TOKENS, split_unit

MISSING_TOKEN = "__missing__"  # a missing category: learned like any other value
ENCODINGS = ("numeric", "boolean", "onehot", "ordinal", "text", "datetime")
NUMERIC_ENCODINGS = ("numeric", "boolean", "datetime")  # float graph inputs
TRUE_TOKENS = frozenset({"true", "t", "yes", "y", "1", "1.0"})
FALSE_TOKENS = frozenset({"false", "f", "no", "n", "0", "0.0"})
DATE_PARTS = ("year", "month", "day", "dayofweek", "dayofyear", "epoch_days")
TIME_PARTS = ("hour",)
ALL_DATE_PARTS = ("year", "month", "day", "dayofweek", "dayofyear", "hour", "epoch_days")
EPOCH = dt.datetime(1970, 1, 1)
NAN = math.nan


@dataclass(frozen=True)
class FeatureSpec:
    """How one original column becomes graph inputs."""

    column: str
    kind: str  # detection.Kind value
    encoding: str  # one of ENCODINGS
    inputs: tuple[str, ...]  # names of the graph inputs made from this column
    datetime_format: str | None = None
    datetime_parts: tuple[str, ...] = ()
    unit: str | None = None  # numeric columns written with a unit ("kmpl" for "23.4 kmpl")

    @property
    def is_numeric_input(self) -> bool:
        return self.encoding in NUMERIC_ENCODINGS


class ValueProblem(ValueError):
    """A value the rule refuses: `code` (wrong_type | wrong_unit | not_finite | not_a_date), the
    `expected` kind of value, and a message a user can read."""

    def __init__(self, code: str, message: str, expected: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.expected = expected


# --------------------------------------------------------------------------- one value


def is_missing(value: Any) -> bool:
    """None, NaN/NaT, pandas' NA, a blank string or a CSV missing-value token."""
    if value is None:
        return True
    if isinstance(value, str):
        text = value.strip()
        return text == "" or text in NA_TOKENS
    if isinstance(value, float):
        return value != value  # NaN
    if type(value).__name__ in ("NAType", "NaTType"):
        return True
    try:
        return bool(value != value)  # numpy NaN, pandas NaT
    except (TypeError, ValueError):
        return False


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return repr(value) if isinstance(value, str) else str(value)


def unit_example(unit: str) -> str:
    """The number 12 written with `unit` ("$12", "12%", "12 kmpl"), to show what is expected."""
    if split_unit(f"{unit}12") is not None:
        return f"{unit}12"
    return "12%" if unit == "%" else f"12 {unit}"


def read_number(value: Any, column: str, unit: str | None = None) -> float:
    """A numeric feature's value as a float (NaN when missing).

    Args:
        value: the raw value.
        column: the feature (for messages).
        unit: the unit the column's numbers are written with, if any: text with that unit
            reads as its number.

    Raises:
        ValueProblem: a boolean, an infinity, text that is not a number (or a number in another
            unit), a list or an object.
    """
    if is_missing(value):
        return NAN
    expected = f"a number in {unit}" if unit else "a number"
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        raise ValueProblem(
            "wrong_type",
            f"Cannot convert '{_describe(value)}' to number for feature '{column}'",
            expected,
        )
    if isinstance(value, int | float) or hasattr(value, "__float__") and not isinstance(value, str):
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = None
        if number is not None:
            return _finite(number, column)
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            number = None
        if number is not None:
            return _finite(number, column)
        if unit is not None and (split := split_unit(text)) is not None:
            number_text, written = split
            if written.lower() == unit.lower():
                return _finite(float(number_text), column)
            raise ValueProblem(
                "wrong_unit",
                f"'{text}' is not in {unit}, the unit of feature '{column}': send the number "
                f"in {unit} (like {unit_example(unit)}) or the number alone",
                expected,
            )
    like = f" (expected a number in {unit}, like {unit_example(unit)})" if unit else ""
    raise ValueProblem(
        "wrong_type",
        f"Cannot convert '{value if isinstance(value, str) else _describe(value)}' to number "
        f"for feature '{column}'{like}",
        expected,
    )


def _finite(number: float, column: str) -> float:
    if not math.isfinite(number):
        raise ValueProblem(
            "not_finite", f"Feature '{column}' must be a finite number", "a finite number"
        )
    return number


def read_boolean(value: Any, column: str) -> float:
    """A boolean feature's value as 1.0 / 0.0 (NaN when missing).

    Raises:
        ValueProblem: anything but a boolean, 0/1 or one of the true/false words.
    """
    if is_missing(value):
        return NAN
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return 1.0 if value else 0.0
    if isinstance(value, int | float) and not isinstance(value, bool) or hasattr(value, "item"):
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = None
        if number in (0.0, 1.0):
            return number
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in TRUE_TOKENS:
            return 1.0
        if lowered in FALSE_TOKENS:
            return 0.0
    raise ValueProblem(
        "wrong_type",
        f"Cannot read {_describe(value)} as true or false for feature '{column}'",
        "true or false",
    )


def read_category(value: Any, column: str) -> str:
    """A category's text (stripped), or MISSING_TOKEN.

    Raises:
        ValueProblem: a list or an object.
    """
    if is_missing(value):
        return MISSING_TOKEN
    if isinstance(value, list | tuple | dict | set):
        raise ValueProblem(
            "wrong_type",
            f"Feature '{column}' takes one value, not {_describe(value)}",
            "one of the categories",
        )
    return str(value).strip()


def read_text(value: Any, column: str) -> str:
    """Free text, lower-cased ('' when missing).

    Lower-cased here, not in the vectorizer: the ONNX lower-casing op needs an OS locale servers
    may lack, while str.lower() is the same everywhere.

    Raises:
        ValueProblem: a list or an object.
    """
    if value is None or isinstance(value, float) and value != value:
        return ""
    if type(value).__name__ == "NAType":
        return ""
    if isinstance(value, list | tuple | dict | set):
        raise ValueProblem(
            "wrong_type", f"Feature '{column}' takes text, not {_describe(value)}", "text"
        )
    return str(value).lower()


def read_datetime(value: Any, column: str, fmt: str | None) -> dt.datetime | None:
    """A naive UTC datetime (None when missing).

    Raises:
        ValueProblem: text that does not match the training format, or a value of another type.
    """
    if is_missing(value):
        return None
    when: dt.datetime | None = None
    if isinstance(value, dt.datetime):
        when = value
    elif isinstance(value, dt.date):
        when = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str) or _whole_number(value):
        # A whole number is its digits: the file's 20141013 may arrive as 20141013.0 too
        # (a column of whole numbers with gaps is read as floats).
        text = value.strip() if isinstance(value, str) else str(int(value))
        try:
            when = dt.datetime.strptime(text, fmt) if fmt else dt.datetime.fromisoformat(text)
        except ValueError:
            when = None
    if when is None:
        example = date_example(fmt)
        expected = f"a date like {example}" if fmt else "an ISO date (YYYY-MM-DD)"
        like = f" (expected like {example}, format {fmt})" if fmt else ""
        raise ValueProblem(
            "not_a_date",
            f"Cannot convert '{value if isinstance(value, str) else _describe(value)}' to a date "
            f"for feature '{column}'{like}",
            expected,
        )
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC).replace(tzinfo=None)
    return when


def _whole_number(value: Any) -> bool:
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return False
    if isinstance(value, numbers.Integral):
        return True
    return isinstance(value, float) and value.is_integer()


def date_example(fmt: str | None) -> str:
    """A date written in `fmt` (2024-03-01 13:45 in it), to show users what is expected."""
    if not fmt:
        return "2024-03-01"
    try:
        return dt.datetime(2024, 3, 1, 13, 45, 0, tzinfo=dt.UTC).strftime(fmt)
    except ValueError:
        return fmt


def date_parts(when: dt.datetime | None, parts: Sequence[str] = ALL_DATE_PARTS) -> list[float]:
    """The numeric parts of a date: year, month, day, weekday() (Monday = 0), day of year, hour,
    and days since 1970-01-01 (fractional); NaN for each when the date is missing."""
    if when is None:
        return [NAN] * len(parts)
    values = {
        "year": float(when.year),
        "month": float(when.month),
        "day": float(when.day),
        "dayofweek": float(when.weekday()),
        "dayofyear": float(when.timetuple().tm_yday),
        "hour": float(when.hour),
        "epoch_days": (when.replace(tzinfo=None) - EPOCH).total_seconds() / 86_400,
    }
    return [values[p] for p in parts]


# --------------------------------------------------------------------------- whole columns


def _lenient(read: Callable[[Any, str], Any], missing: Any) -> Callable[[Any, str], Any]:
    def convert(value: Any, column: str) -> Any:
        try:
            return read(value, column)
        except ValueProblem:
            return missing

    return convert


READERS: dict[str, Callable[[Any, str], Any]] = {
    "numeric": read_number,
    "boolean": read_boolean,
    "onehot": read_category,
    "ordinal": read_category,
    "text": read_text,
}
MISSING_INPUT: dict[str, Any] = {
    "numeric": NAN,
    "boolean": NAN,
    "onehot": MISSING_TOKEN,
    "ordinal": MISSING_TOKEN,
    "text": "",
}


class RowProblem(ValueError):
    """A value refused in a column: its 0-based `row` and the ValueProblem."""

    def __init__(self, row: int, problem: ValueProblem) -> None:
        super().__init__(problem.message)
        self.row = row
        self.problem = problem


def _float_fast_path(values: Any) -> list[float] | None:
    """Plain finite numbers (and NaN / None as missing) converted at C speed, else None."""
    if hasattr(values, "dtype") and getattr(values.dtype, "kind", "") in "fiu":
        import numpy as np

        array = np.asarray(values, dtype=np.float64)
        if np.isinf(array).any():
            return None
        return array  # type: ignore[return-value]
    return None


def prepare_column(
    feature: FeatureSpec, values: Sequence[Any], *, strict: bool = True
) -> list[list[Any]]:
    """One column's raw values -> the values of each of the feature's graph inputs.

    Args:
        feature: the column's spec.
        values: its raw values (a list, or a numpy array).
        strict: refuse a value the rule refuses (serving); False makes it missing (training).

    Returns:
        One list (or float array) of values per graph input in `feature.inputs`.

    Raises:
        RowProblem: (strict only) a refused value, with its row.
    """
    encoding = feature.encoding
    if encoding == "datetime":
        parse: Callable[[Any, str], Any] = lambda v, c: read_datetime(  # noqa: E731
            v, c, feature.datetime_format
        )
        dates = _convert(values, feature.column, parse if strict else _lenient(parse, None), strict)
        cache: dict[Any, list[float]] = {}
        rows = []
        for when in dates:
            if when not in cache:
                cache[when] = date_parts(when, feature.datetime_parts)
            rows.append(cache[when])
        return (
            [list(column) for column in zip(*rows, strict=True)]
            if rows
            else [[] for _ in feature.datetime_parts]
        )
    if encoding not in READERS:
        raise ValueError(f"unknown encoding {encoding!r} for column {feature.column!r}")
    if encoding == "numeric":
        fast = _float_fast_path(values)
        if fast is not None:
            return [fast]
    if encoding == "numeric" and not isinstance(values, str):
        plain = _plain_numbers(values)
        if plain is not None:
            return [plain]
    read = READERS[encoding]
    if encoding == "numeric" and feature.unit is not None:
        unit = feature.unit
        read = lambda v, c: read_number(v, c, unit)  # noqa: E731
    return [
        _convert(
            values,
            feature.column,
            read if strict else _lenient(read, MISSING_INPUT[encoding]),
            strict,
        )
    ]


def _convert(
    values: Iterable[Any], column: str, read: Callable[[Any, str], Any], strict: bool
) -> list[Any]:
    out: list[Any] = []
    cache: dict[str, Any] = {}  # text cells repeat (categories, codes): read each once
    get = cache.get
    append = out.append
    try:
        for value in values:
            if value.__class__ is str:
                hit = get(value, _ABSENT)
                if hit is _ABSENT:
                    hit = cache[value] = read(value, column)
            else:
                hit = read(value, column)
            append(hit)
    except ValueProblem as problem:
        raise RowProblem(len(out), problem) from None
    return out


def _plain_numbers(values: Sequence[Any]) -> Any:
    """Text or numbers that float() reads, all finite or missing (NaN, None), read at C speed;
    None when the rule needs a closer look (a boolean, a NA token, an infinity, a typo)."""
    import numpy as np

    try:
        numbers = np.array([NAN if v is None else float(v) for v in values], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    # `True in values` also matches 1 and 1.0: such a column takes the exact path, which is
    # right, only slower.
    if np.isinf(numbers).any() or True in values or False in values:
        return None
    return numbers


_ABSENT = object()


# --------------------------------------------------------------------------- checking a row


@dataclass(frozen=True)
class Problem:
    """One thing wrong (an error) or worth knowing (a warning) about a feature's value."""

    feature: str
    # missing | wrong_type | wrong_unit | not_finite | not_a_date | unseen_category | out_of_range
    code: str
    message: str
    value: Any = None
    expected: str | None = None
    allowed: tuple[str, ...] | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"feature": self.feature, "code": self.code, "message": self.message}
        if self.value is not None:
            out["value"] = (
                self.value if isinstance(self.value, str | int | float | bool) else str(self.value)
            )
        if self.expected is not None:
            out["expected"] = self.expected
        if self.allowed is not None:
            out["allowed"] = list(self.allowed)
        return out


def check_value(
    *,
    column: str,
    encoding: str,
    value: Any,
    datetime_format: str | None = None,
    categories: Sequence[str] = (),
    all_categories_known: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
    unit: str | None = None,
) -> tuple[Problem | None, Problem | None]:
    """(error, warning) for one value of one feature under the rule above.

    Args:
        column: the feature.
        encoding: its encoding.
        value: the raw value.
        datetime_format: the strptime format of a datetime feature.
        categories: the categories the model card lists (most frequent first).
        all_categories_known: whether `categories` holds every category the model learned.
        minimum, maximum: the training range of a numeric feature.
        unit: the unit a numeric feature's numbers were written with in training.
    """
    try:
        if encoding == "numeric":
            number = read_number(value, column, unit)
            if (
                minimum is not None
                and maximum is not None
                and number == number
                and not minimum <= number <= maximum
            ):
                return None, Problem(
                    column,
                    "out_of_range",
                    f"{column} = {number:g} is outside the training range "
                    f"{minimum:g} – {maximum:g}; the prediction may be unreliable",
                    value,
                )
        elif encoding == "boolean":
            read_boolean(value, column)
        elif encoding in ("onehot", "ordinal"):
            category = read_category(value, column)
            if category != MISSING_TOKEN and categories and category not in categories:
                shown = tuple(c for c in categories if c != MISSING_TOKEN)
                if all_categories_known:
                    listed = ", ".join(shown[:20]) + (" …" if len(shown) > 20 else "")
                    return Problem(
                        column,
                        "unseen_category",
                        f"'{category}' is not a value of '{column}' the model knows; "
                        f"allowed: {listed}",
                        value,
                        "one of the allowed values",
                        shown,
                    ), None
                return None, Problem(
                    column,
                    "unseen_category",
                    f"'{category}' is not among the most frequent values of '{column}'; "
                    "the model treats it as a rare value",
                    value,
                )
        elif encoding == "text":
            read_text(value, column)
        elif encoding == "datetime":
            read_datetime(value, column, datetime_format)
    except ValueProblem as problem:
        return Problem(column, problem.code, problem.message, value, problem.expected), None
    return None, None
