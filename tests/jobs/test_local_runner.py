"""LocalRunner: the subprocess's environment, lost processes, cancel, shutdown and describe.

These tests start real (tiny) Python processes in place of the training container, so
exit codes, signals and /proc checks are the operating system's own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from unittest import mock

import pytest
from kombu.exceptions import OperationalError

from automl_lite import wiring
from jobs import services
from jobs.runners import local
from jobs.runners.base import SubmitError
from jobs.runners.local import LocalRunner, format_runner_id
from tests.jobs.factories import store_job
from training_image.contract import (
    ENV_CSV_DIALECT,
    REQUIRED_ENV,
    ErrorType,
    JobStatus,
    container_env,
)
from training_image.csv_dialect import CsvDialect

pytestmark = pytest.mark.django_db


def run_job(job_id: str, **options):
    """`local.run_job` with the wired collaborators, as the `run_training` task calls it."""
    return local.run_job(
        job_id,
        jobs=wiring.job_repository(),
        datasets=wiring.dataset_repository(),
        backend=wiring.container_backend(),
        **options,
    )


def python(code: str):
    """A popen stand-in that runs `code` with the environment run_job built."""
    calls = []

    def popen(args, **kwargs):
        calls.append({"args": args, **kwargs})
        return subprocess.Popen([sys.executable, "-c", code], **kwargs)

    popen.calls = calls
    return popen


def wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_it_runs_the_container_with_exactly_the_contract_environment(
    alice, iris, jobs_repo, monkeypatch
):
    monkeypatch.setenv("DJANGO_SECRET_KEY", "s3cret")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "also-secret")
    job = store_job(alice, iris, status=JobStatus.QUEUED, time_budget=5)
    popen = python("raise SystemExit(0)")
    run_job(job.job_id, popen=popen)
    call = popen.calls[0]
    assert call["args"] == [sys.executable, "-m", "training_image"]
    expected = container_env(job, dataset_key=iris.storage_key, backend=wiring.container_backend())
    env = call["env"]
    assert {k: env[k] for k in expected} == expected
    assert set(REQUIRED_ENV) <= set(env)
    assert set(env) - set(expected) <= {*local.INHERITED_ENV, "PYTHONPATH", "PYTHONUNBUFFERED"}
    assert "DJANGO_SECRET_KEY" not in env and "AWS_SECRET_ACCESS_KEY" not in env
    # The dataset's dialect, sniffed once at upload, is the one the container reads with.
    assert CsvDialect.from_json(env[ENV_CSV_DIALECT]) == CsvDialect.from_dict(iris.csv_dialect)


def test_it_fails_a_job_whose_process_exits_without_a_result(alice, iris, jobs_repo):
    job = store_job(alice, iris, status=JobStatus.QUEUED)
    outcome = run_job(job.job_id, popen=python("raise SystemExit(3)"))
    stored = jobs_repo.get(job.job_id)
    assert outcome == "lost"
    assert stored.status == JobStatus.FAILED
    assert stored.error_type == ErrorType.LOST
    assert "exited with code 3" in stored.error_message
    assert stored.runner_job_id.startswith(f"{local.hostname()}:")


def test_it_hints_at_memory_when_the_process_was_killed(alice, iris, jobs_repo):
    job = store_job(alice, iris, status=JobStatus.QUEUED)
    run_job(job.job_id, popen=python("import os, signal; os.kill(os.getpid(), signal.SIGKILL)"))
    stored = jobs_repo.get(job.job_id)
    assert stored.error_type == ErrorType.LOST
    assert "exit code -9" in stored.error_message
    assert "out of memory" in stored.error_message


def test_it_keeps_the_result_the_container_wrote(alice, iris, jobs_repo):
    job = store_job(alice, iris, status=JobStatus.QUEUED)

    def popen(args, **kwargs):
        # The "container" claims and completes the job, as the real one does.
        jobs_repo.transition(job.job_id, JobStatus.RUNNING)
        jobs_repo.transition(job.job_id, JobStatus.COMPLETED, metrics={"accuracy": 0.9})
        return subprocess.Popen([sys.executable, "-c", "pass"], **kwargs)

    assert run_job(job.job_id, popen=popen) == "finished"
    assert jobs_repo.get(job.job_id).status == JobStatus.COMPLETED


def test_it_skips_a_job_that_is_not_queued(alice, iris):
    job = store_job(alice, iris, status=JobStatus.CANCELLED)
    popen = python("pass")
    assert run_job(job.job_id, popen=popen) == "skipped"
    assert popen.calls == []


def test_a_second_delivery_of_the_same_job_does_nothing(alice, iris):
    job = store_job(alice, iris, status=JobStatus.QUEUED)
    popen = python("pass")
    with local.job_lock(job.job_id) as claimed:
        assert claimed
        assert run_job(job.job_id, popen=popen) == "busy"
    assert popen.calls == []


def test_it_fails_the_job_when_the_dataset_was_deleted(alice, iris, jobs_repo, datasets_repo):
    job = store_job(alice, iris, status=JobStatus.QUEUED)
    datasets_repo.delete(iris.dataset_id)
    assert run_job(job.job_id, popen=python("pass")) == "failed"
    assert jobs_repo.get(job.job_id).error_type == ErrorType.DATA


def test_cancel_terminates_the_running_process_and_the_job_stays_cancelled(alice, iris, jobs_repo):
    job = store_job(alice, iris, status=JobStatus.QUEUED)
    popen = python("import time; time.sleep(60)")
    outcome = {}
    worker = threading.Thread(target=lambda: outcome.update(value=run_job(job.job_id, popen=popen)))
    worker.start()
    assert wait_for(lambda: jobs_repo.get(job.job_id).runner_job_id)
    running = jobs_repo.get(job.job_id)
    pid = int(running.runner_job_id.rsplit(":", 1)[1])
    assert LocalRunner().describe([running])[job.job_id].alive

    services.job_cancel(job=running, runner=LocalRunner())
    worker.join(timeout=30)

    assert not worker.is_alive()
    assert outcome["value"] == "finished"
    assert not local.is_job_process(pid, job.job_id)
    assert jobs_repo.get(job.job_id).status == JobStatus.CANCELLED


def test_a_worker_shutdown_stops_the_run_and_requeues_it(alice, iris, jobs_repo, monkeypatch):
    job = store_job(alice, iris, status=JobStatus.QUEUED)
    submitted = []
    monkeypatch.setattr(
        LocalRunner, "submit", lambda self, j, *, dataset_key: submitted.append(j.job_id) or ""
    )
    popen = python("import time; time.sleep(60)")
    worker = threading.Thread(target=run_job, args=(job.job_id,), kwargs={"popen": popen})
    worker.start()
    try:
        assert wait_for(lambda: jobs_repo.get(job.job_id).runner_job_id)
        local.SHUTTING_DOWN.set()
        worker.join(timeout=30)
    finally:
        local.SHUTTING_DOWN.clear()
    stored = jobs_repo.get(job.job_id)
    assert stored.status == JobStatus.QUEUED
    assert stored.attempt == 1  # an orderly stop does not use up an attempt
    assert submitted == [job.job_id]


def test_a_stopping_worker_leaves_new_jobs_queued(alice, iris, jobs_repo):
    job = store_job(alice, iris, status=JobStatus.QUEUED)
    popen = python("pass")
    local.SHUTTING_DOWN.set()
    try:
        assert run_job(job.job_id, popen=popen) == "deferred"
    finally:
        local.SHUTTING_DOWN.clear()
    assert popen.calls == []
    assert jobs_repo.get(job.job_id).status == JobStatus.QUEUED


def test_describe_tells_a_dead_pid_from_a_live_job_process(alice, iris):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        gone = store_job(
            alice, iris, status=JobStatus.RUNNING, runner_job_id=format_runner_id(dead.pid)
        )
        reused = store_job(
            alice, iris, status=JobStatus.RUNNING, runner_job_id=format_runner_id(stranger.pid)
        )
        elsewhere = store_job(alice, iris, status=JobStatus.RUNNING, runner_job_id="other-host:1")
        waiting = store_job(alice, iris, status=JobStatus.QUEUED)
        states = LocalRunner().describe([gone, reused, elsewhere, waiting])
    finally:
        stranger.kill()
        stranger.wait()
    assert states[gone.job_id].alive is False
    assert "ended without reporting" in states[gone.job_id].reason
    # A live pid that is not this job's process (a reused pid) is not the job.
    assert states[reused.job_id].alive is False
    assert elsewhere.job_id not in states and waiting.job_id not in states


def test_reconcile_fails_a_running_job_whose_process_died(alice, iris, jobs_repo):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    job = store_job(alice, iris, status=JobStatus.RUNNING, runner_job_id=format_runner_id(dead.pid))
    services.jobs_reconcile(runner=LocalRunner())
    stored = jobs_repo.get(job.job_id)
    assert stored.status == JobStatus.FAILED
    assert stored.error_type == ErrorType.LOST


def test_submit_reports_an_unreachable_broker(alice, iris):
    job = store_job(alice, iris, status=JobStatus.QUEUED)
    with (
        mock.patch(
            "jobs.tasks.run_training.delay",
            autospec=True,
            side_effect=OperationalError("no broker"),
        ),
        pytest.raises(SubmitError, match="runlocal"),
    ):
        LocalRunner().submit(job, dataset_key=iris.storage_key)


def test_a_training_dies_with_the_worker_that_started_it(tmp_path):
    """PR_SET_PDEATHSIG: `kill -9` of the parent kills the child the kernel's way."""
    pid_file = tmp_path / "child.pid"
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time\n"
            "from jobs.runners.local import die_with_parent\n"
            "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'],"
            " start_new_session=True, preexec_fn=die_with_parent())\n"
            f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
            "time.sleep(120)\n",
        ],
        cwd=str(local.settings.BASE_DIR),
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "automl_lite.settings"},
    )
    try:
        assert wait_for(lambda: pid_file.exists() and pid_file.read_text())
        child = int(pid_file.read_text())
        assert local._pid_exists(child)
    finally:
        parent.kill()
        parent.wait()
    # Gone (or a zombie its new parent has not reaped yet: no environment, not alive).
    assert wait_for(lambda: not _running(child))


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_runlocal_stops_trainings_left_by_a_dead_worker(alice, iris, jobs_repo):
    job = store_job(alice, iris, status=JobStatus.RUNNING)
    finished = store_job(alice, iris, status=JobStatus.COMPLETED)
    # A training whose worker is gone: this job's id in its environment, as the container has.
    orphan = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"],
        env={"AUTOML_JOB_ID": job.job_id},
        start_new_session=True,
    )
    try:
        jobs_repo.update(job.job_id, runner_job_id=format_runner_id(orphan.pid))
        assert wait_for(lambda: local.is_job_process(orphan.pid, job.job_id))
        stopped = local.stop_orphaned_trainings(wiring.job_repository(), grace_seconds=5)
        assert orphan.wait(timeout=10) == -signal.SIGTERM
    finally:
        if orphan.poll() is None:
            orphan.kill()
            orphan.wait()
    assert stopped == [job.job_id]
    assert finished.job_id not in stopped
    # Reconciliation then fails the job whose process is gone.
    services.jobs_reconcile(runner=LocalRunner())
    assert jobs_repo.get(job.job_id).status == JobStatus.FAILED
