"""Management commands: train, resubmit_job, purge_jobs, runlocal."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from automl_lite import wiring
from jobs import services
from tests.jobs.factories import store_job
from tests.jobs.models import PENGUINS_CSV
from training_image.contract import ErrorType, JobStatus

ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- train


def test_train_refuses_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        call_command("train", str(tmp_path / "nope.csv"), target="y")


def test_train_refuses_a_file_that_is_not_a_csv(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(CommandError, match="The file is empty"):
        call_command("train", str(path), target="y")


def test_train_names_the_columns_when_the_target_is_wrong(tmp_path):
    with pytest.raises(
        CommandError, match="Target column 'colour' not found; the columns are: species"
    ):
        call_command("train", str(PENGUINS_CSV), target="colour", out=str(tmp_path))


def test_train_exits_1_with_one_line_for_a_bad_target():
    result = subprocess.run(
        [sys.executable, "manage.py", "train", str(PENGUINS_CSV), "--target", "colour"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "Target column 'colour' not found" in result.stderr


@pytest.mark.slow
def test_train_writes_the_artifacts_and_prints_the_metrics(tmp_path, capsys):
    out = tmp_path / "model"
    call_command(
        "train", str(PENGUINS_CSV), target="species", time_budget=3, out=str(out), no_reports=True
    )
    printed = capsys.readouterr().out
    assert "Best model:" in printed and "accuracy" in printed
    assert {"model.pkl", "model.onnx", "model_card.json", "evaluation.json"} <= {
        p.name for p in out.iterdir()
    }
    evaluation = json.loads((out / "evaluation.json").read_text())
    assert evaluation["test_metrics"]["accuracy"] > 0.8


# --------------------------------------------------------------------------- resubmit_job


@pytest.mark.django_db
def test_resubmit_job_queues_a_lost_job(alice, iris, runner, capsys):
    job = store_job(alice, iris, status=JobStatus.FAILED, error_type=ErrorType.LOST)
    call_command("resubmit_job", job.job_id)
    assert "queued (attempt 2)" in capsys.readouterr().out
    assert wiring.job_repository().get(job.job_id).status == JobStatus.QUEUED


@pytest.mark.django_db
def test_resubmit_job_explains_why_it_cannot(alice, iris, runner):
    job = store_job(alice, iris, status=JobStatus.FAILED, error_type=ErrorType.DATA)
    with pytest.raises(CommandError, match="because of its data or settings"):
        call_command("resubmit_job", job.job_id)
    with pytest.raises(CommandError, match="not found"):
        call_command("resubmit_job", "nope")


# --------------------------------------------------------------------------- purge_jobs


@pytest.mark.django_db
def test_purge_deletes_finished_jobs_older_than_the_cutoff(alice, iris, runner):
    repo = wiring.job_repository()
    done = store_job(alice, iris, status=JobStatus.COMPLETED)
    failed = store_job(alice, iris, status=JobStatus.FAILED)
    live = store_job(alice, iris, status=JobStatus.RUNNING)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=40)

    assert services.jobs_purge(older_than=dt.timedelta(days=50), now=later) == []
    purged = services.jobs_purge(
        older_than=dt.timedelta(days=30), statuses=["completed"], now=later
    )
    assert purged == [done.job_id]
    assert repo.get(done.job_id) is None
    assert repo.get(failed.job_id) is not None and repo.get(live.job_id) is not None


@pytest.mark.django_db
def test_purge_jobs_command_lists_then_deletes(alice, iris, runner, capsys):
    repo = wiring.job_repository()
    done = store_job(alice, iris, status=JobStatus.CANCELLED)
    live = store_job(alice, iris, status=JobStatus.QUEUED)
    call_command("purge_jobs", older_than=0, dry_run=True)
    assert "Would delete 1 job(s)" in capsys.readouterr().out
    assert repo.get(done.job_id) is not None
    call_command("purge_jobs", older_than=0)
    assert repo.get(done.job_id) is None and repo.get(live.job_id) is not None


@pytest.mark.django_db
def test_purge_jobs_refuses_negative_ages():
    with pytest.raises(CommandError, match="0 or more days"):
        call_command("purge_jobs", older_than=-1)


# --------------------------------------------------------------------------- runlocal


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_runlocal_serves_and_stops_cleanly(tmp_path):
    port = free_port()
    env = {**os.environ, "AUTOML_VAR_DIR": str(tmp_path / "var")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    (tmp_path / "var").mkdir()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runlocal", "--addr", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        body = None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and body is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=2) as r:
                    body = json.loads(r.read())
            except OSError:
                time.sleep(0.5)
        assert body == {
            "status": "healthy",
            "service": "automl-api",
            "region": "local",
            "backend": "local",
        }
        assert (tmp_path / "var" / "records.sqlite3").exists()
        assert (tmp_path / "var" / "broker.sqlite3").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=90)
    assert process.returncode == 0, output[-2000:]
    assert "Stopped." in output
