"""Analysis benchmark: our streaming CSV analyzer vs the pandas way, same file, same run.

Generates once (cached in `bench/.cache/`, gitignored) a 2,000,000-row, 24-column mixed
CSV (~350 MB: an id, integers, floats with gaps, categories, booleans, dates, short text),
then runs each approach in a fresh process and reads that process's peak RSS with
`os.wait4` (one child at a time, so the figure is that child's alone):

- ours: `datasets.analysis.analyze_csv(path)`: every statistic the upload page shows
  (kinds, missing, unique, min/max/mean/std, top values, dates, target, problem types);
- pandas: read the whole file into memory, `pd.read_csv` over those bytes, then
  per-column `nunique()` and `isna().sum()`, as the earlier edition's confirm step did
  (it downloaded the whole S3 object first).

Time is the analysis itself, measured inside each child after its imports (a worker
has them loaded already); the whole-process wall and CPU times are printed too (on a
shared machine the CPU ratio moves less with the load than the wall-clock one). Prints
e.g. `analysis: 1.8x faster, 8.4x less memory than pandas (whole process: 1.8x faster,
1.0x less CPU time)` and writes `bench/results/analysis.json`.

    .venv/bin/python bench/analysis.py             # the comparison (CPU heavy: ~30 s)
    .venv/bin/python bench/analysis.py --engines   # + the engine probes quoted in
                                                   #   datasets/analysis/__init__.py
    .venv/bin/python bench/analysis.py --rows 200000   # a quick, smaller run
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache"
RESULTS = ROOT / "bench" / "results"
SEED = 7


# --------------------------------------------------------------------------- data


def generate(path: Path, rows: int) -> None:
    """The mixed CSV: deterministic (seeded), written by polars in one go."""
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(SEED)

    def gaps(values: np.ndarray, share: float) -> pl.Series:
        missing = np.flatnonzero(rng.random(rows) < share)
        return pl.Series(values).scatter(missing, None)

    def pick(options: list[str]) -> np.ndarray:
        return np.array(options)[rng.integers(0, len(options), rows)]

    words = np.array(
        [
            "red",
            "blue",
            "green",
            "quick",
            "brown",
            "fox",
            "jumps",
            "over",
            "lazy",
            "dog",
            "river",
            "stone",
            "cloud",
            "bright",
            "dark",
            "small",
        ]
    )
    w = words[rng.integers(0, len(words), (rows, 4))]
    comment = np.char.add(
        np.char.add(np.char.add(w[:, 0], " "), np.char.add(w[:, 1], " ")),
        np.char.add(np.char.add(w[:, 2], " "), w[:, 3]),
    )
    start = np.datetime64("2015-01-01")
    frame = pl.DataFrame(
        {
            "customer_id": np.arange(1, rows + 1),
            "age": rng.integers(18, 90, rows),
            "visits": rng.poisson(3, rows),
            "year": rng.integers(2000, 2025, rows),
            "quantity": gaps(rng.integers(0, 500, rows), 0.02),
            "score": rng.integers(-1000, 1000, rows),
            "income": gaps(np.round(rng.lognormal(10, 1, rows), 2), 0.05),
            "balance": gaps(np.round(rng.normal(1000, 400, rows), 3), 0.10),
            "ratio": np.round(rng.random(rows), 6),
            "temperature": gaps(np.round(rng.normal(15, 8, rows), 1), 0.30),
            "price": np.round(rng.gamma(2, 30, rows), 2),
            "city": pick([f"City {i:02d}" for i in range(60)]),
            "segment": pick(["consumer", "corporate", "home office", "small business", "public"]),
            "color": gaps(
                pick(["red", "green", "blue", "black", "white", "grey"] + ["pink", "teal"]), 0.01
            ),
            "plan": pick(["basic", "plus", "premium"]),
            "region": pick(["north", "south", "east", "west", "central", "islands"]),
            "is_active": np.where(rng.random(rows) < 0.7, "true", "false"),
            "has_card": np.where(rng.random(rows) < 0.4, "Yes", "No"),
            "signup_date": (start + rng.integers(0, 3000, rows).astype("timedelta64[D]")).astype(
                str
            ),
            "last_seen": pl.Series(
                (
                    start.astype("datetime64[s]")
                    + rng.integers(0, 86400 * 3000, rows).astype("timedelta64[s]")
                ).astype(str)
            ).str.replace("T", " "),
            "comment": comment,
            "code": np.char.add("X", rng.integers(100000, 140000, rows).astype(str)),
            "rating": rng.integers(1, 6, rows).astype(float),
            "churned": np.where(rng.random(rows) < 0.25, "yes", "no"),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    frame.write_csv(partial)
    partial.rename(path)


def dataset(rows: int) -> Path:
    path = CACHE / f"mixed_{rows}.csv"
    if not path.exists():
        print(f"generating {path.relative_to(ROOT)} ({rows:,} rows, once)...", flush=True)
        # In a child: the parent must stay small, because Linux counts the RSS a child
        # had at fork/exec (the parent's) in that child's ru_maxrss.
        subprocess.run(
            [sys.executable, __file__, "--generate", str(rows), str(path)], check=True, cwd=ROOT
        )
    return path


# --------------------------------------------------------------------------- children


def child(approach: str, path: str) -> dict:
    """Run one approach in this (fresh) process; returns what it measured."""
    if approach == "ours":
        sys.path.insert(0, str(ROOT))
        from datasets.analysis import analyze_csv

        started = time.perf_counter()
        analysis = analyze_csv(path)
        return {"seconds": time.perf_counter() - started, "rows": analysis["rows"]}
    if approach == "pandas":
        import io

        import pandas as pd

        started = time.perf_counter()
        with open(path, "rb") as handle:
            data = handle.read()
        frame = pd.read_csv(io.BytesIO(data))
        stats = {c: (int(frame[c].nunique()), int(frame[c].isna().sum())) for c in frame.columns}
        return {"seconds": time.perf_counter() - started, "rows": len(frame), "cols": len(stats)}
    return ENGINE_PROBES[approach](path)


def _probe_polars_stream(path: str) -> dict:
    import polars as pl

    started = time.perf_counter()
    lf = pl.scan_csv(path, infer_schema_length=10_000)
    frame = lf.select(
        pl.len().alias("rows"), pl.all().null_count().name.suffix(":missing")
    ).collect(engine="streaming")
    return {"seconds": time.perf_counter() - started, "rows": frame["rows"][0]}


def _probe_polars_stream_approx(path: str) -> dict:
    import polars as pl

    started = time.perf_counter()
    lf = pl.scan_csv(path, infer_schema_length=10_000)
    frame = lf.select(
        pl.len().alias("rows"),
        pl.all().null_count().name.suffix(":missing"),
        pl.all().approx_n_unique().name.suffix(":unique"),
    ).collect(engine="streaming")
    return {"seconds": time.perf_counter() - started, "rows": frame["rows"][0]}


def _probe_polars_batches(path: str) -> dict:
    import polars as pl

    started = time.perf_counter()
    rows = 0
    for batch in pl.scan_csv(path, infer_schema_length=10_000).collect_batches(chunk_size=100_000):
        rows += batch.height
    return {"seconds": time.perf_counter() - started, "rows": rows}


def _probe_pyarrow(path: str) -> dict:
    import pyarrow.csv as pacsv

    started = time.perf_counter()
    rows = 0
    reader = pacsv.open_csv(path, read_options=pacsv.ReadOptions(block_size=8 << 20))
    for batch in reader:
        rows += batch.num_rows
    return {"seconds": time.perf_counter() - started, "rows": rows}


def _probe_duckdb(path: str) -> dict:
    import duckdb

    started = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET threads=2; SET memory_limit='128MB'; SET preserve_insertion_order=false")
    columns = con.execute(f"DESCRIBE SELECT * FROM read_csv('{path}')").fetchall()
    parts = []
    for name, kind, *_ in columns:
        q = '"' + name.replace('"', '""') + '"'
        parts += [f"count({q})", f"approx_count_distinct({q})", f"min({q})", f"max({q})"]
        if kind in ("BIGINT", "DOUBLE"):
            parts += [f"avg({q})", f"stddev_samp({q})"]
    row = con.execute(f"SELECT count(*), {', '.join(parts)} FROM read_csv('{path}')").fetchone()
    return {"seconds": time.perf_counter() - started, "rows": row[0]}


ENGINE_PROBES = {
    "polars scan_csv streaming (null counts)": _probe_polars_stream,
    "polars scan_csv streaming (+ approx_n_unique)": _probe_polars_stream_approx,
    "polars collect_batches (parse only)": _probe_polars_batches,
    "pyarrow open_csv (parse only)": _probe_pyarrow,
    "duckdb read_csv (aggregates + approx distinct)": _probe_duckdb,
}


def run_child(approach: str, path: Path) -> dict:
    """Run `approach` in a fresh interpreter; add its peak RSS (os.wait4) and total time."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, __file__, "--child", approach, str(path)],
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    output = process.stdout.read() if process.stdout else b""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{approach} failed with exit status {process.returncode}")
    result = json.loads(output)
    result["process_seconds"] = time.perf_counter() - started
    result["peak_rss_mb"] = usage.ru_maxrss / 1024  # KiB on Linux
    result["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    return result


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=2_000_000, help="rows of the generated CSV")
    parser.add_argument("--engines", action="store_true", help="also probe the other engines")
    parser.add_argument("--child", nargs=2, metavar=("APPROACH", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--generate", nargs=2, metavar=("ROWS", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    if args.generate:
        generate(Path(args.generate[1]), int(args.generate[0]))
        return

    path = dataset(args.rows)
    size_mb = path.stat().st_size / 1024**2
    print(f"file: {path.relative_to(ROOT)} ({size_mb:,.0f} MB, {args.rows:,} rows, 24 columns)")
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    import resource

    parent_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"parent peak RSS {parent_mb:.0f} MB (a floor under every child's figure)")
    results = {"ours": run_child("ours", path), "pandas": run_child("pandas", path)}
    if args.engines:
        for name in ENGINE_PROBES:
            try:
                results[name] = run_child(name, path)
            except SystemExit as error:  # e.g. duckdb, which is not a pinned dependency
                print(f"skipped {name}: {error}")

    print(f"\n{'approach':48} {'analysis':>9} {'process':>9} {'cpu':>7} {'peak RSS':>10}")
    for name, r in results.items():
        print(
            f"{name:48} {r['seconds']:8.2f}s {r['process_seconds']:8.2f}s "
            f"{r['cpu_seconds']:6.1f}s {r['peak_rss_mb']:8.0f} MB"
        )
    ours, pandas = results["ours"], results["pandas"]
    assert ours["rows"] == pandas["rows"] == args.rows, (ours["rows"], pandas["rows"])
    speed = pandas["seconds"] / ours["seconds"]
    memory = pandas["peak_rss_mb"] / ours["peak_rss_mb"]
    whole = pandas["process_seconds"] / ours["process_seconds"]
    cpu = pandas["cpu_seconds"] / ours["cpu_seconds"]
    print(
        f"\nanalysis: {speed:.1f}x faster, {memory:.1f}x less memory than pandas "
        f"(whole process: {whole:.1f}x faster, {cpu:.1f}x less CPU time)"
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    summary = {
        "rows": args.rows,
        "file_mb": round(size_mb, 1),
        "load_average": os.getloadavg()[0],
        "speedup": round(speed, 2),
        "memory_ratio": round(memory, 2),
        "cpu_ratio": round(cpu, 2),
        "results": results,
    }
    (RESULTS / "analysis.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
