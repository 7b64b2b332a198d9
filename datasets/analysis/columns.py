"""Per-column plans (how to parse) and accumulators (what to count), chunk by chunk.

A plan starts from the first chunk (see `infer_plans`) and is proven on every
chunk after it: a value that does not fit raises `Replan`, and the scan starts
over with the column read as the next more general type (integer -> float ->
text). Every statistic is mergeable across chunks, so memory does not grow with
the file: counts, sums, min/max, Chan's mean/variance, exact value counts while
a column has few distinct values, then a distinct-hash sample (see
`DistinctSketch`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from training_image import detection
from training_image.detection import (
    DATETIME_FORMATS,
    DATETIME_MIN_SHARE,
    DATETIME_SAMPLE,
    NA_TOKENS,
    ColumnProfile,
    Family,
)

NA_LIST = sorted(NA_TOKENS)

# A column keeps exact value counts (and so its top values) while it has at most this many
# distinct values; above that, distinct values are counted through DistinctSketch.
MAX_COUNTED_VALUES = 1_000
TOP_VALUES = 10
SAMPLE_VALUES = 100  # as the container (code-likeness of ID columns)
HASH_SEED = 0x5EED

# The container's date formats (training_image/data.py DATETIME_FORMATS, strptime style),
# in the same order, spelled for polars (chrono writes ".%f" as "%.f"), derived from the one
# list in detection.py.
DATE_FORMATS = tuple(f.replace(".%f", "%.f") for f in DATETIME_FORMATS)
# As the container: a format is chosen when it parses this share of up to DATE_SAMPLE
# distinct values; a date column may hold a few unparseable cells (they read as invalid).
DATE_SAMPLE = DATETIME_SAMPLE
DATE_MIN_SHARE = DATETIME_MIN_SHARE
_DATE_SHAPE = r"^(\d{1,4}[-/.]\d{1,2}|\d{1,2} [A-Za-z]{3}|[A-Za-z]{3,9} \d{1,2},|\d{8}T\d{6}$)"


class Replan(Exception):
    """A value contradicted a column's plan; rescan with `family` for that column."""

    def __init__(self, name: str, family: Family) -> None:
        super().__init__(f"{name} -> {family}")
        self.name = name
        self.family = family


@dataclass
class ColumnPlan:
    name: str
    family: Family  # INTEGER, FLOAT, BOOLEAN, DATETIME, STRING, or EMPTY (nothing seen yet)
    date_format: str | None = None
    # The one NA token this numeric column uses ("NA", "?"): polars' parser nulls it cheaply.
    null_token: str | None = None
    # Parse as text and convert in an expression: the column holds padded numbers, padded
    # NA tokens or other values polars' typed parser refuses (and we may still accept).
    cast: bool = False
    # FLOAT columns of numbers written with a unit ("23.4 kmpl"; `detection.common_unit`).
    unit: str | None = None

    @property
    def parse_dtype(self) -> pl.DataType:
        if self.cast:
            return pl.String()
        return {
            Family.INTEGER: pl.Int64(),
            Family.FLOAT: pl.Float64(),
            Family.BOOLEAN: pl.Boolean(),
        }.get(self.family, pl.String())


def clean_text(raw: pl.Expr) -> pl.Expr:
    """Text with surrounding spaces removed and NA tokens (padded ones too) as null."""
    stripped = raw.str.strip_chars()
    return pl.when(stripped.is_in(NA_LIST)).then(None).otherwise(stripped)


def _number_in_unit(text: pl.Expr, unit: str) -> pl.Expr:
    """The number of text written in `unit` or bare, else null: `features.read_number` with a
    unit, in polars (the decimal mark is a point: the unit rule has no other)."""
    groups = text.str.extract_groups(detection.UNIT_PATTERN)
    written = pl.coalesce(groups.struct.field("1"), groups.struct.field("4"))
    number = pl.coalesce(groups.struct.field("2"), groups.struct.field("3"))
    bare = text.cast(pl.Float64, strict=False)
    value = (
        pl.when(bare.is_not_null())
        .then(bare)
        .when(written.str.to_lowercase() == unit.lower())
        .then(number.cast(pl.Float64, strict=False))
    )
    return pl.when(value.is_finite()).then(value)  # an infinity or NaN is refused: missing


