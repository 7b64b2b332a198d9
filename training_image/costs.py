"""What a training run costs on AWS Fargate Spot: the one definition of the prices and the
arithmetic, for the web (estimates before a run, costs after), the deploy README and any
later cost benchmark. Pure standard library, like the contract.

Fargate bills a task per second, with a one-minute minimum, for its vCPUs and its memory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Fargate Spot, Linux/x86, us-east-1, from the AWS price list (December 2026): $0.01334058 per
# vCPU-hour and $0.00146489 per GB-hour. Settings override them (AUTOML_FARGATE_SPOT_*).
VCPU_SECOND_USD = 0.01334058 / 3600
GB_SECOND_USD = 0.00146489 / 3600
# The training task's size: deploy/automl-lite.yaml's TrainingVcpu / TrainingMemory defaults.
TASK_VCPUS = 2.0
TASK_MEMORY_GB = 8.0
MINIMUM_BILLED_SECONDS = 60
# A run's seconds outside the search: container start and image pull, loading the data,
# refit, export and reports. Measured runs are billed on their real wall clock instead.
RUN_OVERHEAD_SECONDS = 90


@dataclass(frozen=True)
class Prices:
    """Fargate Spot prices per second of one vCPU and of one GB of memory (USD)."""

    vcpu_second_usd: float = VCPU_SECOND_USD
    gb_second_usd: float = GB_SECOND_USD


@dataclass(frozen=True)
class TaskSize:
    """One training container: its vCPUs and its memory in GB."""

    vcpus: float = TASK_VCPUS
    memory_gb: float = TASK_MEMORY_GB


def run_cost_usd(
    seconds: float, *, task: TaskSize | None = None, prices: Prices | None = None
) -> float:
    """What `seconds` of one training task cost (per second, one minute at least)."""
    task, prices = task or TaskSize(), prices or Prices()
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"a run cannot last {seconds!r} seconds")
    billed = max(float(seconds), MINIMUM_BILLED_SECONDS)
    per_second = task.vcpus * prices.vcpu_second_usd + task.memory_gb * prices.gb_second_usd
    return billed * per_second


def estimated_cost_usd(
    time_budget: float, *, task: TaskSize | None = None, prices: Prices | None = None
) -> float:
    """What a run with this search budget should cost: the budget plus the run's overhead."""
    return run_cost_usd(float(time_budget) + RUN_OVERHEAD_SECONDS, task=task, prices=prices)
