"""The time budget: what the search leaves for fitting and exporting the chosen model."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from training_image import budget


@dataclass
class Model:
    estimator: str
    fit_seconds: float
    nodes: int


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