def _as_float(text: pl.Expr, decimal: str) -> pl.Expr:
    if decimal == ",":
        text = text.str.replace(",", ".", literal=True)
    return text.cast(pl.Float64, strict=False)


def infer_plans(cleaned: pl.DataFrame, decimal: str) -> list[ColumnPlan]:
    """Plans from the first chunk's text (stripped, NA as null): the narrowest type that fits."""
    exprs: list[pl.Expr] = []
    for i, name in enumerate(cleaned.columns):
        text = pl.col(name)
        exprs += [
            text.is_not_null().sum().alias(f"{i}:present"),
            text.cast(pl.Int64, strict=False).is_not_null().sum().alias(f"{i}:int"),
            _as_float(text, decimal).is_not_null().sum().alias(f"{i}:float"),
            text.str.to_lowercase().is_in(["true", "false"]).sum().alias(f"{i}:bool"),
        ]
    counts = cleaned.select(exprs).row(0, named=True) if exprs else {}
    plans = []
    for i, name in enumerate(cleaned.columns):
        present = counts[f"{i}:present"]
        if present == 0:
            family = Family.EMPTY
        elif counts[f"{i}:int"] == present:
            family = Family.INTEGER
        elif counts[f"{i}:float"] == present:
            family = Family.FLOAT
        elif counts[f"{i}:bool"] == present:
            family = Family.BOOLEAN
        else:
            family = Family.STRING
        plans.append(ColumnPlan(name, family))
    # Every date format starts with digits and a separator, or a month name: one vectorised
    # look at each text column's first values spares the format trials for the rest.
    text_plans = [plan for plan in plans if plan.family == Family.STRING]
    if text_plans:
        shaped = (
            cleaned.head(DATE_SAMPLE)
            .select(
                [
                    pl.col(p.name).drop_nulls().str.contains(_DATE_SHAPE).mean().alias(p.name)
                    for p in text_plans
                ]
            )
            .row(0, named=True)
        )
        for plan in text_plans:
            share = shaped[plan.name] or 0.0
            if share >= DATE_MIN_SHARE and (fmt := _date_format(cleaned.get_column(plan.name))):
                plan.family, plan.date_format = Family.DATETIME, fmt
    for plan in plans:
        column = cleaned.get_column(plan.name)
        if plan.family == Family.STRING:
            # Numbers written with a unit, decided on the first present values as the container
            # decides (training_image/data.py); the whole file is checked as it is counted.
            sample = column.drop_nulls().head(detection.UNIT_SAMPLE).to_list()
            unit = detection.common_unit(*detection.unit_counts(sample))
            if unit is not None:
                plan.family, plan.unit, plan.cast = Family.FLOAT, unit, True
        elif plan.family == Family.INTEGER and _compact_dates(column):
            plan.family, plan.date_format = Family.DATETIME, detection.COMPACT_DATE_FORMAT
    return plans


def _compact_dates(text: pl.Series) -> bool:
    """Whole numbers like 20141013 that are dates, decided on the first distinct ones as the
    container decides (training_image/data.py); the rest of the file is counted as it comes."""
    numbers = text.drop_nulls().cast(pl.Int64, strict=False).drop_nulls()
    sample = numbers.unique(maintain_order=True).head(DATE_SAMPLE)
    if sample.is_empty() or not detection.compact_date_candidates(sample.min(), sample.max()):
        return False
    parsed = sample.cast(pl.String).str.to_datetime(detection.COMPACT_DATE_FORMAT, strict=False)
    return 1 - parsed.null_count() / sample.len() >= DATE_MIN_SHARE


def _date_format(text: pl.Series) -> str | None:
    """The first format parsing DATE_MIN_SHARE of the column's first distinct values."""
    sample = text.drop_nulls().unique(maintain_order=True).head(DATE_SAMPLE)
    if sample.is_empty() or not sample.str.contains(r"\d").all():
        return None
    if sample.str.len_chars().max() > 40:
        return None
    for fmt in DATE_FORMATS:
        parsed = sample.str.to_datetime(fmt, strict=False)
        if 1 - parsed.null_count() / sample.len() >= DATE_MIN_SHARE:
            return fmt
    return None


