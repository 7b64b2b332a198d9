"""The configure page belongs to jobs: the datasets app never imports jobs, and the page and
its fragments are served by jobs' views at the dataset's own URLs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.urls import resolve, reverse

from jobs import views

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_datasets_app_never_imports_jobs():
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            m for m in imported_modules(path) if m.split(".")[0] == "jobs"
        )
        for path in (ROOT / "datasets").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_jobs_never_imports_the_dataset_views():
    for path in (ROOT / "jobs").rglob("*.py"):
        assert "datasets.views" not in imported_modules(path), path


@pytest.mark.parametrize(
    ("name", "view"),
    [
        ("datasets:detail", views.job_configure),
        ("datasets:analysis", views.job_configure_analysis),
        ("datasets:target", views.job_configure_target),
    ],
)
def test_the_configure_urls_are_served_by_jobs(name, view):
    url = reverse(name, args=["4b1c3f0e-9a55-4d3f-8c1e-1f1f1f1f1f1f"])
    assert url.startswith("/datasets/") and resolve(url).func is view
