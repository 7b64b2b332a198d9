"""Cold-start benchmark: import and first request of the Lambda handler in a fresh process.

Each run is a new interpreter (as a Lambda init is) in AWS mode: `AUTOML_BACKEND=aws`
with dummy bucket, table, queue and job-definition names, fake AWS credentials, the
secret key passed directly (no Secrets Manager read) and `AWS_ENDPOINT_URL` pointing at
a closed local port, so nothing can reach a network: importing the handler and serving
`GET /api/health` touch no AWS service. The child measures

- **import**: `import automl_lite.lambda_handler` (Django set up, apps loaded), and
- **first request**: `handler(event, None)` with an API Gateway HTTP API (payload 2.0)
  event for `GET /api/health` (builds the WSGI app, resolves the URL, runs the view),

once **with bytecode** (every module the handler loads `compileall`-ed into a temporary
`-X pycache_prefix`, as the web image ships it) and once **without** (an empty
`pycache_prefix` and `PYTHONDONTWRITEBYTECODE=1`: every module is compiled from source,
the standard library included). Prints the median of `--runs` (default 5) of each (and the
import's CPU time, steadier than wall time on a shared machine), e.g.

    cold start: import 640 ms with bytecode, 1900 ms without; first request 35 ms
    target: import <= 1000 ms with bytecode: met

    .venv/bin/python bench/cold_start.py            # 5 runs of each (~20 s)
    .venv/bin/python bench/cold_start.py --runs 1   # a quick look
    .venv/bin/python -X importtime -c "import automl_lite.lambda_handler"  # what is slow
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_IMPORT_MS = 1000.0
HOST = "abc123.execute-api.us-east-1.amazonaws.com"

# The child: times the import and the first request, reports them (and the files it loaded).
CHILD = """
import json, sys, time
t0, c0 = time.perf_counter(), time.process_time()
from automl_lite.lambda_handler import handler
t1, c1 = time.perf_counter(), time.process_time()
response = handler(json.loads(sys.argv[1]), None)
t2, c2 = time.perf_counter(), time.process_time()
files = sorted({
    f for m in list(sys.modules.values())
    if (f := getattr(m, "__file__", None)) and f.endswith(".py")
})
print(json.dumps({
    "import_ms": (t1 - t0) * 1000, "request_ms": (t2 - t1) * 1000,
    "import_cpu_ms": (c1 - c0) * 1000, "request_cpu_ms": (c2 - c1) * 1000,
    "status": response["statusCode"], "body": response["body"], "files": files,
}))
"""


def health_event() -> dict:
    """An API Gateway HTTP API (payload 2.0) event for `GET /api/health`."""
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/api/health",
        "rawQueryString": "",
        "cookies": [],
        "headers": {"host": HOST, "user-agent": "bench"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": HOST,
            "http": {
                "method": "GET",
                "path": "/api/health",
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.9",
                "userAgent": "bench",
            },
            "requestId": "bench-1",
            "routeKey": "$default",
            "stage": "$default",
            "timeEpoch": 1_790_000_000_000,
        },
        "body": "",
        "isBase64Encoded": False,
    }


def aws_mode_env(var_dir: Path) -> dict[str, str]:
    """The child's whole environment: AWS mode on dummy resources, no way to a network."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(var_dir),
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "automl_lite.settings",
        "AUTOML_BACKEND": "aws",
        "AUTOML_VAR_DIR": str(var_dir),
        "AUTOML_LOG_LEVEL": "WARNING",
        "DJANGO_SECRET_KEY": "bench-cold-start-not-secret",  # noqa: S105 - no Secrets Manager read
        "DJANGO_ALLOWED_HOSTS": HOST,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
        # A closed port: any AWS call at import or in the health request fails at once.
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AUTOML_DATASETS_BUCKET": "bench-datasets",
        "AUTOML_MODELS_BUCKET": "bench-models",
        "AUTOML_REPORTS_BUCKET": "bench-reports",
        "AUTOML_DATASETS_TABLE": "bench-datasets",
        "AUTOML_JOBS_TABLE": "bench-jobs",
        "AUTOML_BATCHES_TABLE": "bench-batches",
        "AUTOML_BATCH_JOB_QUEUE": "bench-queue",
        "AUTOML_BATCH_JOB_DEFINITION": "bench-training",
        "AUTOML_SQS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bench-tasks",
    }
    return env


def run_child(prefix: Path, var_dir: Path, *, write_bytecode: bool) -> dict:
    """One fresh interpreter: its import and first-request times (ms) and loaded files."""
    env = aws_mode_env(var_dir)
    if not write_bytecode:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    completed = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-X", f"pycache_prefix={prefix}", "-c", CHILD, json.dumps(health_event())],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the cold-start child failed:\n{completed.stderr[-3000:]}")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    body = json.loads(result["body"]) if result["status"] == 200 else {}
    if body.get("status") != "healthy" or body.get("backend") != "aws":
        raise RuntimeError(f"GET /api/health answered {result['status']}: {result['body'][:300]}")
    return result


def compile_into(prefix: Path, files: list[str], var_dir: Path) -> None:
    """`compileall` the given source files into `prefix` (a `-X pycache_prefix` tree)."""
    subprocess.run(  # noqa: S603
        [sys.executable, "-X", f"pycache_prefix={prefix}", "-m", "compileall", "-q", "-i", "-"],
        input="\n".join(files),
        cwd=ROOT,
        env=aws_mode_env(var_dir),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )


def measure(n: int = 5) -> dict[str, float]:
    """Median ms of `n` fresh processes each: import with and without bytecode, first request.

    Returns:
        `import_with_bytecode_ms`, `import_without_bytecode_ms`, `first_request_ms` (the
        first request with bytecode), `import_with_bytecode_cpu_ms` (the import's CPU
        time, steadier than wall time on a busy machine) and `modules` (source files the
        handler loaded).
    """
    with tempfile.TemporaryDirectory(prefix="automl-cold-") as tmp:
        base = Path(tmp)
        var_dir = base / "var"
        var_dir.mkdir()
        without, with_, requests, with_cpu = [], [], [], []
        files: list[str] = []
        for i in range(n):
            empty = base / f"empty-{i}"
            empty.mkdir()
            run = run_child(empty, var_dir, write_bytecode=False)
            without.append(run["import_ms"])
            files = run["files"]
        compiled = base / "compiled"
        compile_into(compiled, files, var_dir)
        for _ in range(n):
            run = run_child(compiled, var_dir, write_bytecode=False)
            with_.append(run["import_ms"])
            with_cpu.append(run["import_cpu_ms"])
            requests.append(run["request_ms"])
    return {
        "import_with_bytecode_ms": statistics.median(with_),
        "import_with_bytecode_cpu_ms": statistics.median(with_cpu),
        "import_without_bytecode_ms": statistics.median(without),
        "first_request_ms": statistics.median(requests),
        "modules": float(len(files)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per figure")
    args = parser.parse_args(argv)
    result = measure(max(1, args.runs))
    with_ms = result["import_with_bytecode_ms"]
    print(
        f"cold start: import {with_ms:.0f} ms with bytecode, "
        f"{result['import_without_bytecode_ms']:.0f} ms without; "
        f"first request {result['first_request_ms']:.0f} ms "
        f"(median of {args.runs}, {result['modules']:.0f} modules loaded; "
        f"import CPU time {result['import_with_bytecode_cpu_ms']:.0f} ms with bytecode)"
    )
    verdict = "met" if with_ms <= TARGET_IMPORT_MS else "NOT met"
    print(f"target: import <= {TARGET_IMPORT_MS:.0f} ms with bytecode: {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
