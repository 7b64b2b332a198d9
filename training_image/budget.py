"""How the time budget is shared: the search gets what is left after everything else.

The budget is a promise: the whole job ends within it (plus PLAN_GRACE_SHARE, and a margin
for estimates that run high or low), also on a machine other work slows down. So every
decision is taken on time measured as the run goes, never on an estimate made at its start:
the search stops early enough to leave room for the work after it (fitting the chosen model
on the training rows, again on all rows, its ONNX export, evaluation, pickling and
reports), and that room is re-estimated after every trial. The fits are the search's own,
measured on its folds and scaled to the refit's rows; what cannot be measured before it runs
(the ONNX export, from the model's tree nodes; the evaluation and pickling, a fixed part)
is scaled by the machine's contention measured over the run so far (`Contention`); the
training report takes what the EDA report took.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

# Seconds kept free after the search for evaluation, the leakage check, pickling and reports,
# on top of the model-dependent refit and export time (final_model_seconds).
RESERVE_SECONDS = 1.5
RESERVE_BUDGET_SHARE = 0.03
# Refitting on all rows (training + test) fits 1 / 0.8 of the training rows.
ALL_ROWS_FACTOR = 1.25
# ONNX conversion and its check against the pickle: seconds per 1,000 tree nodes, plus a
# fixed part. Measured on diamonds and bike sharing (10-20k rows) on a shared 2-core machine:
# LightGBM 0.04-0.055 (its converter walks a text dump of the trees; aligning its thresholds
# for ONNX adds about 0.005), XGBoost 0.02-0.07, forests 0.012-0.03, slower when the machine
# is busy.
EXPORT_SECONDS_PER_KNODE = {"lgbm": 0.055, "xgboost": 0.03, "rf": 0.015, "extra_tree": 0.015}
EXPORT_BASE_SECONDS = 0.5
# Forests grow with the rows (unbounded leaves); boosted trees are bounded by their leaves.
NODES_GROW_WITH_ROWS = frozenset({"rf", "extra_tree"})
# The plan (search, ensemble, refit on all rows) may end this share of the budget past it:
# the job's target is the budget + 15 %, and the estimates after the search run high (the
# search's fits include FLAML's own probe fits; measured 20-30 % over the real refits on
# diamonds and credit card default), so planning to the budget alone left 10-20 % unused.
PLAN_GRACE_SHARE = 0.05
# The ensemble's members may take up to this share of the budget to refit and export; the
# search keeps that much free for the members the ensemble would choose so far.
ENSEMBLE_BUDGET_SHARE = 0.25


# Planning estimates: what a fit costs from the data's shape alone, so that the plan (which
# starting points, how many trees, which ensemble members) depends on the data and the
# settings only and comes out the same run after run; measured wall time then cuts the plan
# where the budget needs it. Seconds per tree, single-threaded, per million cells (fit rows x
# features) plus a fixed part, measured on this project's shared 2-core machine: LightGBM
# 0.019-0.022 s per Mcell at 31 leaves (about log2(leaves) levels of histograms, so 4 leaves
# cost 0.4 of that), XGBoost 0.024-0.036 at 64 leaves, extra trees 0.13-0.14 and random forests
# 0.6-1.2 with unbounded leaves (2k-50k rows, 10-40 features).
PLANNED_TREE_SECONDS_PER_MCELL = {"lgbm": 0.022, "xgboost": 0.036, "rf": 1.0, "extra_tree": 0.14}
PLANNED_TREE_BASE_SECONDS = {"lgbm": 0.0015, "xgboost": 0.004, "rf": 0.004, "extra_tree": 0.002}
PLANNED_REFERENCE_LEAVES = {"lgbm": 31, "xgboost": 64}
# Linear learners (logistic regression, lasso): a fit is a few passes over the cells.
PLANNED_LINEAR_SECONDS_PER_MCELL = 0.5
PLANNED_LINEAR_BASE_SECONDS = 0.01


def planned_tree_seconds(name: str, config: Mapping[str, Any], rows: int, features: int) -> float:
    """Planned seconds of one tree of learner `name` with `config`, fitted on rows x features."""
    cells = rows * max(1, features) / 1e6
    seconds = PLANNED_TREE_SECONDS_PER_MCELL.get(name, 0.05) * cells
    reference = PLANNED_REFERENCE_LEAVES.get(name)
    leaves = config.get("num_leaves", config.get("max_leaves"))
    if reference and leaves:
        seconds *= math.log2(int(leaves) + 1) / math.log2(reference + 1)
    return PLANNED_TREE_BASE_SECONDS.get(name, 0.002) + seconds


def planned_fit_seconds(name: str, config: Mapping[str, Any], rows: int, features: int) -> float:
    """Planned seconds of one fit of learner `name` with `config` on rows x features."""
    if name not in PLANNED_TREE_SECONDS_PER_MCELL:
        cells = rows * max(1, features) / 1e6
        return PLANNED_LINEAR_BASE_SECONDS + PLANNED_LINEAR_SECONDS_PER_MCELL * cells
    trees = int(config.get("n_estimators") or 100)
    return trees * planned_tree_seconds(name, config, rows, features)


class Member(Protocol):
    """What the estimates need to know about a model (an `oof.Candidate`)."""

    estimator: str
    config: Mapping[str, Any]  # its hyperparameters (n_estimators, num_leaves, ...)
    fit_seconds: float  # one fit on the training rows, measured
    nodes: int


def export_seconds(member: Member) -> float:
    """Seconds to convert a model to ONNX and check it (it counts tree nodes)."""
    nodes = member.nodes * (ALL_ROWS_FACTOR if member.estimator in NODES_GROW_WITH_ROWS else 1.0)
    return EXPORT_SECONDS_PER_KNODE.get(member.estimator, 0.12) * nodes / 1000


def member_seconds(member: Member, *, refit_all: bool) -> float:
    """Seconds to fit a model on the training rows, maybe again on all rows, and export it."""
    fits = member.fit_seconds * (1.0 + (ALL_ROWS_FACTOR if refit_all else 0.0))
    return fits + export_seconds(member)


def final_model_seconds(
    members: Sequence[Member], *, refit_all: bool, contention: float = 1.0
) -> float:
    """Model-dependent seconds after the search for a model made of `members`: its fits take
    what the search measured them to take (at the machine's pace), its export the estimate
    from its nodes times the `contention` measured now."""
    if not members:
        return 0.0
    fits = 1.0 + (ALL_ROWS_FACTOR if refit_all else 0.0)
    return sum(m.fit_seconds * fits for m in members) + export_estimate(members, contention)


def export_estimate(members: Sequence[Member], contention: float = 1.0) -> float:
    """Seconds to export a model made of `members` (from their nodes), at `contention`."""
    if not members:
        return 0.0
    return (EXPORT_BASE_SECONDS + sum(export_seconds(m) for m in members)) * contention


def planned_final_seconds(
    members: Sequence[Member], *, refit_all: bool, rows: int, features: int
) -> float:
    """`final_model_seconds` with each fit planned from the data's shape (rows x features of
    the training rows) instead of measured: the same members plan the same every run."""
    if not members:
        return 0.0
    fits = 1.0 + (ALL_ROWS_FACTOR if refit_all else 0.0)
    return EXPORT_BASE_SECONDS + sum(
        planned_fit_seconds(m.estimator, m.config, rows, features) * fits + export_seconds(m)
        for m in members
    )


# Below this many cells (rows x columns) one thread per model is faster: starting threads
# for a forest of small trees costs more than it saves (measured: 100 trees on 220 rows take
# 0.12 s on one thread, 0.17 s on two).
SINGLE_THREAD_CELLS = 200_000


def default_n_jobs(cells: int) -> int:
    if cells < SINGLE_THREAD_CELLS:
        return 1
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


# The most the contention may scale an estimate by (a machine this slow has other problems).
MAX_CONTENTION = 5.0


class Contention:
    """How much slower than a quiet machine this process runs now: wall-clock seconds per
    second of its own CPU time, over the run so far (1.0 on a quiet machine for the
    single-threaded work estimated from constants; 2.5 when two busy processes beside it
    share its core). Never below 1: a multi-threaded stretch spends more CPU than wall time.

    Args:
        clock: the run's wall clock (`time.monotonic`; a test may pass a slower one).
        cpu: this process's CPU time (`time.process_time`).
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        cpu: Callable[[], float] = time.process_time,
    ) -> None:
        self.clock = clock
        self.cpu = cpu
        self._wall0 = clock()
        self._cpu0 = cpu()

    def factor(self) -> float:
        wall = self.clock() - self._wall0
        cpu = self.cpu() - self._cpu0
        if wall <= 0 or cpu <= 0:
            return 1.0
        return min(MAX_CONTENTION, max(1.0, wall / cpu))
