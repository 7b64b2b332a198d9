"""What a training run costs on AWS Fargate Spot: the one definition of the prices and the
arithmetic, for the web (estimates before a run, costs after), the deploy README and any
later cost benchmark. Pure standard library, like the contract.

Fargate bills a task per second, with a one-minute minimum, for its vCPUs and its memory.

The rest of a stack's bill (on-demand Fargate, Lambda, the HTTP API, the load balancer,
storage, queues, secrets, alarms) is priced below the training prices, all us-east-1 list
prices without the free tier: `bench/costs.py` builds deploy/README.md's monthly table from
them and from `job_cost_usd` (the per-job estimate), so the table and the UI cannot disagree.
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


# --------------------------------------------------------------------------- the rest of the bill

HOURS_PER_MONTH = 730  # AWS's own monthly figure (365 × 24 / 12)
SECONDS_PER_HOUR = 3600

# On-demand Fargate, Linux/x86, per vCPU-hour and GB-hour: the job queue's second choice
# when Spot has no capacity, and the ECS web service.
ON_DEMAND_PRICES = Prices(vcpu_second_usd=0.04048 / 3600, gb_second_usd=0.004445 / 3600)
# Ephemeral storage above the 20 GB every Fargate task gets free, per GB-hour.
FARGATE_STORAGE_GB_HOUR_USD = 0.000111
FARGATE_FREE_STORAGE_GB = 20
# The template's TrainingEphemeralStorage default.
TASK_STORAGE_GB = 50

LAMBDA_GB_SECOND_USD = 0.0000166667
LAMBDA_REQUEST_USD = 0.20 / 1_000_000
HTTP_API_REQUEST_USD = 1.00 / 1_000_000
SQS_REQUEST_USD = 0.40 / 1_000_000
ALB_HOUR_USD = 0.0225
ALB_LCU_HOUR_USD = 0.008
PUBLIC_IPV4_HOUR_USD = 0.005
S3_GB_MONTH_USD = 0.023
ECR_GB_MONTH_USD = 0.10
DYNAMODB_WRITE_REQUEST_USD = 0.625 / 1_000_000
SECRET_MONTH_USD = 0.40
CLOUDWATCH_ALARM_MONTH_USD = 0.10
CLOUDWATCH_LOGS_INGEST_GB_USD = 0.50


def hourly(prices: Prices) -> tuple[float, float]:
    """A price pair per vCPU-hour and GB-hour (as the price list shows it)."""
    return prices.vcpu_second_usd * SECONDS_PER_HOUR, prices.gb_second_usd * SECONDS_PER_HOUR


def job_seconds(time_budget: float) -> float:
    """Billed seconds of one training job with a search budget of `time_budget` seconds."""
    if not math.isfinite(time_budget) or time_budget <= 0:
        raise ValueError(f"a time budget is a positive number of seconds, not {time_budget!r}")
    return max(float(time_budget) + RUN_OVERHEAD_SECONDS, MINIMUM_BILLED_SECONDS)


def job_cost_usd(
    time_budget: float,
    *,
    spot: bool = True,
    task: TaskSize | None = None,
    storage_gb: float = TASK_STORAGE_GB,
) -> float:
    """USD one training job of `time_budget` search seconds adds to the bill: its Fargate
    task (`estimated_cost_usd`, on Spot or on-demand) and its disk above the free 20 GB.

    A Spot reclaim retried by Batch costs another attempt.
    """
    seconds = job_seconds(time_budget)
    prices = Prices() if spot else ON_DEMAND_PRICES
    compute = estimated_cost_usd(time_budget, task=task, prices=prices)
    extra_storage = max(storage_gb - FARGATE_FREE_STORAGE_GB, 0)
    return compute + seconds / SECONDS_PER_HOUR * extra_storage * FARGATE_STORAGE_GB_HOUR_USD
