"""deploy/build_lambda.py: the Lambda zip, its contents and the 250 MiB unzipped check."""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("build_lambda", REPO / "deploy" / "build_lambda.py")
build_lambda = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_lambda)


def _tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def test_it_measures_the_unzipped_size_against_the_limit(tmp_path):
    root = _tree(tmp_path / "pkg", {"a/x.py": b"x" * 1000, "b/y.so": b"y" * 3000})

    assert build_lambda.check_size(root, limit=4000) == 4000


def test_it_refuses_a_package_over_the_limit_naming_the_largest_parts(tmp_path):
    root = _tree(tmp_path / "pkg", {"small/x.py": b"x" * 10, "huge/y.so": b"y" * 5 * 1024**2})

    with pytest.raises(build_lambda.TooLarge) as caught:
        build_lambda.check_size(root, limit=1024**2)

    assert "Unzipped package is 5 MiB, over Lambda's 1 MiB limit" in str(caught.value)
    assert str(caught.value).index("huge") < str(caught.value).index("small")


def test_it_uses_lambdas_documented_limit():
    assert build_lambda.LAMBDA_UNZIPPED_LIMIT == 250 * 1024**2


def test_it_writes_a_reproducible_zip(tmp_path):
    root = _tree(tmp_path / "pkg", {"m/__init__.py": b"", "m/a.py": b"A = 1\n", "z.txt": b"z"})

    first = tmp_path / "one.zip"
    second = tmp_path / "two.zip"
    build_lambda.write_zip(root, first)
    (root / "m" / "a.py").touch()  # a newer mtime must not change the archive
    build_lambda.write_zip(root, second)

    assert first.read_bytes() == second.read_bytes()
    assert zipfile.ZipFile(first).namelist() == ["m/__init__.py", "m/a.py", "z.txt"]


def test_it_copies_the_app_without_caches_or_tests(tmp_path):
    build_lambda.copy_app(tmp_path)

    assert (tmp_path / "automl_lite" / "lambda_handler.py").is_file()
    assert (tmp_path / "training_image" / "contract.py").is_file()
    assert (tmp_path / "manage.py").is_file()
    assert not list(tmp_path.rglob("__pycache__"))
    assert not (tmp_path / "tests").exists()


@pytest.mark.slow
def test_it_builds_a_zip_lambda_can_run(tmp_path):
    """A real build (pip from PyPI, collectstatic) with a requirement set that fits."""
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("apig-wsgi==2.20.0\n")
    out = tmp_path / "fn.zip"

    unzipped, zipped = build_lambda.build(
        requirements=requirements, out=out, python_version="3.12", work=tmp_path
    )

    names = set(zipfile.ZipFile(out).namelist())
    assert {"automl_lite/lambda_handler.py", "apig_wsgi/__init__.py", "manage.py"} <= names
    assert "staticfiles/staticfiles.json" in names  # the manifest whitenoise needs in AWS mode
    assert not [n for n in names if n.endswith(".pyc")]
    assert zipped < unzipped < build_lambda.LAMBDA_UNZIPPED_LIMIT
    assert (
        build_lambda.main(
            ["--requirements", str(requirements), "--out", str(out), "--limit-mib", "1"]
        )
        == 1
    )
