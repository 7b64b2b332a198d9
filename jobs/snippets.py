"""The code the results page shows for using a downloaded model outside AutoML Lite.

Tests run exactly these snippets (in `python -I`, in an empty folder, with only the ML libraries
installed), so what the page promises is what works.
"""

from __future__ import annotations

from django.utils.text import slugify

from training_image.contract import MODEL_CARD, MODEL_ONNX, MODEL_PKL, Job


def download_name(job: Job, name: str) -> str:
    """The file name a download of artifact `name` gets (`<dataset>-<job8>-<name>`)."""
    stem = slugify(job.dataset_name.rsplit(".", 1)[0])[:40] or "job"
    return f"{stem}-{job.job_id[:8]}-{name}"


def pickle_snippet(job: Job, columns: list[str]) -> str:
    """Load model.pkl and predict the rows of a CSV (numpy, pandas, scikit-learn, LightGBM and
    XGBoost are all it needs; the file carries the code of its own preprocessing)."""
    listed = ", ".join(columns[:8]) + (", …" if len(columns) > 8 else "")
    lines = [
        "import pickle",
        "",
        "import pandas as pd",
        "",
        f'with open("{download_name(job, MODEL_PKL)}", "rb") as f:',
        "    model = pickle.load(f)  # load only files you trust: loading runs code",
        f'rows = pd.read_csv("rows.csv")  # columns {listed}; others are ignored',
        "print(model.predict(rows))",
    ]
    if job.problem_type != "regression":
        lines.append("print(model.predict_proba(rows))  # one column per model.classes_")
    return "\n".join(lines) + "\n"


ONNX_SNIPPET = """import csv
import datetime as dt
import json

import numpy as np
import onnxruntime as ort

card = json.load(open("{card}"))
session = ort.InferenceSession("{onnx}")
rows = list(csv.DictReader(open("rows.csv", newline="")))
MISSING = {{"", "NA", "N/A", "n/a", "NaN", "nan", "NULL", "null", "None", "?"}}


def value(raw, i):  # the card's onnx.notes, for one raw CSV cell
    text = (raw or "").strip()
    if i["encoding"] == "text":
        return (raw or "").lower()
    if i["encoding"] in ("onehot", "ordinal"):
        return "__missing__" if text in MISSING else text
    if text in MISSING:
        return float("nan")
    if i["encoding"] == "boolean":
        low = text.lower()
        return 1.0 if low in ("true", "t", "yes", "y", "1", "1.0") else 0.0 if low in (
            "false", "f", "no", "n", "0", "0.0") else float("nan")
    if i["encoding"] == "datetime":
        d = dt.datetime.strptime(text, i["format"])
        if d.tzinfo:
            d = d.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return float({{"year": d.year, "month": d.month, "day": d.day, "hour": d.hour,
                      "dayofweek": d.weekday(), "dayofyear": d.timetuple().tm_yday,
                      "epoch_days": (d - dt.datetime(1970, 1, 1)).total_seconds() / 86400,
                      }}[i["derived"]])
    return float(text)


feeds = {{
    i["name"]: np.array([[value(r.get(i["column"]), i)] for r in rows],
                        dtype=np.float32 if i["dtype"] == "float" else object)
    for i in card["onnx"]["inputs"]
}}
outputs = session.run(None, feeds)
"""

ONNX_CLASSIFICATION = """labels = [card["label_mapping"][str(code)] for code in outputs[0]]
print(labels)
print(outputs[1])  # probabilities, one column per class code
"""

ONNX_REGRESSION = """print(outputs[0].ravel())
"""


def onnx_snippet(job: Job) -> str:
    """Score a CSV with model.onnx, numpy and onnxruntime only, by the card's rules."""
    body = ONNX_SNIPPET.format(
        card=download_name(job, MODEL_CARD), onnx=download_name(job, MODEL_ONNX)
    )
    return body + (ONNX_REGRESSION if job.problem_type == "regression" else ONNX_CLASSIFICATION)