class DistinctSketch:
    """Distinct values counted through their 64-bit hashes, in bounded memory.

    Exact (up to hash collisions, ~1e-9 here) while there are at most `capacity`
    distinct values. Beyond that it keeps only hashes below a threshold that halves
    as needed (adaptive distinct sampling, as in KMV sketches): the estimate is
    kept / (threshold / 2**64), with a relative standard error of about
    1 / sqrt(capacity / 2) = 0.55 % for the default capacity. The hashes live in
    polars UInt64 series (no numpy: it would add ~12 MB to the worker's memory).
    """

    def __init__(self, capacity: int = 65_536) -> None:
        self.capacity = capacity
        self.hashes = pl.Series("hash", [], dtype=pl.UInt64)  # distinct
        self.threshold: int | None = None  # None: every hash is kept (exact)
        self._pending: list[pl.Series] = []
        self._pending_size = 0

    def add(self, hashes: pl.Series) -> None:
        """Add a chunk's hashes (UInt64, repeats allowed).

        They are only buffered: deduplicating the buffer with the kept hashes once every
        `capacity` new hashes costs far less than a lookup for every chunk.
        """
        if hashes.len():
            self._pending.append(hashes.rename("hash"))
            self._pending_size += hashes.len()
            if self._pending_size >= self.capacity:
                self._merge()

    def _merge(self) -> None:
        if not self._pending:
            return
        merged = pl.concat([self.hashes, *self._pending]).unique()
        if self.threshold is not None:
            merged = merged.filter(merged < self.threshold)
        if merged.len() > self.capacity:
            # Only the sampling needs order (the k smallest hashes); exact counting does not.
            merged = merged.sort()
            while merged.len() > self.capacity:
                keep = merged.len() // 2
                self.threshold = int(merged[keep])
                merged = merged.head(keep)
        self.hashes = merged
        self._pending, self._pending_size = [], 0

    def estimate(self) -> tuple[int, bool]:
        """(distinct count, exact?)."""
        self._merge()
        if self.threshold is None:
            return self.hashes.len(), True
        return round(self.hashes.len() * (2.0**64) / float(self.threshold)), False


