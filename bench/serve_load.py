"""Loopback load against `manage.py runlocal`: req/s and p99 of the progress fragment,
the job list and predict.

    .venv/bin/python bench/serve_load.py                 # runlocal as it serves by default
    .venv/bin/python bench/serve_load.py --dev           # runlocal --dev (Django's runserver)
    .venv/bin/python bench/serve_load.py --base http://127.0.0.1:8000   # a running server

Without `--base` it starts `runlocal` on a free loopback port with a var dir of its own,
uploads iris (sklearn), trains it with the smallest budget (AUTOML_MIN_TIME_BUDGET=10) through
the configure form, deploys the model, runs the load and stops the server (SIGTERM). The load
is `--threads` client threads (default 8) for `--seconds` (default 20), each request picking
the next of: the progress fragment, `GET /api/jobs`, `POST /api/predict/{id}`, round robin.
Loopback callers are signed in as the local user, so no credentials are needed.

Prints one line per endpoint and a total: requests, errors, req/s, p50 and p99 in ms.
"""

from __future__ import annotations

import argparse
import io
import itertools
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

REPO = Path(__file__).resolve().parent.parent
START_TIMEOUT = 120
TRAIN_TIMEOUT = 300


def http_session() -> requests.Session:
    """A session that retries idempotent requests on a dropped connection."""
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=Retry(total=3, backoff_factor=0.2)))
    return session


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, step: float = 1.0):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise SystemExit(f"timed out waiting for {what}")


def start_server(dev: bool) -> tuple[subprocess.Popen, str, Path]:
    port = free_port()
    var = Path(tempfile.mkdtemp(prefix="serve-load-"))
    env = {**os.environ, "AUTOML_VAR_DIR": str(var), "AUTOML_MIN_TIME_BUDGET": "10"}
    command = [sys.executable, "manage.py", "runlocal", "--addr", f"127.0.0.1:{port}"]
    if dev:
        command.append("--dev")
    log = open(var / "runlocal.log", "wb")  # noqa: SIM115 - kept open for the child
    server = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return requests.get(f"{base}/api/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    wait_for(up, START_TIMEOUT, "the server to answer")
    return server, base, var


def stop_server(server: subprocess.Popen) -> None:
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def iris_csv() -> bytes:
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame
    frame["target"] = frame["target"].map(dict(enumerate(["setosa", "versicolor", "virginica"])))
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode()


def prepare_job(base: str) -> tuple[str, dict]:
    """Upload iris, train it through the configure form, deploy; the job id and a row."""
    session = http_session()
    upload = session.post(f"{base}/api/upload", json={"filename": "iris.csv"}, timeout=30)
    upload.raise_for_status()
    dataset_id = upload.json()["dataset_id"]
    session.put(
        f"{base}/api/datasets/{dataset_id}/file",
        data=iris_csv(),
        headers={"Content-Type": "text/csv"},
        timeout=60,
    ).raise_for_status()
    session.post(f"{base}/api/datasets/{dataset_id}/confirm", timeout=120).raise_for_status()
    session.get(f"{base}/datasets/{dataset_id}/", timeout=30).raise_for_status()
    created = session.post(
        f"{base}/jobs/create/",
        data={
            "dataset_id": dataset_id,
            "target_column": "target",
            "time_budget": "10",
            "csrfmiddlewaretoken": session.cookies.get("csrftoken", ""),
        },
        headers={"X-CSRFToken": session.cookies.get("csrftoken", "")},
        timeout=60,
        allow_redirects=False,
    )
    if created.status_code != 302:
        raise SystemExit(f"the job was not created: {created.status_code} {created.text[:300]}")
    job_id = created.headers["Location"].rstrip("/").rsplit("/", 1)[-1]

    def finished() -> str | None:
        status = session.get(f"{base}/api/jobs/{job_id}", timeout=30).json()["status"]
        return status if status in ("completed", "failed") else None

    if wait_for(finished, TRAIN_TIMEOUT, "the training", step=2) != "completed":
        raise SystemExit(f"job {job_id} failed")
    session.post(
        f"{base}/api/jobs/{job_id}/deploy", json={"deploy": True}, timeout=30
    ).raise_for_status()
    row = {
        "sepal length (cm)": 5.1,
        "sepal width (cm)": 3.5,
        "petal length (cm)": 1.4,
        "petal width (cm)": 0.2,
    }
    return job_id, row


def run_load(base: str, job_id: str, row: dict, *, seconds: float, threads: int) -> None:
    targets = [
        ("progress fragment", "GET", f"{base}/jobs/{job_id}/progress/", None),
        ("job list", "GET", f"{base}/api/jobs", None),
        ("predict", "POST", f"{base}/api/predict/{job_id}", {"features": row}),
    ]
    order = itertools.cycle(range(len(targets)))
    lock = threading.Lock()
    latencies: dict[str, list[float]] = {name: [] for name, *_ in targets}
    errors: dict[str, int] = {name: 0 for name, *_ in targets}
    stop_at = time.monotonic() + seconds
    local = threading.local()

    def worker() -> None:
        local.session = requests.Session()  # no retries: a dropped request is an error
        while time.monotonic() < stop_at:
            with lock:
                name, method, url, body = targets[next(order)]
            started = time.perf_counter()
            try:
                response = local.session.request(method, url, json=body, timeout=30)
                ok = response.status_code == 200
            except requests.RequestException:
                ok = False
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                latencies[name].append(elapsed)
                errors[name] += 0 if ok else 1

    began = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        for _ in range(threads):
            pool.submit(worker)
    wall = time.monotonic() - began
    everything: list[float] = []
    print(f"{threads} threads, {wall:.1f} s against {base}")
    for name, values in latencies.items():
        everything.extend(values)
        print(line(name, values, errors[name], wall))
    print(line("total", everything, sum(errors.values()), wall))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def line(name: str, values: list[float], errors: int, wall: float) -> str:
    return (
        f"{name:18} {len(values):6d} req  {errors:4d} errors  {len(values) / wall:7.1f} req/s  "
        f"p50 {percentile(values, 0.50):7.1f} ms  p99 {percentile(values, 0.99):7.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", help="an already running server (default: start runlocal)")
    parser.add_argument("--dev", action="store_true", help="start `runlocal --dev`")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    if not 1 <= args.seconds <= 60:
        parser.error("--seconds must be between 1 and 60")
    server = None
    try:
        if args.base:
            base = args.base.rstrip("/")
        else:
            server, base, _var = start_server(args.dev)
        job_id, row = prepare_job(base)
        run_load(base, job_id, row, seconds=args.seconds, threads=args.threads)
    finally:
        if server is not None:
            stop_server(server)


if __name__ == "__main__":
    main()
