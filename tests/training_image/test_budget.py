"""The time budget: what the search leaves for fitting and exporting the chosen model."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from training_image import budget


@dataclass
class Model:
    estimator: str
    fit_seconds: float
    nodes: int
    config: dict = field(default_factory=dict)


def test_it_counts_both_fits_and_the_export_of_each_member():
    lgbm = Model("lgbm", fit_seconds=2.0, nodes=50_000)
    forest = Model("rf", fit_seconds=1.0, nodes=100_000)

    once = budget.member_seconds(lgbm, refit_all=False)
    twice = budget.member_seconds(lgbm, refit_all=True)
    both = budget.final_model_seconds([lgbm, forest], refit_all=True)

    export = budget.EXPORT_SECONDS_PER_KNODE["lgbm"] * 50
    assert once == pytest.approx(2.0 + export)
    assert twice == pytest.approx(2.0 * (1 + budget.ALL_ROWS_FACTOR) + export)
    # A forest grows with the rows it is refitted on; its export does too.
    forest_export = budget.EXPORT_SECONDS_PER_KNODE["rf"] * 100 * budget.ALL_ROWS_FACTOR
    assert both == pytest.approx(
        budget.EXPORT_BASE_SECONDS + twice + 1.0 * (1 + budget.ALL_ROWS_FACTOR) + forest_export
    )
    assert budget.final_model_seconds([], refit_all=True) == 0.0


def test_it_uses_one_thread_on_small_data():
    assert budget.default_n_jobs(1_000) == 1
    assert budget.default_n_jobs(10 * budget.SINGLE_THREAD_CELLS) >= 1


def test_it_plans_a_fit_from_the_datas_shape_alone():
    small = budget.planned_fit_seconds("lgbm", {"n_estimators": 100}, 1_000, 10)
    twice_the_trees = budget.planned_fit_seconds("lgbm", {"n_estimators": 200}, 1_000, 10)
    big = budget.planned_fit_seconds("lgbm", {"n_estimators": 100}, 100_000, 10)
    shallow = budget.planned_fit_seconds(
        "lgbm", {"n_estimators": 100, "num_leaves": 4}, 100_000, 10
    )
    forest = budget.planned_fit_seconds("rf", {"n_estimators": 100}, 100_000, 10)
    linear = budget.planned_fit_seconds("lrl2", {"C": 1.0}, 100_000, 10)

    assert twice_the_trees == pytest.approx(2 * small)
    assert big > 10 * small  # a million cells per tree, against ten thousand
    assert shallow < big  # fewer levels of histograms
    assert forest > big > linear
    # The same shape plans the same, whatever the machine is doing.
    assert budget.planned_fit_seconds("lgbm", {"n_estimators": 100}, 1_000, 10) == small


def test_it_plans_the_final_model_like_it_measures_it_with_planned_fits():
    lgbm = Model("lgbm", fit_seconds=99.0, nodes=50_000, config={"n_estimators": 100})

    planned = budget.planned_final_seconds([lgbm], refit_all=True, rows=1_000, features=10)

    fit = budget.planned_fit_seconds("lgbm", lgbm.config, 1_000, 10)
    export = budget.export_seconds(lgbm)
    assert planned == pytest.approx(
        budget.EXPORT_BASE_SECONDS + fit * (1 + budget.ALL_ROWS_FACTOR) + export
    )
    assert budget.planned_final_seconds([], refit_all=True, rows=1, features=1) == 0.0


class FakeClock:
    """A clock a test moves by hand, or that moves `step` seconds each time it is read."""

    def __init__(self, now: float = 100.0, step: float = 0.0) -> None:
        self.now = now
        self.step = step

    def __call__(self) -> float:
        now = self.now
        self.now += self.step
        return now


def test_it_measures_the_machines_contention_as_the_run_goes():
    wall, cpu = FakeClock(), FakeClock(5.0)
    meter = budget.Contention(wall, cpu)

    assert meter.factor() == 1.0  # nothing measured yet
    wall.now += 10
    cpu.now += 10
    assert meter.factor() == pytest.approx(1.0)  # a quiet machine: all wall time was ours
    wall.now += 20
    cpu.now += 5  # two busy processes beside it: a third of a core for 20 s
    assert meter.factor() == pytest.approx(30 / 15)
    wall.now += 1_000
    assert meter.factor() == budget.MAX_CONTENTION
    quiet = budget.Contention(wall, cpu)
    wall.now += 1
    cpu.now += 2  # two threads: never faster than a quiet machine
    assert quiet.factor() == 1.0


def test_it_scales_the_export_estimate_and_not_the_measured_fits_by_the_contention():
    lgbm = Model("lgbm", fit_seconds=2.0, nodes=50_000)

    quiet = budget.final_model_seconds([lgbm], refit_all=True)
    busy = budget.final_model_seconds([lgbm], refit_all=True, contention=3.0)

    fits = 2.0 * (1 + budget.ALL_ROWS_FACTOR)
    assert busy - fits == pytest.approx(3 * (quiet - fits))
    assert budget.export_estimate([lgbm], 3.0) == pytest.approx(3 * (quiet - fits))
