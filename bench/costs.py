"""Monthly cost of an AutoML Lite stack: idle, 20 and 100 training jobs at the default budget,
training on Fargate Spot or on-demand, web and worker on Lambda or ECS.

Every price comes from `training_image/costs.py` (the one price module; its `job_cost_usd`
is also the per-job estimate), the sizes from the template's own defaults
(deploy/automl-lite.yaml), and the usage below is assumed, not measured. The table and its
arithmetic in deploy/README.md are this script's output (a test keeps them equal):

    .venv/bin/python bench/costs.py            # print the markdown section
    .venv/bin/python bench/costs.py --write    # replace it in deploy/README.md
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # `python bench/costs.py` puts bench/ first, not the repo
    sys.path.insert(0, str(REPO))

from training_image import contract  # noqa: E402
from training_image import costs as price  # noqa: E402

README = REPO / "deploy" / "README.md"
BEGIN = "<!-- bench/costs.py: begin -->"
END = "<!-- bench/costs.py: end -->"

RUNTIMES = ("lambda", "ecs")
CAPACITIES = ("spot", "on-demand")
JOB_COUNTS = (0, 20, 100)
# The default search budget of a job (`contract.Job.time_budget`).
DEFAULT_BUDGET = next(
    f.default for f in dataclasses.fields(contract.Job) if f.name == "time_budget"
)

# --------------------------------------------------------------------------- assumed usage

# Lambda: the worker's 1-minute reconcile run, web requests per job (pages and the HTMX
# progress polls every 2 s while it trains), one dataset analysis per job.
RECONCILE_RUNS_PER_MONTH = 60 * 24 * 365 // 12  # rate(1 minute)
RECONCILE_SECONDS = 1.0
WEB_REQUESTS_PER_JOB = 150
WEB_REQUEST_SECONDS = 0.1
ANALYSIS_SECONDS = 20.0
# Lambda's SQS event source mapping long-polls the task queue even when it is empty
# (5 pollers, 20 s waits).
SQS_IDLE_POLLS_PER_MONTH = 5 * 3 * RECONCILE_RUNS_PER_MONTH
# ECS: the web tasks always on (on-demand: Spot could take the only web task away), the
# scheduler task always on (Fargate Spot), the Celery worker on Fargate Spot scaled out
# from zero for a job's tasks and back in 10 minutes after the queue is empty.
WORKER_MINUTES_PER_JOB = 10
# Public IPv4 addresses of the load balancer (one per zone, two zones); each task with
# AssignPublicIp=ENABLED (the default) has one more.
LOAD_BALANCER_IPS = 2
ALB_AVERAGE_LCU = 0.1
# Both: images kept in ECR, files kept in S3, record writes and log volume per job.
IMAGES_GB = 3.0
FILES_GB = 10.0
RECORD_WRITES_PER_JOB = 200
LOG_GB_PER_JOB = 0.005
SECRETS = 2


@dataclass(frozen=True)
class Sizes:
    """The template's default sizes (deploy/automl-lite.yaml)."""

    web_memory_gb: float
    worker_memory_gb: float
    web_tasks: int
    web_task_vcpu: float
    web_task_memory_gb: float
    worker_task_vcpu: float
    worker_task_memory_gb: float
    scheduler_vcpu: float
    scheduler_memory_gb: float
    lambda_alarms: int
    ecs_alarms: int


