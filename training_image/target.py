"""The target column: problem type, labels, usable rows, and the train/test split.

Every way a target can be unusable ends in a DataError whose message says what to change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from training_image import detection
from training_image.data import ColumnInfo
from training_image.detection import Family
from training_image.errors import DataError

TEST_SHARE = 0.2
MIN_ROWS = 10
MAX_CLASSES = 100
RARE_CLASS_ROWS = 5  # classes with fewer rows all go to training (a test row each would be noise)


@dataclass
class Target:
    problem_type: str
    y: np.ndarray  # label codes (classification) or float values, for the kept rows
    classes: list[Any] | None
    keep: np.ndarray  # boolean mask over the frame's rows
    missing_dropped: int
    warnings: list[str]


def prepare_target(
    df: pd.DataFrame, target: str, info: ColumnInfo, requested: str | None
) -> Target:
    """Problem type, labels and the rows that can be used; clear errors when none can."""
    values = df[target]
    present = values.notna().to_numpy()
    missing = int((~present).sum())
    warnings: list[str] = []
    if missing == len(values):
        raise DataError(f"The target column '{target}' has no values: every row is empty.")
    if missing:
        warnings.append(
            f"{missing:,} row(s) without a value in '{target}' were left out of training."
        )
    detected = detection.problem_type(info.profile)
    numeric = info.profile.family in (Family.INTEGER, Family.FLOAT)
    if requested is None:
        if detected is None:
            raise DataError(_not_a_target_message(target, info))
        problem_type = detected
    else:
        problem_type = requested
        if problem_type == "regression" and not numeric:
            example = values.dropna().iloc[0]
            raise DataError(
                f"Regression needs a numeric target, but '{target}' holds text such as "
                f"'{example}'. Choose classification, or a numeric target."
            )
    keep = present.copy()
    if problem_type == "regression":
        y_all = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64")
        finite = np.isfinite(np.where(present, y_all, np.nan))
        keep &= finite
        if keep.sum() < MIN_ROWS:
            raise DataError(f"Only {int(keep.sum())} usable rows: at least {MIN_ROWS} are needed.")
        if np.unique(y_all[keep]).size < 2:
            raise DataError(f"The target '{target}' has a single value: there is nothing to learn.")
        return Target(problem_type, y_all[keep], None, keep, missing, warnings)

    labels = values[keep]
    counts = labels.value_counts()
    if len(counts) > MAX_CLASSES:
        raise DataError(
            f"'{target}' has {len(counts):,} distinct values, too many classes (at most "
            f"{MAX_CLASSES}). If it is a quantity, choose regression."
        )
    single = counts[counts < 2]
    if len(single):
        shown = ", ".join(f"'{v}'" for v in single.index[:5])
        more = f" and {len(single) - 5} more" if len(single) > 5 else ""
        warnings.append(
            f"Class {shown}{more} of '{target}' has a single row, so it was left out: a model "
            "cannot learn or be tested on one example. Add more rows of it to include it."
        )
        keep &= ~values.isin(single.index).to_numpy()
        labels = values[keep]
        counts = counts[counts >= 2]
    if len(counts) < 2:
        raise DataError(
            f"The target '{target}' needs at least two classes with two or more rows each; "
            f"it has {len(counts)}."
        )
    n_classes = len(counts)
    if requested == "binary" and n_classes != 2:
        raise DataError(
            f"Binary classification needs exactly two classes, but '{target}' has "
            f"{n_classes}. Choose multiclass."
        )
    problem_type = "binary" if n_classes == 2 else "multiclass"
    if requested is not None and requested != problem_type:
        warnings.append(f"'{target}' has {n_classes} classes, so the job ran as {problem_type}.")
    if keep.sum() < MIN_ROWS:
        raise DataError(f"Only {int(keep.sum())} usable rows: at least {MIN_ROWS} are needed.")
    classes = sorted(counts.index.tolist())
    code_of = {label: i for i, label in enumerate(classes)}
    y = np.asarray([code_of[v] for v in labels], dtype=np.int64)
    return Target(problem_type, y, [_plain(c) for c in classes], keep, missing, warnings)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _not_a_target_message(target: str, info: ColumnInfo) -> str:
    p = info.profile
    if p.n_unique < 2:
        return f"The target '{target}' has a single value: there is nothing to learn."
    if p.family == Family.DATETIME:
        return f"The target '{target}' holds dates; choose a category or a number to predict."
    return (
        f"The target '{target}' looks like free text or an identifier ({p.n_unique:,} distinct "
        "values): choose a column with categories or numbers to predict."
    )


def split_rows(y: np.ndarray, *, classification: bool, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train and test row positions: 80/20, stratified; rare classes stay in training."""
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(y))
    if not classification:
        train, test = train_test_split(rows, test_size=TEST_SHARE, random_state=seed)
        return np.sort(train), np.sort(test)
    counts = np.bincount(y)
    rare = np.isin(y, np.flatnonzero(counts < RARE_CLASS_ROWS))
    common = rows[~rare]
    n_classes = len(np.unique(y[common]))
    test_size = max(int(round(TEST_SHARE * len(common))), n_classes)
    if len(common) - test_size < n_classes or n_classes < 2:
        train, test = train_test_split(rows, test_size=TEST_SHARE, random_state=seed)
        return np.sort(train), np.sort(test)
    train, test = train_test_split(
        common, test_size=test_size, random_state=seed, stratify=y[common]
    )
    return np.sort(np.concatenate([train, rows[rare]])), np.sort(test)


def balanced_weights(y: np.ndarray) -> np.ndarray:
    counts = np.bincount(y)
    return (len(y) / (len(counts) * counts))[y]
