"""The cost model: one price module (training_image/costs.py), the per-job estimate, and the
monthly table of deploy/README.md generated from it by bench/costs.py."""

from __future__ import annotations

import subprocess
import sys

import pytest
from cfnlint.decode import decode

from bench import costs as bench_costs
from training_image import costs

REPO = bench_costs.REPO


def template_parameters() -> dict:
    decoded, problems = decode(str(REPO / "deploy" / "automl-lite.yaml"))
    assert not problems
    return decoded["Parameters"]


# --------------------------------------------------------------------------- bad input first


@pytest.mark.parametrize("budget", [0, -30])
def test_a_job_cost_needs_a_positive_budget(budget):
    with pytest.raises(ValueError, match="positive number of seconds"):
        costs.job_cost_usd(budget)


def test_a_job_cost_refuses_a_budget_that_is_not_a_number():
    with pytest.raises(ValueError, match="positive number of seconds"):
        costs.job_cost_usd(float("nan"))


def test_the_monthly_table_refuses_unknown_variants_and_negative_job_counts():
    with pytest.raises(ValueError, match="runtime is one of"):
        bench_costs.monthly_usd("kubernetes", "spot", 0)
    with pytest.raises(ValueError, match="zero or more jobs"):
        bench_costs.monthly_usd("lambda", "spot", -1)


# --------------------------------------------------------------------------- the per-job estimate


def test_a_job_costs_its_billed_seconds_at_fargates_rates_and_its_extra_disk():
    seconds = 600 + costs.RUN_OVERHEAD_SECONDS
    vcpu_hour, gb_hour = costs.hourly(costs.ON_DEMAND_PRICES)
    by_hand = seconds / 3600 * (2 * vcpu_hour + 8 * gb_hour + (50 - 20) * 0.000111)

    assert (vcpu_hour, gb_hour) == pytest.approx((0.04048, 0.004445))
    assert costs.job_cost_usd(600, spot=False) == pytest.approx(by_hand)


def test_a_spot_job_is_the_estimate_the_app_shows_plus_its_disk():
    disk = costs.job_seconds(300) / 3600 * 30 * costs.FARGATE_STORAGE_GB_HOUR_USD

    assert costs.job_cost_usd(300) == pytest.approx(costs.estimated_cost_usd(300) + disk)
    assert costs.hourly(costs.Prices()) == pytest.approx((0.01334058, 0.00146489))
    assert costs.job_cost_usd(300) < costs.job_cost_usd(300, spot=False)


def test_fargate_bills_at_least_a_minute():
    assert costs.run_cost_usd(5) == costs.run_cost_usd(60)
    assert costs.run_cost_usd(120) == pytest.approx(2 * costs.run_cost_usd(60))


def test_a_longer_budget_costs_proportionally_more():
    short, long = costs.job_cost_usd(120), costs.job_cost_usd(3600)

    assert long / short == pytest.approx(costs.job_seconds(3600) / costs.job_seconds(120))


def test_the_estimates_container_is_the_templates_default_training_container():
    parameters = template_parameters()

    assert float(parameters["TrainingVcpu"]["Default"]) == costs.TASK_VCPUS
    assert float(parameters["TrainingMemory"]["Default"]) == costs.TASK_MEMORY_GB * 1024
    assert int(parameters["TrainingEphemeralStorage"]["Default"]) == costs.TASK_STORAGE_GB


# --------------------------------------------------------------------------- the monthly table


def test_the_tables_spot_training_line_is_the_apps_estimate():
    (spot,) = [i for i in bench_costs.items() if i.per_job and i.capacity == "spot"]

    assert spot.usd == costs.estimated_cost_usd(bench_costs.DEFAULT_BUDGET)
    assert "the estimate the app shows" in spot.name


def test_each_job_adds_the_same_per_job_lines_to_every_month():
    for runtime in bench_costs.RUNTIMES:
        for capacity in bench_costs.CAPACITIES:
            idle = bench_costs.monthly_usd(runtime, capacity, 0)
            per_job = sum(
                i.usd
                for i in bench_costs.items()
                if i.per_job and bench_costs.applies(i, runtime, capacity)
            )
            assert bench_costs.monthly_usd(runtime, capacity, 100) == pytest.approx(
                idle + 100 * per_job
            )
            expected = costs.job_cost_usd(bench_costs.DEFAULT_BUDGET, spot=capacity == "spot")
            assert expected < per_job


def test_idle_lambda_costs_less_than_idle_ecs_and_spot_never_more_than_on_demand():
    assert bench_costs.monthly_usd("lambda", "spot", 0) < bench_costs.monthly_usd("ecs", "spot", 0)
    for runtime in bench_costs.RUNTIMES:
        for jobs in bench_costs.JOB_COUNTS:
            assert bench_costs.monthly_usd(runtime, "spot", jobs) <= bench_costs.monthly_usd(
                runtime, "on-demand", jobs
            )


def test_the_readme_table_is_what_bench_costs_prints():
    printed = subprocess.run(
        [sys.executable, str(REPO / "bench" / "costs.py")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    readme = (REPO / "deploy" / "README.md").read_text()

    assert bench_costs.readme_section(readme) == printed
    idle = bench_costs.monthly_usd("lambda", "spot", 0)
    assert f"| idle (no jobs), per month | ${idle:,.2f} |" in printed