@dataclass
class ColumnStats:
    """Everything counted about one column so far."""

    plan: ColumnPlan
    missing: int = 0
    # Chan et al.'s parallel mean/variance: count, mean, sum of squared deviations.
    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    minimum: Any = None
    maximum: Any = None
    non_integral: int = 0
    step_breaks: int = 0  # integer columns: places where value != previous + 1
    last_value: Any = None
    text_length: int = 0
    numeric_text: int = 0  # EMPTY plans: present values that read as numbers
    invalid: int = 0  # DATETIME plans: present cells that are not dates
    counts: dict[Any, int] | None = field(default_factory=dict)
    sketch: DistinctSketch | None = None
    samples: list[str] = field(default_factory=list)
    strip: bool = False  # dates: convert stripped text, NA tokens removed (some cells need it)

    # ------------------------------------------------------------------ expressions
    #
    # Each chunk is evaluated in two steps: `value_exprs` add the parsed values as
    # column `v<key>` (and, where text is converted, `t<key>`: "some text was present"),
    # then `scalar_exprs` and `distinct_exprs` aggregate those, so no conversion runs twice.

    def expr_key(self, *, as_text: bool) -> tuple[object, ...]:
        """What this column's chunk expressions depend on (`as_text` first)."""
        threshold = None if self.sketch is None else self.sketch.threshold
        settled = (self.non_integral > 0, self.step_breaks > 0)
        return (as_text, self.strip, self.counts is None, threshold, settled)

    def value_exprs(self, key: str, decimal: str, *, as_text: bool) -> list[pl.Expr]:
        """Expressions adding `v<key>` (and helpers) for a chunk.

        Args:
            key: the column's position, as text.
            decimal: the dialect's decimal mark.
            as_text: the chunk holds this column as text (the parser refused a typed
                read), whatever `plan.cast` says now: the parse of the next chunk runs
                on another thread and may flip it.
        """
        plan = self.plan
        raw = pl.col(plan.name)
        cast = as_text and plan.family in (Family.INTEGER, Family.FLOAT, Family.BOOLEAN)
        if plan.family == Family.DATETIME:
            # Raw text first; NA tokens or padding make conversions fail, and a failing
            # chunk is redone with the stripped text (`strip` then stays on).
            text = clean_text(raw) if self.strip else raw
            # No cache: most timestamps are distinct, and caching them costs more than parsing.
            value = text.str.to_datetime(plan.date_format, strict=False, cache=False)
        elif plan.unit is not None:
            text = clean_text(raw)
            value = _number_in_unit(text, plan.unit)
        elif plan.family in (Family.STRING, Family.EMPTY):
            # Text is compared stripped, NA tokens and blank cells missing (as the container
            # reads it). Hashed values are cleaned per row; counted values are cleaned once
            # per distinct value when the counts are settled (settle_text_counts), far cheaper.
            text = raw
            value = clean_text(raw) if self.counts is None else raw
        elif not cast:
            text = raw
            value = raw.fill_nan(None) if plan.family == Family.FLOAT else raw
        else:
            text = clean_text(raw)
            if plan.family == Family.BOOLEAN:
                lowered = text.str.to_lowercase()
                value = pl.when(lowered == "true").then(True).when(lowered == "false").then(False)
            elif plan.family == Family.INTEGER:
                value = text.cast(pl.Int64, strict=False)
            else:
                value = _as_float(text, decimal).fill_nan(None)
        exprs = [value.alias(f"v{key}")]
        if plan.family == Family.EMPTY:
            # Blank in the first chunk: are the values further down numbers after all?
            exprs.append(_as_float(clean_text(raw), decimal).is_not_null().alias(f"n{key}"))
        if cast or plan.family == Family.DATETIME or plan.unit is not None:
            exprs.append(text.is_not_null().alias(f"t{key}"))
            if plan.family == Family.INTEGER:
                exprs.append(_as_float(text, decimal).is_not_null().alias(f"f{key}"))
        return exprs

    def scalar_exprs(self, key: str, columns: set[str]) -> list[pl.Expr]:
        """Aggregates of the chunk's `v<key>` (and `t<key>` where text was converted)."""
        plan = self.plan
        v = pl.col(f"v{key}")
        exprs = [v.null_count().alias(f"{key}:missing")]
        if f"t{key}" in columns:
            # Present text that did not convert: the plan is wrong for this column.
            text = pl.col(f"t{key}")
            exprs.append((text & v.is_null()).sum().alias(f"{key}:fails"))
            if f"f{key}" in columns:
                exprs.append((text & ~pl.col(f"f{key}")).sum().alias(f"{key}:notfloat"))
        if plan.family in (Family.INTEGER, Family.FLOAT):
            exprs += [
                v.min().alias(f"{key}:min"),
                v.max().alias(f"{key}:max"),
                v.mean().alias(f"{key}:mean"),
                v.var(ddof=0).alias(f"{key}:var"),
            ]
            # Whole numbers only, integers in steps of one: once a value says no, the
            # answer stays no, and the check is dropped for the rest of the file.
            if plan.family == Family.FLOAT and not self.non_integral:
                exprs.append((v != v.round(0)).sum().alias(f"{key}:nonint"))
            elif plan.family == Family.INTEGER and not self.step_breaks:
                exprs += [
                    (v.diff() != 1).sum().alias(f"{key}:breaks"),
                    v.first().alias(f"{key}:first"),
                    v.last().alias(f"{key}:last"),
                ]
        elif plan.family == Family.DATETIME:
            exprs += [v.min().alias(f"{key}:min"), v.max().alias(f"{key}:max")]
        elif plan.family == Family.BOOLEAN:
            exprs.append(v.sum().alias(f"{key}:true"))
        else:
            exprs.append(v.str.len_chars().sum().alias(f"{key}:length"))
            if plan.family == Family.EMPTY:
                exprs.append(pl.col(f"n{key}").sum().alias(f"{key}:numeric"))
        return exprs

    def distinct_exprs(self, key: str) -> list[pl.Expr]:
        """Value counts (`<key>:counts`, structs of value and `__n`) while counting exactly,
        else the hashes of present values (`<key>:hashes`); one row each, as lists."""
        if self.plan.family == Family.BOOLEAN:
            return []  # two values at most: the true count says it all
        v = pl.col(f"v{key}").drop_nulls()
        if self.counts is not None:
            # One list of structs: splitting it into two lists would count the values twice.
            return [v.value_counts(name="__n").implode().alias(f"{key}:counts")]
        h = v.hash(HASH_SEED)
        if self.sketch is not None and self.sketch.threshold is not None:
            # Sampling: only hashes under the threshold matter (few, so no dedupe needed).
            below = h < pl.lit(self.sketch.threshold, dtype=pl.UInt64)
            return [h.filter(below).implode().alias(f"{key}:hashes")]
        # Exact phase: dedupe per chunk, so repeated values fill the sketch's buffer slowly.
        return [h.unique().implode().alias(f"{key}:hashes")]

    # ------------------------------------------------------------------ updates

    def needs_strip(self, row: dict[str, Any], key: str) -> bool:
        """True when dates failed to convert from raw text: redo the chunk stripped."""
        return not self.strip and bool(row.get(f"{key}:fails"))

    def update(self, row: dict[str, Any], key: str, rows: int) -> None:
        plan = self.plan
        missing = row[f"{key}:missing"]
        fails = row.get(f"{key}:fails") or 0
        if fails and plan.family == Family.DATETIME:
            # Present but not a date: counted apart (finish() decides if there are too many).
            self.invalid += fails
            missing -= fails
        elif fails and plan.unit is not None:
            # Not a number in the unit: missing to the model (the container reads it as NaN),
            # counted apart too (finish() decides if there are too many).
            self.invalid += fails
        elif fails:
            if plan.family == Family.INTEGER and not row.get(f"{key}:notfloat"):
                raise Replan(plan.name, Family.FLOAT)
            raise Replan(plan.name, Family.STRING)
        self.missing += missing
        present = rows - missing
        if plan.family in (Family.INTEGER, Family.FLOAT) and present:
            self._merge_moments(present, row[f"{key}:mean"], row[f"{key}:var"])
            self.minimum = _lesser(self.minimum, row[f"{key}:min"])
            self.maximum = _greater(self.maximum, row[f"{key}:max"])
            if f"{key}:nonint" in row:
                self.non_integral += row[f"{key}:nonint"]
            if f"{key}:breaks" in row:
                # diff() is null on the chunk's first row (not counted): check the seam here.
                self.step_breaks += row[f"{key}:breaks"]
                first = row[f"{key}:first"]
                if self.last_value is not None and (first is None or first != self.last_value + 1):
                    self.step_breaks += 1
                self.last_value = row[f"{key}:last"]
        elif plan.family == Family.DATETIME and present:
            self.n += present - fails
            self.minimum = _lesser(self.minimum, row[f"{key}:min"])
            self.maximum = _greater(self.maximum, row[f"{key}:max"])
        elif plan.family == Family.BOOLEAN:
            self.n += present
            trues = row[f"{key}:true"] or 0
            assert self.counts is not None
            self.counts[True] = self.counts.get(True, 0) + trues
            self.counts[False] = self.counts.get(False, 0) + present - trues
        elif plan.family in (Family.STRING, Family.EMPTY):
            self.n += present
            self.text_length += row[f"{key}:length"] or 0
            self.numeric_text += row.get(f"{key}:numeric") or 0

    def _merge_moments(self, n: int, mean: float, var: float) -> None:
        if mean is None:
            return
        total = self.n + n
        delta = mean - self.mean
        self.mean += delta * n / total
        self.m2 += var * n + delta * delta * self.n * n / total
        self.n = total

    def update_counts(self, counted: list[dict[str, Any]], key: str) -> None:
        """Merge one chunk's value counts (then hash them, past MAX_COUNTED_VALUES)."""
        assert self.counts is not None
        name = f"v{key}"
        for pair in counted:
            value = pair[name]
            self.counts[value] = self.counts.get(value, 0) + pair["__n"]
        if len(self.counts) > MAX_COUNTED_VALUES:
            self._switch_to_sketch()

    def update_hashes(self, hashes: pl.Series) -> None:
        """Merge one chunk's value hashes into the sketch."""
        assert self.sketch is not None
        self.sketch.add(hashes)

    def settle_text_counts(self) -> None:
        """Counted text values: strip them, merge equal ones, move NA tokens to `missing`."""
        if self.counts is None or self.plan.family not in (Family.STRING, Family.EMPTY):
            return
        merged: dict[Any, int] = {}
        for value, count in self.counts.items():
            stripped = value.strip()
            self.text_length -= (len(value) - len(stripped)) * count
            if stripped in NA_TOKENS:
                self.missing += count
                self.n -= count
                self.text_length -= len(stripped) * count
                continue
            merged[stripped] = merged.get(stripped, 0) + count
        self.counts = merged

    def finish(self) -> None:
        """Settle what is counted lazily; call once after the last chunk.

        Raises:
            Replan: a date column with too many cells that are not dates.
        """
        self.settle_text_counts()
        if self.plan.family == Family.DATETIME and self.invalid > (1 - DATE_MIN_SHARE) * (
            self.n + self.invalid
        ):
            # Dates read from whole numbers (20141013) go back to being numbers.
            compact = self.plan.date_format == detection.COMPACT_DATE_FORMAT
            raise Replan(self.plan.name, Family.INTEGER if compact else Family.STRING)
        if self.plan.unit is not None and not detection.reads_as_numbers(
            self.n, self.n + self.invalid
        ):
            raise Replan(self.plan.name, Family.STRING)

    def _switch_to_sketch(self) -> None:
        assert self.counts is not None
        self.settle_text_counts()
        dtype = {Family.INTEGER: pl.Int64, Family.FLOAT: pl.Float64}.get(self.plan.family)
        if self.plan.family in (Family.STRING, Family.EMPTY):
            dtype = pl.String
        # Datetimes keep the type polars infers from the values (time zone included).
        keys = pl.Series(list(self.counts), dtype=dtype)
        self.sketch = DistinctSketch()
        self.sketch.add(keys.hash(HASH_SEED))
        self.counts = None

    def start_sketch(self) -> None:
        """Count distinct values by hash from the start (the first chunk was high-cardinality)."""
        if self.plan.family != Family.BOOLEAN:
            self.counts = None
            self.sketch = DistinctSketch()

    def add_samples(self, values: pl.Series) -> None:
        """The first present values (stripped text), as the container samples them."""
        self.samples = [str(v) for v in values.drop_nulls().head(SAMPLE_VALUES).to_list()]

    # ------------------------------------------------------------------ results

    def distinct(self) -> tuple[int, bool]:
        if self.counts is not None:
            return sum(1 for n in self.counts.values() if n), True
        assert self.sketch is not None
        count, exact = self.sketch.estimate()
        return max(1, min(count, self.n)), exact

    def family(self) -> Family:
        """The family the container's loader gives the column (training_image/data.py)."""
        if self.plan.family == Family.EMPTY or not self.n:
            return Family.EMPTY if not self.n else Family.STRING
        return self.plan.family

    def profile(self, rows: int) -> ColumnProfile:
        family = self.family()
        unique, _ = self.distinct() if self.n else (0, True)
        numeric = family in (Family.INTEGER, Family.FLOAT)
        return ColumnProfile(
            name=self.plan.name,
            family=family,
            n_rows=rows,
            n_unique=unique,
            n_missing=self.missing,
            sample_values=self.samples,
            all_integral=(self.plan.family == Family.INTEGER or self.non_integral == 0)
            if numeric
            else None,
            mean_length=(self.text_length / self.n)
            if self.n and self.plan.family in (Family.STRING, Family.EMPTY)
            else None,
            is_monotonic_step=(
                self.plan.family == Family.INTEGER
                and not self.missing
                and self.n > 1
                and self.step_breaks == 0
            ),
            unit=self.plan.unit,
        )

    def top_values(self, limit: int = TOP_VALUES) -> list[dict[str, Any]] | None:
        if self.counts is None or not self.n:
            return None
        ranked = sorted(
            ((v, n) for v, n in self.counts.items() if n), key=lambda item: (-item[1], str(item[0]))
        )
        return [
            {"value": _display(v), "count": n, "pct": round(100.0 * n / self.n, 2)}
            for v, n in ranked[:limit]
        ]

    def std(self) -> float | None:
        return math.sqrt(self.m2 / (self.n - 1)) if self.n > 1 else None


def _lesser(a: Any, b: Any) -> Any:
    if a is None:
        return b
    return a if b is None or a <= b else b


def _greater(a: Any, b: Any) -> Any:
    if a is None:
        return b
    return a if b is None or a >= b else b


def _display(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
