"""A test-only stand-in for the part of AWS Batch that moto does not do: run the container.

moto's no-Docker Batch accepts `submit_job` and marks the job SUCCEEDED at once. This
emulator reads the submitted job back with `describe_jobs` — which returns the job
definition's environment merged with the submit-time overrides, plus AWS_BATCH_JOB_ID,
exactly what Batch hands the container — and runs `python -m training_image` as a
subprocess with that environment and nothing else from the test process, plus the moto
endpoint and fake credentials (what the job role would provide on AWS).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
FAKE_ROLE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


@dataclass(frozen=True)
class ContainerRun:
    batch_job_id: str
    environment: dict[str, str]
    returncode: int
    stdout: str
    stderr: str


def submitted_environment(batch_client: Any, batch_job_id: str) -> dict[str, str]:
    """The environment Batch gives the job's container, read back with describe_jobs."""
    jobs = batch_client.describe_jobs(jobs=[batch_job_id])["jobs"]
    if not jobs:
        raise LookupError(f"Batch has no job {batch_job_id}")
    entries = jobs[0].get("container", {}).get("environment", [])
    # Later entries never disagree with earlier ones; a dict removes moto's repeats.
    return {entry["name"]: entry["value"] for entry in entries}


class BatchEmulator:
    """Runs submitted Batch jobs' containers as local processes against a moto server.

    Args:
        batch_client: boto3 Batch client of the moto server.
        endpoint_url: The moto server URL the container's boto3 calls go to.
        timeout: Seconds a container may run before the test fails.
    """

    def __init__(self, batch_client: Any, *, endpoint_url: str, timeout: float = 300) -> None:
        self.batch = batch_client
        self.endpoint_url = endpoint_url
        self.timeout = timeout
        self.runs: list[ContainerRun] = []

    def container_environment(
        self, batch_job_id: str, *, drop: Iterable[str] = (), extra: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        env = submitted_environment(self.batch, batch_job_id)
        for name in drop:
            env.pop(name, None)
        env.update(FAKE_ROLE_CREDENTIALS)
        env["AWS_ENDPOINT_URL"] = self.endpoint_url
        env.update(extra or {})
        return env

    def run(
        self, batch_job_id: str, *, drop: Iterable[str] = (), extra: Mapping[str, str] | None = None
    ) -> ContainerRun:
        """Run the job's container to completion and return what it did."""
        env = self.container_environment(batch_job_id, drop=drop, extra=extra)
        # The image's working directory holds the package, as `-m` needs; no PATH, no
        # PYTHONPATH, no HOME: only what Batch gives.
        completed = subprocess.run(  # our own interpreter and module
            [sys.executable, "-m", "training_image"],
            env=env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=self.timeout,
            check=False,
        )
        run = ContainerRun(
            batch_job_id=batch_job_id,
            environment=env,
            returncode=completed.returncode,
            stdout=completed.stdout,
            stderr=completed.stderr,
        )
        self.runs.append(run)
        return run

    def run_queue(self, job_queue: str) -> list[ContainerRun]:
        """Run every job submitted to `job_queue` that this emulator has not run yet."""
        done = {r.batch_job_id for r in self.runs}
        summaries = []
        for status in ("SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED"):
            summaries += self.batch.list_jobs(jobQueue=job_queue, jobStatus=status)[
                "jobSummaryList"
            ]
        ordered = sorted(summaries, key=lambda s: s.get("createdAt", 0))
        return [self.run(s["jobId"]) for s in ordered if s["jobId"] not in done]
