"""A model that works anywhere: the results page's snippets run in a bare Python, and
`manage.py predict` scores a file.

The snippets run exactly as the page shows them, with `python -I` (no current folder, no
PYTHONPATH, no user site) in an empty folder, with this virtualenv's interpreter: the ML
libraries are importable, this project's code is not.
"""

from __future__ import annotations

import ast
import csv
import html
import os
import pickle
import re
import subprocess
import sys

import pandas as pd
import pytest
from django.core.management import CommandError, call_command

from jobs import snippets
from jobs.inference import model_cache
from tests.jobs.trained import mixed_frame, store_trained_job, train
from training_image.contract import MODEL_CARD, MODEL_ONNX, MODEL_PKL

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

ROWS = 30


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("mixed-model")
    frame = mixed_frame()
    return frame, train(frame, "churn", out), out


@pytest.fixture
def job(alice, iris, trained):
    model_cache.clear()
    _, result, out = trained
    return store_trained_job(alice, iris, result, out)


def bare_python(code: str, cwd) -> str:
    """Run `code` in a Python that sees the ML libraries and none of this project."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DJANGO_SETTINGS_MODULE")}
    done = subprocess.run(
        [sys.executable, "-I", "-c", code], cwd=cwd, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def shown_snippet(page: str, name: str) -> str:
    match = re.search(rf'data-snippet="{name}"><code>(.*?)</code>', page, re.DOTALL)
    assert match, f"the results page shows no {name} snippet"
    return html.unescape(match.group(1))


def empty_folder_with(tmp_path, job, trained, *names):
    frame, _, out = trained
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    for name in names:
        (folder / snippets.download_name(job, name)).write_bytes((out / name).read_bytes())
    frame.drop(columns=["churn"]).head(ROWS).to_csv(folder / "rows.csv", index=False)
    assert bare_python(
        "import importlib.util as u; print(u.find_spec('training_image'))", folder
    ) == ("None\n")
    return folder


def test_the_pickle_snippet_on_the_results_page_runs_in_a_bare_python(
    alice_client, job, trained, tmp_path
):
    frame, result, out = trained
    page = alice_client.get(f"/jobs/{job.job_id}/").content.decode()
    code = shown_snippet(page, "pickle")
    assert "pickle.load(f)" in code
    folder = empty_folder_with(tmp_path, job, trained, MODEL_PKL)

    printed = bare_python(code, folder)

    expected = pickle.loads((out / MODEL_PKL).read_bytes()).predict(
        frame.drop(columns=["churn"]).head(ROWS)
    )
    first = printed.split("]", 1)[0]
    assert re.findall(r"'(yes|no)'", first) == list(expected)
    assert "[[" in printed  # then the probabilities


def test_the_onnx_snippet_on_the_results_page_runs_with_onnxruntime_alone(
    alice_client, job, trained, tmp_path
):
    from jobs import inference

    frame, _, _ = trained
    page = alice_client.get(f"/jobs/{job.job_id}/").content.decode()
    code = shown_snippet(page, "onnx")
    assert "import pandas" not in code and "training_image" not in code
    folder = empty_folder_with(tmp_path, job, trained, MODEL_ONNX, MODEL_CARD)

    printed = bare_python(code, folder)

    labels = ast.literal_eval(printed.splitlines()[0])
    with open(folder / "rows.csv", newline="") as handle:
        cells = list(csv.DictReader(handle))
    columns = {c: [row[c] or None for row in cells] for c in cells[0]}
    served = inference.predict_columns(job, columns, len(cells))
    assert labels == list(served.labels)
    assert len(labels) == ROWS


def test_manage_py_predict_writes_one_prediction_per_row(job, trained, tmp_path):
    frame, _, out = trained
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    frame.drop(columns=["churn"]).to_csv(source, index=False)

    call_command("predict", job.job_id, str(source), str(target))

    scored = pd.read_csv(target)
    assert len(scored) == len(frame)
    model = pickle.loads((out / MODEL_PKL).read_bytes())
    agree = (scored["prediction"] == model.predict(frame.drop(columns=["churn"]))).mean()
    assert agree > 0.99  # ONNX and the pickle agree but for exact ties


def test_manage_py_predict_says_what_is_wrong(job, tmp_path):
    with pytest.raises(CommandError, match="not found"):
        call_command("predict", "nope", str(tmp_path / "in.csv"), str(tmp_path / "out.csv"))
    with pytest.raises(CommandError, match="No such file"):
        call_command("predict", job.job_id, str(tmp_path / "in.csv"), str(tmp_path / "out.csv"))
