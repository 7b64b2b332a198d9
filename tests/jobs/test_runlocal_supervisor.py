"""`runlocal` is a supervisor: `kill -9` of the training worker mid-training leaves the web
serving, the worker is started again, the orphaned training dies with its worker and, with
the limit at 1, no two trainings ever run at once (a second job starts only afterwards).

A real `runlocal` (gunicorn, both Celery workers, beat) on a free loopback port with its own
AUTOML_VAR_DIR; every wait is bounded and no assertion is about wall-clock time.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

ROOT = Path(__file__).resolve().parents[2]


def test_restarts_back_off_from_one_second_to_a_minute():
    from jobs.management.commands.runlocal import backoff_seconds

    assert [backoff_seconds(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]


def test_runlocal_serves_with_the_web_image_gunicorn_settings_and_dev_with_runserver():
    import json
    import re

    from cfnlint.decode import decode

    from jobs.management.commands.runlocal import GUNICORN_CONFIG, web_command

    served = web_command("127.0.0.1:8123", dev=False)
    assert served[1:5] == ["-m", "gunicorn", "-c", str(GUNICORN_CONFIG)]
    assert served[-3:] == ["--bind", "127.0.0.1:8123", "automl_lite.wsgi"]
    dev = web_command("127.0.0.1:8123", dev=True)
    assert dev[-2:] == ["runserver", "127.0.0.1:8123"]  # autoreloading: no --noreload
    image = re.search(r"^CMD (.+)$", (ROOT / "deploy/web.Dockerfile").read_text(), re.M)
    template, problems = decode(str(ROOT / "deploy/automl-lite.yaml"))
    assert not problems
    (web,) = template["Resources"]["WebTaskDefinition"]["Properties"]["ContainerDefinitions"]
    expected = ["gunicorn", "-c", "automl_lite/gunicorn.conf.py", "automl_lite.wsgi"]
    assert json.loads(image.group(1)) == expected
    assert web["Command"] == expected  # the ECS web service (WebRuntime=ecs)
    assert GUNICORN_CONFIG == ROOT / "automl_lite" / "gunicorn.conf.py"
    config: dict = {}
    exec(GUNICORN_CONFIG.read_text(), config)  # noqa: S102 - our own settings file
    assert config["worker_class"] == "gthread" and config["threads"] > 1


def http_session() -> requests.Session:
    """A session that retries idempotent requests on a dropped connection."""
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=Retry(total=3, backoff_factor=0.2)))
    return session


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, step: float = 0.5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return None


def children_of(pid: int) -> dict[int, str]:
    """pid -> command line of the direct children of `pid` (from /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            ppid = int(stat.rpartition(")")[2].split()[1])
            if ppid == pid:
                found[int(entry.name)] = (
                    (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                )
        except (OSError, ValueError, IndexError):
            continue
    return found


def training_processes(job_ids: set[str]) -> dict[str, set[int]]:
    """job id -> pids of live processes carrying AUTOML_JOB_ID=<id> (the training containers)."""
    found: dict[str, set[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            env = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        for item in env:
            if item.startswith(b"AUTOML_JOB_ID="):
                job_id = item.split(b"=", 1)[1].decode()
                if job_id in job_ids:
                    found.setdefault(job_id, set()).add(int(entry.name))
    return found


def training_worker(server_pid: int) -> int | None:
    workers = [p for p, cmd in children_of(server_pid).items() if "-Q training" in cmd]
    return workers[0] if workers else None


def iris_csv() -> bytes:
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode()


def start_job(session: requests.Session, base: str, dataset_id: str) -> str:
    token = session.cookies.get("csrftoken", "")
    response = session.post(
        f"{base}/jobs/create/",
        data={
            "dataset_id": dataset_id,
            "target_column": "target",
            "time_budget": "60",
            "csrfmiddlewaretoken": token,
        },
        timeout=60,
        allow_redirects=False,
    )
    assert response.status_code == 302, response.text[:500]
    return response.headers["Location"].rstrip("/").rsplit("/", 1)[-1]


def job_status(session: requests.Session, base: str, job_id: str) -> str:
    return session.get(f"{base}/api/jobs/{job_id}", timeout=30).json()["status_detail"]


@pytest.mark.slow
def test_a_killed_training_worker_is_restarted_and_its_training_does_not_outlive_it(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    var = tmp_path / "var"
    var.mkdir()
    env = {
        **os.environ,
        "AUTOML_VAR_DIR": str(var),
        "AUTOML_MIN_TIME_BUDGET": "10",
        "AUTOML_LOCAL_CONCURRENCY": "1",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    log = open(tmp_path / "runlocal.log", "wb")  # noqa: SIM115 - the child writes to it
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runlocal", "--addr", f"127.0.0.1:{port}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    ours: set[str] = set()
    most_at_once = {"value": 0}
    sampling = threading.Event()

    counted = threading.Lock()

    def observe() -> dict[str, set[int]]:
        """The training processes now, counted towards the most seen at once."""
        found = training_processes(ours)
        with counted:
            most_at_once["value"] = max(most_at_once["value"], len(found))
        return found

    def sample() -> None:
        # A scan of /proc can take longer than a training lives on a busy machine: the main
        # thread's own looks count too (observe), so a slow sampler misses no overlap it saw.
        while not sampling.is_set():
            observe()
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    try:

        def healthy() -> bool:
            try:
                return requests.get(f"{base}/api/health", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        assert wait_for(healthy, 120), (tmp_path / "runlocal.log").read_text()[-3000:]
        session = http_session()
        dataset_id = session.post(
            f"{base}/api/upload", json={"filename": "iris.csv"}, timeout=30
        ).json()["dataset_id"]
        session.put(f"{base}/api/datasets/{dataset_id}/file", data=iris_csv(), timeout=60)
        assert session.post(f"{base}/api/datasets/{dataset_id}/confirm", timeout=120).ok
        session.get(f"{base}/datasets/{dataset_id}/", timeout=30)  # the CSRF cookie
        sampler.start()
        first = start_job(session, base, dataset_id)
        ours.add(first)
        second = start_job(session, base, dataset_id)
        ours.add(second)

        # The first job trains; the second waits for the one slot.
        pids = wait_for(lambda: observe().get(first), 120)
        assert pids, (tmp_path / "runlocal.log").read_text()[-3000:]
        assert job_status(session, base, second) == "queued"
        worker = training_worker(server.pid)
        assert worker is not None
        os.kill(worker, signal.SIGKILL)

        # The orphan dies with its worker, the web keeps serving, a new worker starts.
        assert wait_for(lambda: not training_processes({first}), 30)
        assert healthy()
        restarted = wait_for(lambda: (training_worker(server.pid) or worker) != worker, 90)
        assert restarted, (tmp_path / "runlocal.log").read_text()[-3000:]
        # The first job is reconciled (its process is gone); then the second one trains.
        assert wait_for(lambda: job_status(session, base, first) == "failed", 90)
        assert wait_for(lambda: observe().get(second), 120)
        # (The container claims its record itself, a moment after it starts.)
        assert wait_for(lambda: job_status(session, base, second) == "running", 60)
        assert healthy()
        assert "training worker restarted" in (tmp_path / "runlocal.log").read_text()
    finally:
        sampling.set()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        for pids in training_processes(ours).values():
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
        log.close()
    assert most_at_once["value"] == 1
    assert server.returncode == 0, (tmp_path / "runlocal.log").read_text()[-3000:]
