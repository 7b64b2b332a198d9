"""Quality benchmark: our pipeline vs the earlier edition's (and optionally AutoGluon).

For every non-awkward dataset in `../shared/datasets/manifest.json`: one outer 75/25 split
(seed 0, stratified for classification); each side trains on the 75 % with the same time budget
in a fresh process limited to one thread, and is scored on the 25 % with the task's metric
(binary ROC AUC, multiclass accuracy, regression R²). Prints a table and the mean difference,
and writes `bench/results/quality-<budget>.json`.

    .venv/bin/python bench/quality.py --only iris,penguins,diabetes --budget 10
    .venv/bin/python bench/quality.py                      # all datasets, 60 s each side
    .venv/bin/python bench/quality.py --autogluon          # + AutoGluon (see bench/README.md)

Each side runs as `python -m bench.quality --worker <side> --work-dir <dir>`, which reads the
split from parquet files and writes its score as JSON; the AutoGluon side runs the same worker
with the interpreter of `bench/.venv-autogluon`. This module is imported by that environment
too, so its top level needs only pandas, numpy and scikit-learn.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.model_selection import train_test_split

ROOT = Path(__file__).resolve().parents[1]
DATASETS_DIR = Path(__file__).resolve().parents[2] / "shared" / "datasets"
RESULTS_DIR = Path(__file__).resolve().parent / "results"
AUTOGLUON_PYTHON = Path(__file__).resolve().parent / ".venv-autogluon" / "bin" / "python"

OUTER_TEST_SIZE = 0.25
OUTER_SEED = 0
OUR_SEED = 42
DEFAULT_BUDGET = 60
SIDES = ("ours", "reference")
AUTOGLUON = "autogluon"
TASK_METRICS = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "r2"}
# Columns a user would exclude because they are the target in disguise (manifest notes:
# casual + registered == cnt). Removed before the split, for every side.
LEAKAGE_COLUMNS = {"bike_sharing_hour": ("casual", "registered")}
# One thread per side: the machine has 2 shared cores and both sides must get the same CPU.
STDERR_TAIL_LINES = 30
THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}


# --------------------------------------------------------------------------- datasets


def load_manifest(datasets_dir: Path = DATASETS_DIR) -> list[dict[str, Any]]:
    """The manifest's benchmark datasets: not awkward, with rows, a target and a task."""
    entries = json.loads((datasets_dir / "manifest.json").read_text(encoding="utf-8"))
    return [
        e
        for e in entries
        if not e.get("awkward") and e.get("rows") and e.get("target") and e.get("task")
    ]


def read_dataset(entry: dict[str, Any], datasets_dir: Path = DATASETS_DIR) -> pd.DataFrame:
    """Read one dataset exactly as its manifest entry says, minus known leakage columns."""
    df = pd.read_csv(
        datasets_dir / entry["file"],
        sep=entry["delimiter"],
        encoding=entry["encoding"],
        decimal=entry["decimal"],
        keep_default_na=False,
        na_values=entry["na_values"],
    )
    leaks = [c for c in LEAKAGE_COLUMNS.get(entry["name"], ()) if c in df.columns]
    return df.drop(columns=leaks)


