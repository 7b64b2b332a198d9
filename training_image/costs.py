"""What running AutoML Lite on AWS costs: the one definition of the prices assumed.

Every price is the public list price in us-east-1 (USD, Linux/x86_64, no free tier) as
published on the services' pricing pages; other regions and Spot prices differ, Spot prices
move with demand. `job_cost_usd` is the per-job estimate (what one training job adds to
the bill) and `bench/costs.py` builds the monthly table of deploy/README.md from the same
numbers, so the two cannot disagree.

The training defaults below are the template's own parameter defaults (`TrainingVcpu`,
`TrainingMemory`, `TrainingEphemeralStorage` of deploy/automl-lite.yaml; a test keeps
them equal).
"""

from __future__ import annotations

from dataclasses import dataclass

HOURS_PER_MONTH = 730  # AWS's own monthly figure (365 × 24 / 12)
SECONDS_PER_HOUR = 3600


@dataclass(frozen=True)
class FargateRate:
    """Fargate's price of one running task: per vCPU-hour and per GB-hour of memory."""

    vcpu_hour_usd: float
    gb_hour_usd: float

    @property
    def vcpu_second_usd(self) -> float:
        return self.vcpu_hour_usd / SECONDS_PER_HOUR

    @property
    def gb_second_usd(self) -> float:
        return self.gb_hour_usd / SECONDS_PER_HOUR

    def task_usd(self, seconds: float, *, vcpu: float, memory_gb: float) -> float:
        """What one task of `vcpu` and `memory_gb` costs for `seconds` (1-minute minimum)."""
        billed = max(seconds, FARGATE_MINIMUM_SECONDS)
        return billed * (vcpu * self.vcpu_second_usd + memory_gb * self.gb_second_usd)


# --------------------------------------------------------------------------- Fargate (Batch, ECS)

FARGATE_ON_DEMAND = FargateRate(vcpu_hour_usd=0.04048, gb_hour_usd=0.004445)
# Fargate Spot: assumed 70 % below on-demand (AWS says "up to 70 %"; the real discount
# varies by region and over time).
FARGATE_SPOT_DISCOUNT = 0.70
FARGATE_SPOT = FargateRate(
    vcpu_hour_usd=round(FARGATE_ON_DEMAND.vcpu_hour_usd * (1 - FARGATE_SPOT_DISCOUNT), 6),
    gb_hour_usd=round(FARGATE_ON_DEMAND.gb_hour_usd * (1 - FARGATE_SPOT_DISCOUNT), 7),
)
FARGATE_SPOT_VCPU_SECOND_USD = FARGATE_SPOT.vcpu_second_usd
FARGATE_SPOT_GB_SECOND_USD = FARGATE_SPOT.gb_second_usd
FARGATE_VCPU_SECOND_USD = FARGATE_ON_DEMAND.vcpu_second_usd
FARGATE_GB_SECOND_USD = FARGATE_ON_DEMAND.gb_second_usd
# Ephemeral storage above the 20 GB every task gets free, per GB-hour.
FARGATE_STORAGE_GB_HOUR_USD = 0.000111
FARGATE_FREE_STORAGE_GB = 20
# Fargate bills from the start of the image pull to the task's end, at least one minute.
FARGATE_MINIMUM_SECONDS = 60

# --------------------------------------------------------------------------- Lambda, API, queues

LAMBDA_GB_SECOND_USD = 0.0000166667
LAMBDA_REQUEST_USD = 0.20 / 1_000_000
HTTP_API_REQUEST_USD = 1.00 / 1_000_000
SQS_REQUEST_USD = 0.40 / 1_000_000

# --------------------------------------------------------------------------- load balancer, IPs

ALB_HOUR_USD = 0.0225
ALB_LCU_HOUR_USD = 0.008
PUBLIC_IPV4_HOUR_USD = 0.005

# --------------------------------------------------------------------------- storage, records, rest

S3_GB_MONTH_USD = 0.023
ECR_GB_MONTH_USD = 0.10
DYNAMODB_WRITE_REQUEST_USD = 0.625 / 1_000_000
DYNAMODB_READ_REQUEST_USD = 0.125 / 1_000_000
SECRET_MONTH_USD = 0.40
CLOUDWATCH_ALARM_MONTH_USD = 0.10
CLOUDWATCH_LOGS_INGEST_GB_USD = 0.50

# --------------------------------------------------------------------------- one training job

# The template's defaults for one training container.
DEFAULT_TRAINING_VCPU = 2
DEFAULT_TRAINING_MEMORY_GB = 8
DEFAULT_TRAINING_STORAGE_GB = 50
# Seconds a job runs beyond its search budget: image pull, start-up, final refit, export
# and reports (an assumption; Batch's timeout allows budget × 1.15 + 600 s).
JOB_OVERHEAD_SECONDS = 120


def job_seconds(time_budget: float) -> float:
    """Billed seconds of one training job with a search budget of `time_budget` seconds."""
    if time_budget <= 0:
        raise ValueError(f"a time budget is a positive number of seconds, not {time_budget!r}")
    return max(time_budget + JOB_OVERHEAD_SECONDS, FARGATE_MINIMUM_SECONDS)


def job_cost_usd(
    time_budget: float,
    *,
    spot: bool = True,
    vcpu: float = DEFAULT_TRAINING_VCPU,
    memory_gb: float = DEFAULT_TRAINING_MEMORY_GB,
    storage_gb: float = DEFAULT_TRAINING_STORAGE_GB,
) -> float:
    """USD one training job of `time_budget` search seconds costs on Fargate (Spot or not).

    Args:
        time_budget: The job's search budget in seconds.
        spot: Fargate Spot (the job queue's first choice) or on-demand Fargate.
        vcpu: vCPUs of the training container.
        memory_gb: Its memory in GB.
        storage_gb: Its ephemeral storage in GB (the first 20 GB are free).

    Returns:
        The compute cost of one attempt; a Spot reclaim retried by Batch costs another.
    """
    if vcpu <= 0 or memory_gb <= 0:
        raise ValueError(f"a container has vCPUs and memory, not {vcpu!r} vCPU / {memory_gb!r} GB")
    seconds = job_seconds(time_budget)
    rate = FARGATE_SPOT if spot else FARGATE_ON_DEMAND
    extra_storage = max(storage_gb - FARGATE_FREE_STORAGE_GB, 0)
    storage = seconds / SECONDS_PER_HOUR * extra_storage * FARGATE_STORAGE_GB_HOUR_USD
    return rate.task_usd(seconds, vcpu=vcpu, memory_gb=memory_gb) + storage
