"""The busy-machine budget benchmark's busy processes, verdict and result names."""

from __future__ import annotations

import os

import pytest

from bench import budget_load


def pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_it_starts_the_busy_processes_and_ends_them_after_the_block():
    with budget_load.busy_processes(2) as processes:
        pids = [p.pid for p in processes]
        assert len(set(pids)) == 2
        assert all(p.poll() is None for p in processes)
        assert all(pid_exists(pid) for pid in pids)

    # Ended and reaped: no zombie is left to hold the pid.
    assert all(p.returncode is not None for p in processes)
    assert not any(pid_exists(pid) for pid in pids)


def test_it_ends_the_busy_processes_when_the_run_fails():
    with pytest.raises(RuntimeError), budget_load.busy_processes(1) as processes:
        raise RuntimeError("the job broke")

    (process,) = processes
    assert process.returncode is not None
    assert not pid_exists(process.pid)


def test_it_judges_the_busy_run_against_budget_times_1_15():
    quiet = {"score": 0.8, "seconds": 50.0}

    within = budget_load.budget_row("a", 100, 60, quiet, {"score": 0.8, "seconds": 69.0})
    over = budget_load.budget_row("a", 100, 60, quiet, {"score": 0.8, "seconds": 69.6})
    failed = budget_load.budget_row("a", 100, 60, quiet, {"score": None, "error": "boom"})

    assert within["quiet_ratio"] == pytest.approx(50 / 60)
    assert within["busy_ratio"] == pytest.approx(1.15)
    assert within["within"] is True
    assert over["within"] is False
    assert failed["busy_ratio"] is None and failed["within"] is None
    lines = budget_load.summary_lines([within, over, failed])
    assert lines[0] == "worst busy ratio 1.16 (a); bar busy <= 1.15 x budget: MISS"
    assert "FAILED a [busy]: boom" in lines


def test_a_run_on_other_datasets_never_overwrites_the_default_table():
    assert budget_load.results_stem(60) == "budget-load-60"
    assert budget_load.results_stem(60, "bike_sharing_hour,credit_card_default") == "budget-load-60"
    assert budget_load.results_stem(10, "iris") == "budget-load-10-only-iris"
    with pytest.raises(SystemExit):
        budget_load.parse_args(["--busy", "0"])
