"""Build the Lambda deployment zip and check it against Lambda's 250 MB unzipped limit.

    python deploy/build_lambda.py                      # requirements-web.txt -> dist/
    python deploy/build_lambda.py --requirements r.txt --out dist/fn.zip --limit-mib 250

Steps: copy the app's code (no tests, no local data), collect static files into it (with
this interpreter, AWS settings, placeholder names), install the requirements as Linux
x86_64 wheels for the Lambda runtime's Python into the same folder (no .pyc: Lambda
cannot write them and they double the size), measure the unzipped size, and write a
reproducible zip (sorted entries, fixed timestamps). Exit status 1 when the unzipped size
is over the limit, with the largest packages listed.

The runtime is python3.12 (Amazon Linux 2023, glibc 2.34): the pinned numpy, pyarrow and
polars wheels need glibc >= 2.27, which the python3.11 runtime (Amazon Linux 2, glibc
2.26) does not have. The web requirements as pinned measure about 603 MiB unzipped, so
deploy/automl-lite.yaml runs both functions from the web image instead (10 GB limit);
this script is the check that says so, and builds the zip for any requirement set that fits.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LAMBDA_UNZIPPED_LIMIT = 262_144_000  # bytes: Lambda's "250 MB unzipped, including layers"
APP_PACKAGES = ("automl_lite", "core", "datasets", "jobs", "training_image")
APP_FOLDERS = ("templates", "static")
APP_FILES = ("manage.py",)
# glibc 2.34 (Amazon Linux 2023) runs every manylinux tag up to 2_34.
PLATFORMS = (
    "manylinux_2_34_x86_64",
    "manylinux_2_28_x86_64",
    "manylinux_2_17_x86_64",
    "manylinux2014_x86_64",
)
SKIPPED = ("__pycache__", "*.pyc", "tests", ".pytest_cache")
# Names the AWS settings require; collectstatic only needs them to exist.
BUILD_ENV = {
    "AUTOML_BACKEND": "aws",
    "DJANGO_SECRET_KEY": "collectstatic-only",
    "AWS_REGION": "us-east-1",
    "AUTOML_DATASETS_BUCKET": "build",
    "AUTOML_MODELS_BUCKET": "build",
    "AUTOML_REPORTS_BUCKET": "build",
    "AUTOML_DATASETS_TABLE": "build",
    "AUTOML_JOBS_TABLE": "build",
    "AUTOML_BATCHES_TABLE": "build",
    "AUTOML_BATCH_JOB_QUEUE": "build",
    "AUTOML_BATCH_JOB_DEFINITION": "build",
}


class TooLarge(RuntimeError):
    """The unzipped package is over Lambda's limit."""


def copy_app(target: Path, repo: Path = REPO) -> None:
    """Copy the app's packages, templates, static sources and manage.py into `target`."""
    ignore = shutil.ignore_patterns(*SKIPPED)
    for name in (*APP_PACKAGES, *APP_FOLDERS):
        if (repo / name).is_dir():
            shutil.copytree(repo / name, target / name, ignore=ignore, dirs_exist_ok=True)
    for name in APP_FILES:
        shutil.copy2(repo / name, target / name)


def collect_static(app: Path) -> None:
    """Run collectstatic on the copied app (STATIC_ROOT lands inside it)."""
    env = {**os.environ, **BUILD_ENV, "PYTHONPATH": str(app), "AUTOML_VAR_DIR": str(app / "var")}
    subprocess.run(  # our interpreter, our manage.py
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=app,
        env=env,
        check=True,
    )
    shutil.rmtree(app / "var", ignore_errors=True)


def install_requirements(target: Path, requirements: Path, python_version: str) -> None:
    """pip install the requirements as Lambda-platform wheels into `target` (no .pyc)."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--target",
        str(target),
        "--implementation",
        "cp",
        "--python-version",
        python_version,
        "--only-binary=:all:",
        "--upgrade",
        "-r",
        str(requirements),
    ]
    for platform in PLATFORMS:
        command += ["--platform", platform]
    subprocess.run(command, check=True)


def mib(size: int) -> float:
    return size / 1024**2


def file_sizes(root: Path) -> Iterable[tuple[Path, int]]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path, path.stat().st_size


def unzipped_size(root: Path) -> int:
    return sum(size for _, size in file_sizes(root))


def largest_entries(root: Path, count: int = 12) -> list[tuple[str, int]]:
    """The top-level entries of `root` by size, largest first."""
    totals: dict[str, int] = {}
    for path, size in file_sizes(root):
        top = path.relative_to(root).parts[0]
        totals[top] = totals.get(top, 0) + size
    return sorted(totals.items(), key=lambda item: -item[1])[:count]


def check_size(root: Path, limit: int = LAMBDA_UNZIPPED_LIMIT) -> int:
    """The unzipped size of `root`; TooLarge (naming the largest parts) when over `limit`."""
    size = unzipped_size(root)
    if size > limit:
        parts = ", ".join(f"{name} {mib(bytes_):.0f} MiB" for name, bytes_ in largest_entries(root))
        raise TooLarge(
            f"Unzipped package is {mib(size):.0f} MiB, over Lambda's {mib(limit):.0f} MiB limit. "
            f"Largest parts: {parts}. Deploy the web image instead (see deploy/README.md)."
        )
    return size


def write_zip(root: Path, out: Path) -> int:
    """A reproducible zip of `root` (sorted names, fixed timestamps); returns its size."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path, _size in file_sizes(root):
            name = path.relative_to(root).as_posix()
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return out.stat().st_size


def build(
    *,
    requirements: Path,
    out: Path,
    python_version: str,
    limit: int = LAMBDA_UNZIPPED_LIMIT,
    work: Path | None = None,
) -> tuple[int, int]:
    """Build the zip; returns (unzipped bytes, zip bytes). Raises TooLarge before zipping."""
    with tempfile.TemporaryDirectory(dir=work) as scratch:
        app = Path(scratch) / "package"
        app.mkdir()
        copy_app(app)
        collect_static(app)
        install_requirements(app, requirements, python_version)
        size = check_size(app, limit)
        return size, write_zip(app, out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requirements", type=Path, default=REPO / "requirements-web.txt")
    parser.add_argument("--out", type=Path, default=REPO / "dist" / "automl-lite-lambda.zip")
    parser.add_argument("--python-version", default="3.12", help="Lambda runtime's Python")
    parser.add_argument(
        "--limit-mib", type=float, default=mib(LAMBDA_UNZIPPED_LIMIT), help="unzipped limit (MiB)"
    )
    args = parser.parse_args(argv)
    try:
        size, zipped = build(
            requirements=args.requirements,
            out=args.out,
            python_version=args.python_version,
            limit=int(args.limit_mib * 1024**2),
        )
    except TooLarge as exc:
        print(f"build_lambda: {exc}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as exc:
        print(
            f"build_lambda: {' '.join(exc.cmd[:4])} ... failed ({exc.returncode})", file=sys.stderr
        )
        return 1
    print(f"{args.out}: {mib(zipped):.1f} MiB zipped, {mib(size):.1f} MiB unzipped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