def outer_split(df: pd.DataFrame, target: str, task: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The benchmark's one 75/25 split (seed 0), stratified for classification."""
    train, test = train_test_split(
        df,
        test_size=OUTER_TEST_SIZE,
        random_state=OUTER_SEED,
        stratify=df[target] if task != "regression" else None,
    )
    return train, test


# --------------------------------------------------------------------------- scoring


def score(
    task: str,
    y_true: pd.Series,
    *,
    predicted: Sequence[Any] | None = None,
    positive_proba: Sequence[float] | None = None,
    positive_label: Any = None,
) -> float:
    """The benchmark metric: ROC AUC (binary), accuracy (multiclass), R² (regression).

    Args:
        task: `binary`, `multiclass` or `regression`.
        y_true: True labels or values of the scored rows.
        predicted: Predicted labels (multiclass) or values (regression).
        positive_proba: Binary only: the probability of `positive_label` per row.
        positive_label: Binary only: the class whose probability is given.

    Returns:
        The score; higher is better for every task.
    """
    y_true = pd.Series(y_true).reset_index(drop=True)
    if task == "binary":
        positive = y_true == positive_label
        if not positive.any():
            raise ValueError(
                f"Positive label {positive_label!r} never occurs in the true labels "
                f"{sorted(map(str, y_true.unique()))}: the model's labels do not match the data."
            )
        return float(skm.roc_auc_score(positive.astype(int), np.asarray(positive_proba)))
    predicted = np.asarray(predicted)
    if task == "multiclass":
        if not set(pd.unique(predicted)) & set(y_true.unique()):
            raise ValueError("No predicted label occurs in the true labels: label types differ.")
        return float(skm.accuracy_score(y_true, predicted))
    return float(skm.r2_score(y_true, predicted.astype(float)))


def score_model(model: Any, test: pd.DataFrame, target: str, task: str) -> float:
    """Score a fitted model whose `predict`/`predict_proba` take raw rows and return labels."""
    rows = test.drop(columns=[target])
    if task == "binary":
        classes = list(model.classes_)
        proba = np.asarray(model.predict_proba(rows))
        return score(task, test[target], positive_proba=proba[:, 1], positive_label=classes[1])
    return score(task, test[target], predicted=model.predict(rows))


# --------------------------------------------------------------------------- sides


def fit_ours(train: pd.DataFrame, target: str, task: str, budget: float, out_dir: Path) -> Any:
    """Our product pipeline, with the task given (as a user overriding detection would)."""
    from training_image.pipeline import train_frame

    return train_frame(
        train,
        target,
        problem_type=task,
        time_budget=budget,
        seed=OUR_SEED,
        out_dir=out_dir,
        n_jobs=1,
    )


def run_ours(train: pd.DataFrame, test: pd.DataFrame, spec: dict[str, Any]) -> dict[str, Any]:
    target, task, budget = spec["target"], spec["task"], spec["budget"]
    with tempfile.TemporaryDirectory(prefix="bench-ours-") as out_dir:
        started = time.perf_counter()
        result = fit_ours(train, target, task, budget, Path(out_dir))
        seconds = time.perf_counter() - started
    search = result.evaluation.get("search", {})
    return {
        # `result.model` is the shipped sklearn pipeline: raw rows in, original labels out.
        "score": score_model(result.model, test, target, task),
        "seconds": seconds,
        "details": {
            "best_estimator": result.metrics.get("best_estimator"),
            "metric": result.metric,
            "validation_score": result.metrics.get("validation_score"),
            "trials": search.get("trials"),
            "search_seconds": search.get("seconds"),
            "search_stopped": search.get("stopped"),
            "trained_on": result.evaluation.get("trained_on"),
            "timeline": result.timeline,
            "warnings": result.warnings,
        },
    }


def run_reference(train: pd.DataFrame, test: pd.DataFrame, spec: dict[str, Any]) -> dict[str, Any]:
    from bench.reference_pipeline import fit_reference

    target, task, budget = spec["target"], spec["task"], spec["budget"]
    started = time.perf_counter()
    model = fit_reference(train, target, time_budget=budget, task=task, n_jobs=1)
    seconds = time.perf_counter() - started
    return {
        "score": score_model(model, test, target, task),
        "seconds": seconds,
        "details": {
            "best_estimator": model.automl.best_estimator,
            "dropped": [f"{d.name} ({d.reason})" for d in model.dropped],
            "internal_report": model.report,
        },
    }


def run_autogluon(train: pd.DataFrame, test: pd.DataFrame, spec: dict[str, Any]) -> dict[str, Any]:
    from autogluon.tabular import TabularPredictor

    target, task, budget = spec["target"], spec["task"], spec["budget"]
    eval_metric = {"binary": "roc_auc", "multiclass": "accuracy", "regression": "r2"}[task]
    with tempfile.TemporaryDirectory(prefix="bench-autogluon-") as path:
        started = time.perf_counter()
        predictor = TabularPredictor(
            label=target, problem_type=task, eval_metric=eval_metric, path=path, verbosity=0
        ).fit(train, presets="medium_quality", time_limit=budget, num_cpus=1, num_gpus=0)
        seconds = time.perf_counter() - started
        rows = test.drop(columns=[target])
        if task == "binary":
            positive = predictor.positive_class
            proba = predictor.predict_proba(rows)[positive]
            value = score(task, test[target], positive_proba=proba, positive_label=positive)
        else:
            value = score(task, test[target], predicted=predictor.predict(rows))
        best = predictor.model_best
    return {"score": value, "seconds": seconds, "details": {"best_estimator": best}}


RUNNERS = {"ours": run_ours, "reference": run_reference, AUTOGLUON: run_autogluon}


def worker_main(side: str, work_dir: Path) -> None:
    """Entry of one side's fresh process: read the split, train, score, write the result."""
    spec = json.loads((work_dir / "spec.json").read_text(encoding="utf-8"))
    train = pd.read_parquet(work_dir / "train.parquet")
    test = pd.read_parquet(work_dir / "test.parquet")
    result = RUNNERS[side](train, test, spec)
    (work_dir / f"result-{side}.json").write_text(json.dumps(result, default=str))


def run_side(
    side: str, work_dir: Path, budget: float, python: Path | str | None = None
) -> dict[str, Any]:
    """Train and score one side in a fresh single-threaded process; never raises."""
    python = str(python or (AUTOGLUON_PYTHON if side == AUTOGLUON else sys.executable))
    env = {**os.environ, **THREAD_ENV, "PYTHONPATH": str(ROOT)}
    command = [python, "-m", "bench.quality", "--worker", side, "--work-dir", str(work_dir)]
    result_file = work_dir / f"result-{side}.json"
    started = time.perf_counter()
    try:
        completed = subprocess.run(
            command,
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            # Generous: a side that takes 3x its budget has failed the benchmark anyway.
            timeout=budget * 3 + 300,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"score": None, "error": f"timed out after {budget * 3 + 300:.0f} s"}
    process_seconds = time.perf_counter() - started
    if completed.returncode != 0 or not result_file.exists():
        lines = (completed.stderr or completed.stdout).strip().splitlines()
        return {
            "score": None,
            "error": lines[-1] if lines else f"exit code {completed.returncode}",
            # The traceback's end, to diagnose a failure without rerunning it.
            "stderr_tail": lines[-STDERR_TAIL_LINES:],
            "process_seconds": process_seconds,
        }
    result = json.loads(result_file.read_text())
    result["process_seconds"] = process_seconds
    return result


def run_dataset(
    df: pd.DataFrame,
    *,
    name: str,
    target: str,
    task: str,
    budget: float,
    sides: Sequence[str] = SIDES,
    jobs: int = 1,
) -> dict[str, Any]:
    """Split one dataset, train and score every side on it, and compare with the reference.

    Args:
        df: The whole dataset, target included.
        name: Dataset name (for the report).
        target: Target column.
        task: `binary`, `multiclass` or `regression` (given to every side).
        budget: Training time budget per side, in seconds.
        sides: Which of `ours`, `reference`, `autogluon` to run.
        jobs: How many sides may train at the same time.

    Returns:
        One JSON-ready row: scores, wall clocks, our overrun ratio and the differences.
    """
    train, test = outer_split(df, target, task)
    # Other developers share the 2 cores: the load explains a slow row.
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        work_dir = Path(tmp)
        train.to_parquet(work_dir / "train.parquet")
        test.to_parquet(work_dir / "test.parquet")
        spec = {"target": target, "task": task, "budget": budget}
        (work_dir / "spec.json").write_text(json.dumps(spec))
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = {side: pool.submit(run_side, side, work_dir, budget) for side in sides}
            results = {side: future.result() for side, future in futures.items()}
    row: dict[str, Any] = {
        "dataset": name,
        "task": task,
        "metric": TASK_METRICS[task],
        "rows": len(df),
        "train_rows": len(train),
        "test_rows": len(test),
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        **results,
    }
    ours = results.get("ours", {})
    if ours.get("seconds") is not None:
        ours["overrun"] = ours["seconds"] / budget
    for other in ("reference", AUTOGLUON):
        if _both_scored(ours, results.get(other)):
            row[f"diff_{other}"] = ours["score"] - results[other]["score"]
    return row


def _both_scored(a: dict[str, Any] | None, b: dict[str, Any] | None) -> bool:
    return bool(a and b and a.get("score") is not None and b.get("score") is not None)


# --------------------------------------------------------------------------- report


def summarize(rows: list[dict[str, Any]], sides: Sequence[str]) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for other in ("reference", AUTOGLUON):
        if other not in sides:
            continue
        diffs = [r[f"diff_{other}"] for r in rows if f"diff_{other}" in r]
        summary[f"mean_diff_{other}"] = float(np.mean(diffs)) if diffs else None
        summary[f"losses_{other}"] = [
            {"dataset": r["dataset"], "diff": r[f"diff_{other}"]}
            for r in rows
            if r.get(f"diff_{other}", 0) < 0
        ]
    for side in sides:
        scores = [r[side]["score"] for r in rows if r.get(side, {}).get("score") is not None]
        summary[f"mean_{side}"] = float(np.mean(scores)) if scores else None
    overruns = [r["ours"]["overrun"] for r in rows if "overrun" in r.get("ours", {})]
    if overruns:
        worst = max(rows, key=lambda r: r.get("ours", {}).get("overrun", -math.inf))
        summary["worst_overrun"] = {"dataset": worst["dataset"], "ratio": worst["ours"]["overrun"]}
    summary["failures"] = [
        {"dataset": r["dataset"], "side": side, "error": r[side]["error"]}
        for r in rows
        for side in sides
        if r.get(side, {}).get("error")
    ]
    return summary


def _fmt(value: float | None, spec: str = ".4f") -> str:
    return "ERR" if value is None else format(value, spec)


def table_header(sides: Sequence[str]) -> str:
    columns = ["dataset".ljust(22), "task".ljust(10), "metric".ljust(8)]
    columns += ["ours".rjust(7), "ref".rjust(7), "diff".rjust(8), "ours s".rjust(7)]
    columns += ["ref s".rjust(7), "ratio".rjust(6)]
    if AUTOGLUON in sides:
        columns += ["ag".rjust(7), "vs ag".rjust(8), "ag s".rjust(7)]
    return " ".join(columns)


def table_row(row: dict[str, Any], sides: Sequence[str]) -> str:
    ours, ref = row.get("ours", {}), row.get("reference", {})
    columns = [row["dataset"].ljust(22), row["task"].ljust(10), row["metric"].ljust(8)]
    columns += [
        _fmt(ours.get("score")).rjust(7),
        _fmt(ref.get("score")).rjust(7),
        _fmt(row.get("diff_reference"), "+.4f").rjust(8),
        _fmt(ours.get("seconds"), ".1f").rjust(7),
        _fmt(ref.get("seconds"), ".1f").rjust(7),
        _fmt(ours.get("overrun"), ".2f").rjust(6),
    ]
    if AUTOGLUON in sides:
        ag = row.get(AUTOGLUON, {})
        columns += [
            _fmt(ag.get("score")).rjust(7),
            _fmt(row.get(f"diff_{AUTOGLUON}"), "+.4f").rjust(8),
            _fmt(ag.get("seconds"), ".1f").rjust(7),
        ]
    return " ".join(columns)


def summary_lines(summary: dict[str, Any]) -> list[str]:
    means = [
        f"{side} {_fmt(summary[f'mean_{side}'])}"
        for side in (*SIDES, AUTOGLUON)
        if f"mean_{side}" in summary
    ]
    lines = [f"mean score: {', '.join(means)}"] if means else []
    for other in ("reference", AUTOGLUON):
        key = f"mean_diff_{other}"
        if key in summary:
            lines.append(f"mean difference (ours - {other}): {_fmt(summary[key], '+.4f')}")
            for loss in summary[f"losses_{other}"]:
                lines.append(f"  ours loses to {other} on {loss['dataset']}: {loss['diff']:+.4f}")
    if "worst_overrun" in summary:
        worst = summary["worst_overrun"]
        lines.append(
            f"worst overrun (our seconds / budget): {worst['ratio']:.2f} ({worst['dataset']})"
        )
    for failure in summary["failures"]:
        lines.append(f"FAILED {failure['dataset']} [{failure['side']}]: {failure['error']}")
    return lines


# --------------------------------------------------------------------------- command line


def results_name(
    budget: int, only: str = "", suffix: str = ".json", sides: Sequence[str] = SIDES
) -> str:
    """`quality-<budget>.json` for the full table; a partial run never overwrites it.

    The printed table goes next to it as `quality-<budget>s.txt` (suffix `s.txt`).
    """
    names = [n.strip() for n in only.split(",") if n.strip()]
    stem = f"quality-{budget}"
    if names:
        stem += f"-only-{'+'.join(sorted(names))}"
    if set(sides) not in (set(SIDES), {*SIDES, AUTOGLUON}):
        stem += f"-sides-{'+'.join(sides)}"
    return f"{stem}{suffix}"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--budget", type=int, default=DEFAULT_BUDGET, help="seconds per side (default 60)"
    )
    parser.add_argument(
        "--only", "--datasets", dest="only", default="", help="comma-separated dataset names"
    )
    parser.add_argument(
        "--jobs", type=int, default=1, help="sides trained at the same time (default 1)"
    )
    parser.add_argument(
        "--autogluon",
        action="store_true",
        help="add AutoGluon (medium_quality) from bench/.venv-autogluon",
    )
    parser.add_argument(
        "--sides",
        default=",".join(SIDES),
        help=f"comma-separated sides to run, of {', '.join(RUNNERS)} (default: ours,reference)",
    )
    parser.add_argument("--worker", choices=sorted(RUNNERS), help=argparse.SUPPRESS)
    parser.add_argument("--work-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.budget < 1:
        parser.error("--budget must be at least 1 second")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    args.sides = [side.strip() for side in args.sides.split(",") if side.strip()]
    unknown = sorted(set(args.sides) - set(RUNNERS))
    if unknown or not args.sides:
        parser.error(f"--sides takes names of {', '.join(RUNNERS)}; got {', '.join(unknown)}")
    if args.autogluon and AUTOGLUON not in args.sides:
        args.sides.append(AUTOGLUON)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        worker_main(args.worker, args.work_dir)
        return 0
    if not (DATASETS_DIR / "manifest.json").exists():
        print(f"No shared datasets at {DATASETS_DIR}: nothing to benchmark.")
        return 0
    sides = args.sides
    if AUTOGLUON in sides and not AUTOGLUON_PYTHON.exists():
        print(f"No AutoGluon environment at {AUTOGLUON_PYTHON}; see bench/README.md.")
        return 2
    entries = load_manifest()
    if args.only:
        wanted = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = sorted(set(wanted) - {e["name"] for e in entries})
        if unknown:
            known = ", ".join(e["name"] for e in entries)
            print(f"Unknown dataset(s): {', '.join(unknown)}. Known: {known}")
            return 2
        entries = [e for e in entries if e["name"] in wanted]

    printed: list[str] = []

    def show(line: str) -> None:
        printed.append(line)
        print(line, flush=True)

    show(f"budget {args.budget} s per side, {len(entries)} datasets, sides: {', '.join(sides)}")
    show(table_header(sides))
    rows = []
    for entry in entries:
        df = read_dataset(entry)
        row = run_dataset(
            df,
            name=entry["name"],
            target=entry["target"],
            task=entry["task"],
            budget=args.budget,
            sides=sides,
            jobs=args.jobs,
        )
        rows.append(row)
        show(table_row(row, sides))
    summary = summarize(rows, sides)
    for line in summary_lines(summary):
        show(line)

    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / results_name(args.budget, args.only, sides=sides)
    payload = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "budget": args.budget,
        "sides": sides,
        "outer_split": {"test_size": OUTER_TEST_SIZE, "seed": OUTER_SEED},
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "leakage_columns_dropped": {k: list(v) for k, v in LEAKAGE_COLUMNS.items()},
        "summary": summary,
        "datasets": rows,
    }
    out.write_text(json.dumps(payload, indent=2, default=str))
    table = RESULTS_DIR / results_name(args.budget, args.only, suffix="s.txt", sides=sides)
    table.write_text("\n".join(printed) + "\n", encoding="utf-8")
    print(f"results: {out} and {table}")
    return 0


if __name__ == "__main__":
    # `python bench/quality.py` puts bench/ first on sys.path; the repo root is what we need.
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    sys.exit(main())
