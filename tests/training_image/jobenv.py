"""A local deployment in a temp folder: the SQLite job table, storage folders, the env.

Used to run `python -m training_image` as a real subprocess, exactly as the local runner
(and, through the same variables, AWS Batch) starts it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from training_image import contract
from training_image.contract import Backend, Job, JobStatus, container_env, dataset_key, new_id
from training_image.jobstore import DynamoJobStore, JobStore, SqliteJobStore

REPO = Path(__file__).resolve().parents[2]


def new_job(*, status: str = JobStatus.QUEUED, **fields: Any) -> Job:
    """A job record with fresh ids and a short budget; `fields` override any field."""
    values = {
        "job_id": new_id(),
        "owner_id": "1",
        "dataset_id": new_id(),
        "target_column": "target",
        "status": status,
        "time_budget": 3,
    }
    values.update(fields)
    return Job(**values)


@dataclass
class LocalDeployment:
    root: Path

    @property
    def records(self) -> Path:
        return self.root / "records.sqlite3"

    def folder(self, alias: str) -> Path:
        return self.root / "media" / alias

    @property
    def backend(self) -> Backend:
        return Backend(
            storage="local",
            datasets_location=str(self.folder("datasets")),
            models_location=str(self.folder("models")),
            reports_location=str(self.folder("reports")),
            job_store="sqlite",
            job_store_location=str(self.records),
            seed=42,
        )

    def create(self) -> LocalDeployment:
        for alias in ("datasets", "models", "reports"):
            self.folder(alias).mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.records)
        con.execute("PRAGMA journal_mode=WAL")
        con.executescript(contract.SQLITE_SCHEMA)
        con.close()
        return self

    def add_dataset(self, data: bytes, filename: str = "data.csv") -> str:
        key = dataset_key(new_id(), filename)
        path = self.folder("datasets") / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return key

    def add_job(self, **fields: Any) -> Job:
        job = new_job(**fields)
        columns = contract.sqlite_job_columns(job)
        names = list(columns)
        con = sqlite3.connect(self.records)
        with con:
            con.execute(
                f"INSERT INTO jobs ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)})",
                [columns[n] for n in names],
            )
        con.close()
        return job

    def job(self, job_id: str) -> dict:
        """The stored record, with the mirrored status column checked against the item."""
        con = sqlite3.connect(self.records)
        status, item = con.execute(
            "SELECT status, item FROM jobs WHERE job_id = ?", (job_id,)
        ).fetchone()
        con.close()
        record = json.loads(item)
        assert record["status"] == status
        return record

    def env(self, job: Job, key: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("AUTOML_") and k != "DJANGO_SETTINGS_MODULE"
        }
        env.update(container_env(job, dataset_key=key, backend=self.backend))
        env["PYTHONPATH"] = str(REPO)
        return env


@contextmanager
def seeded_job_store(kind: str, root: Path, **defaults: Any) -> Iterator[JobStore]:
    """The container's job store of `kind` ("sqlite" or "dynamo"), with a test-only `add`.

    `store.add(**fields)` writes a record as the web would (`new_job`, with `defaults`
    under `fields`) and returns it. The SQLite store is a fresh deployment under `root`;
    the DynamoDB one is a moto table, skipped when boto3 or moto is absent.
    """
    if kind == "sqlite":
        deployment = LocalDeployment(root).create()
        store = SqliteJobStore(deployment.records)
        store.add = lambda **fields: deployment.add_job(**{**defaults, **fields})
        yield store
        return
    if kind != "dynamo":
        raise ValueError(f"unknown job store kind {kind!r}")
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    with moto.mock_aws():
        resource = boto3.resource("dynamodb", region_name="eu-west-1")
        table = resource.create_table(
            TableName="jobs",
            KeySchema=[{"AttributeName": contract.DYNAMO_JOBS_KEY, "KeyType": "HASH"}],
            AttributeDefinitions=[
                {"AttributeName": contract.DYNAMO_JOBS_KEY, "AttributeType": "S"}
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        store = DynamoJobStore(table)

        def add(**fields: Any) -> Job:
            job = new_job(**{**defaults, **fields})
            # As the web's adapter does: an empty field is left out of the item.
            table.put_item(Item={k: v for k, v in job.to_item().items() if v is not None})
            return job

        store.add = add
        yield store


def run_container(env: dict[str, str], *, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "training_image"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def start_container(env: dict[str, str], *, code: str | None = None) -> subprocess.Popen:
    """Start the entrypoint (or `code`, which must end by running it) without waiting."""
    command = (
        [sys.executable, "-m", "training_image"] if code is None else [sys.executable, "-c", code]
    )
    return subprocess.Popen(
        command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_for(predicate, *, timeout: float = 120, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError("condition not reached in time")