def alarm_count(template: dict, runtime: str) -> int:
    """CloudWatch alarms a stack of `runtime` has (the others are conditioned away)."""
    other = {"lambda": ("UseEcs", "EcsWithImages"), "ecs": ("UseLambda", "LambdaWithImages")}
    alarms = [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    return len([a for a in alarms if a.get("Condition") not in other[runtime]])


def template_sizes() -> Sizes:
    """Read the sizes from the template itself, so the table follows its defaults."""
    from cfnlint.decode import decode

    template, problems = decode(str(REPO / "deploy" / "automl-lite.yaml"))
    if problems:
        raise SystemExit(f"deploy/automl-lite.yaml does not parse: {problems}")
    resources = template["Resources"]
    parameters = template["Parameters"]

    def default(name: str) -> float:
        return float(parameters[name]["Default"])

    scheduler = resources["SchedulerTaskDefinition"]["Properties"]

    return Sizes(
        web_memory_gb=resources["WebFunction"]["Properties"]["MemorySize"] / 1024,
        worker_memory_gb=resources["WorkerFunction"]["Properties"]["MemorySize"] / 1024,
        web_tasks=int(default("WebTaskCount")),
        web_task_vcpu=default("WebTaskCpu") / 1024,
        web_task_memory_gb=default("WebTaskMemory") / 1024,
        worker_task_vcpu=default("WorkerTaskCpu") / 1024,
        worker_task_memory_gb=default("WorkerTaskMemory") / 1024,
        scheduler_vcpu=float(scheduler["Cpu"]) / 1024,
        scheduler_memory_gb=float(scheduler["Memory"]) / 1024,
        lambda_alarms=alarm_count(template, "lambda"),
        ecs_alarms=alarm_count(template, "ecs"),
    )


@dataclass(frozen=True)
class Item:
    """One line of the bill: a monthly amount or an amount per job, for some variants."""

    name: str
    arithmetic: str
    usd: float
    per_job: bool = False
    runtimes: tuple[str, ...] = RUNTIMES
    capacity: str | None = None  # None: either


def _usd(value: float) -> str:
    """An amount of the bill: cents, or four decimals below a cent."""
    return f"${value:,.4f}" if value < 0.01 else f"${value:,.2f}"


def _per_million(value: float) -> str:
    return _price(value * 1_000_000) + " per million"


def _price(value: float) -> str:
    """A unit price with every digit it was given (no exponent)."""
    return "$" + f"{round(value, 10):.10f}".rstrip("0").rstrip(".")


def items(budget: int = DEFAULT_BUDGET, sizes: Sizes | None = None) -> list[Item]:
    """Every line of the bill with its arithmetic."""
    s = sizes or template_sizes()
    hours = price.HOURS_PER_MONTH
    lam, gb_s = price.LAMBDA_GB_SECOND_USD, "GB-s"
    seconds = price.job_seconds(budget)
    spot_vcpu, spot_gb = price.hourly(price.Prices())
    od_vcpu, od_gb = price.hourly(price.ON_DEMAND_PRICES)
    lines = [
        Item(
            "secrets (Django key, database URL)",
            f"{SECRETS} × {_price(price.SECRET_MONTH_USD)}",
            SECRETS * price.SECRET_MONTH_USD,
        ),
        Item(
            "CloudWatch alarms",
            f"{s.lambda_alarms} × {_price(price.CLOUDWATCH_ALARM_MONTH_USD)}",
            s.lambda_alarms * price.CLOUDWATCH_ALARM_MONTH_USD,
            runtimes=("lambda",),
        ),
        Item(
            "CloudWatch alarms",
            f"{s.ecs_alarms} × {_price(price.CLOUDWATCH_ALARM_MONTH_USD)}",
            s.ecs_alarms * price.CLOUDWATCH_ALARM_MONTH_USD,
            runtimes=("ecs",),
        ),
        Item(
            "images in ECR",
            f"{IMAGES_GB:g} GB × {_price(price.ECR_GB_MONTH_USD)}",
            IMAGES_GB * price.ECR_GB_MONTH_USD,
        ),
        Item(
            "files in S3",
            f"{FILES_GB:g} GB × {_price(price.S3_GB_MONTH_USD)}",
            FILES_GB * price.S3_GB_MONTH_USD,
        ),
        Item(
            "reconcile every minute (worker function)",
            f"{RECONCILE_RUNS_PER_MONTH:,} runs × ({RECONCILE_SECONDS:g} s × "
            f"{s.worker_memory_gb:.2f} GB × {_price(lam)} per {gb_s} + {_per_million(price.LAMBDA_REQUEST_USD)})",
            RECONCILE_RUNS_PER_MONTH
            * (RECONCILE_SECONDS * s.worker_memory_gb * lam + price.LAMBDA_REQUEST_USD),
            runtimes=("lambda",),
        ),
        Item(
            "SQS polls of the worker's event source (idle)",
            f"{SQS_IDLE_POLLS_PER_MONTH:,} requests × {_per_million(price.SQS_REQUEST_USD)}",
            SQS_IDLE_POLLS_PER_MONTH * price.SQS_REQUEST_USD,
            runtimes=("lambda",),
        ),
        Item(
            "web service (always on, on-demand Fargate)",
            f"{s.web_tasks} task × {hours} h × ({s.web_task_vcpu:g} vCPU × "
            f"{_price(od_vcpu)} + {s.web_task_memory_gb:g} GB × {_price(od_gb)})",
            s.web_tasks * hours * (s.web_task_vcpu * od_vcpu + s.web_task_memory_gb * od_gb),
            runtimes=("ecs",),
        ),
        Item(
            "Application Load Balancer",
            f"{hours} h × ({_price(price.ALB_HOUR_USD)} + {ALB_AVERAGE_LCU:g} LCU × "
            f"{_price(price.ALB_LCU_HOUR_USD)})",
            hours * (price.ALB_HOUR_USD + ALB_AVERAGE_LCU * price.ALB_LCU_HOUR_USD),
            runtimes=("ecs",),
        ),
        Item(
            "scheduler service (reconcile every minute, Fargate Spot)",
            f"1 task × {hours} h × ({s.scheduler_vcpu:g} vCPU × "
            f"{_price(spot_vcpu)} + {s.scheduler_memory_gb:g} GB × {_price(spot_gb)})",
            hours * (s.scheduler_vcpu * spot_vcpu + s.scheduler_memory_gb * spot_gb),
            runtimes=("ecs",),
        ),
        Item(
            "public IPv4 addresses (load balancer, web and scheduler tasks)",
            f"{LOAD_BALANCER_IPS + s.web_tasks + 1} × {hours} h × "
            f"{_price(price.PUBLIC_IPV4_HOUR_USD)}",
            (LOAD_BALANCER_IPS + s.web_tasks + 1) * hours * price.PUBLIC_IPV4_HOUR_USD,
            runtimes=("ecs",),
        ),
    ]
    for capacity, prices, (vcpu_hour, gb_hour) in (
        ("spot", price.Prices(), (spot_vcpu, spot_gb)),
        ("on-demand", price.ON_DEMAND_PRICES, (od_vcpu, od_gb)),
    ):
        lines.append(
            Item(
                f"training job ({budget} s budget, Fargate {capacity}"
                + ("; the estimate the app shows)" if capacity == "spot" else ")"),
                f"({budget} + {price.RUN_OVERHEAD_SECONDS}) s / 3600 × "
                f"({price.TASK_VCPUS:g} vCPU × {_price(vcpu_hour)} + "
                f"{price.TASK_MEMORY_GB:g} GB × {_price(gb_hour)})",
                price.estimated_cost_usd(budget, prices=prices),
                per_job=True,
                capacity=capacity,
            )
        )
    extra = price.TASK_STORAGE_GB - price.FARGATE_FREE_STORAGE_GB
    lines.append(
        Item(
            "training disk above the free 20 GB",
            f"{seconds:g} s / 3600 × {extra} GB × {_price(price.FARGATE_STORAGE_GB_HOUR_USD)}",
            price.job_cost_usd(budget) - price.estimated_cost_usd(budget),
            per_job=True,
        )
    )
    lines += [
        Item(
            "training task's public IPv4 address",
            f"{seconds:g} s / 3600 × {_price(price.PUBLIC_IPV4_HOUR_USD)}",
            seconds / price.SECONDS_PER_HOUR * price.PUBLIC_IPV4_HOUR_USD,
            per_job=True,
        ),
        Item(
            "web requests of a job (Lambda, HTTP API)",
            f"{WEB_REQUESTS_PER_JOB} × ({WEB_REQUEST_SECONDS:g} s × {s.web_memory_gb:g} GB × "
            f"{_price(lam)} per {gb_s} + {_per_million(price.LAMBDA_REQUEST_USD)} + "
            f"{_per_million(price.HTTP_API_REQUEST_USD)})",
            WEB_REQUESTS_PER_JOB
            * (
                WEB_REQUEST_SECONDS * s.web_memory_gb * lam
                + price.LAMBDA_REQUEST_USD
                + price.HTTP_API_REQUEST_USD
            ),
            per_job=True,
            runtimes=("lambda",),
        ),
        Item(
            "dataset analysis (worker function)",
            f"{ANALYSIS_SECONDS:g} s × {s.worker_memory_gb:.2f} GB × {_price(lam)} per {gb_s}",
            ANALYSIS_SECONDS * s.worker_memory_gb * lam,
            per_job=True,
            runtimes=("lambda",),
        ),
        Item(
            "worker service scaled out (Fargate Spot)",
            f"{WORKER_MINUTES_PER_JOB} × 60 s / 3600 × ({s.worker_task_vcpu:g} vCPU × "
            f"{_price(spot_vcpu)} + {s.worker_task_memory_gb:g} GB × {_price(spot_gb)})",
            price.run_cost_usd(
                WORKER_MINUTES_PER_JOB * 60,
                task=price.TaskSize(s.worker_task_vcpu, s.worker_task_memory_gb),
            ),
            per_job=True,
            runtimes=("ecs",),
        ),
        Item(
            "record writes and logs of a job",
            f"{RECORD_WRITES_PER_JOB} writes × {_per_million(price.DYNAMODB_WRITE_REQUEST_USD)} + {LOG_GB_PER_JOB:g} GB × "
            f"{_price(price.CLOUDWATCH_LOGS_INGEST_GB_USD)}",
            RECORD_WRITES_PER_JOB * price.DYNAMODB_WRITE_REQUEST_USD
            + LOG_GB_PER_JOB * price.CLOUDWATCH_LOGS_INGEST_GB_USD,
            per_job=True,
        ),
    ]
    return lines


def applies(item: Item, runtime: str, capacity: str) -> bool:
    return runtime in item.runtimes and item.capacity in (None, capacity)


def monthly_usd(
    runtime: str,
    capacity: str,
    jobs: int,
    budget: int = DEFAULT_BUDGET,
    sizes: Sizes | None = None,
) -> float:
    """USD per month of one variant running `jobs` training jobs of `budget` seconds."""
    if runtime not in RUNTIMES or capacity not in CAPACITIES:
        raise ValueError(f"runtime is one of {RUNTIMES}, capacity one of {CAPACITIES}")
    if jobs < 0:
        raise ValueError(f"a month has zero or more jobs, not {jobs}")
    chosen = [i for i in items(budget, sizes) if applies(i, runtime, capacity)]
    return sum(i.usd * (jobs if i.per_job else 1) for i in chosen)


def markdown(budget: int = DEFAULT_BUDGET) -> str:
    """The README's cost section: the monthly table, then each line's arithmetic."""
    sizes = template_sizes()
    variants = [(r, c) for r in RUNTIMES for c in CAPACITIES]
    names = {"lambda": "Lambda", "ecs": "ECS", "spot": "Spot", "on-demand": "on-demand"}
    header = " | ".join(f"{names[r]}, training on {names[c]}" for r, c in variants)
    rows = [f"| USD per month | {header} |", "|---" * (len(variants) + 1) + "|"]
    for jobs in JOB_COUNTS:
        label = "idle (no jobs), per month" if jobs == 0 else f"{jobs} jobs, per month"
        cells = " | ".join(_usd(monthly_usd(r, c, jobs, budget, sizes)) for r, c in variants)
        rows.append(f"| {label} | {cells} |")
    lines = [
        *rows,
        "",
        f"Each job has the default budget ({budget} s of search) and the default training "
        f"container ({price.TASK_VCPUS:g} vCPU, {price.TASK_MEMORY_GB:g} GB, "
        f"{price.TASK_STORAGE_GB} GB disk); prices are us-east-1 list prices without the free "
        "tier (`training_image/costs.py`; Spot prices move with demand). A month is the sum of:",
        "",
        "| item | arithmetic | per | Lambda | ECS |",
        "|---|---|---|---|---|",
    ]
    for item in items(budget, sizes):
        per = "job" if item.per_job else "month"
        used = {r: ("yes" if r in item.runtimes else "–") for r in RUNTIMES}
        lines.append(
            f"| {item.name} | {item.arithmetic} = {_usd(item.usd)} | {per} | "
            f"{used['lambda']} | {used['ecs']} |"
        )
    return "\n".join(lines) + "\n"


def readme_section(text: str) -> str:
    """The generated part of deploy/README.md (between the two markers)."""
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return text[start:end].strip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=int, default=DEFAULT_BUDGET, help="search seconds per job")
    parser.add_argument(
        "--write", action="store_true", help="replace the table in deploy/README.md"
    )
    args = parser.parse_args(argv)
    section = markdown(args.budget)
    if not args.write:
        sys.stdout.write(section)
        return 0
    text = README.read_text()
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    README.write_text(text[:start] + "\n" + section + text[end:])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
