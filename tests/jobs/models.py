"""A small real ONNX model of the penguins data, with a model card in the container's format.

The graph takes one input per feature ([None, 1] float or string), imputes and one-hot
encodes inside, and predicts label codes 0..K-1 with probabilities, like the
container's export. Built once per test session (skl2onnx takes a moment).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import palmerpenguins

PENGUINS_CSV = Path(palmerpenguins.__file__).parent / "data" / "penguins.csv"
NUMERIC = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
CATEGORICAL = ["island", "sex"]
MISSING = "__missing__"


@functools.cache
def penguin_model() -> tuple[bytes, dict]:
    """(ONNX bytes, model card) of a logistic regression on the penguins."""
    import numpy as np
    import pandas as pd
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    df = pd.read_csv(PENGUINS_CSV)
    classes = sorted(df["species"].unique())
    y = df["species"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    X = pd.DataFrame({c: df[c].astype("float32") for c in NUMERIC})
    for c in CATEGORICAL:
        X[c] = df[c].fillna(MISSING).astype(str).astype(object)
    encoder = ColumnTransformer(
        [
            (
                "numeric",
                Pipeline(
                    [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
                ),
                NUMERIC,
            ),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False), CATEGORICAL),
        ]
    )
    model = Pipeline([("encode", encoder), ("model", LogisticRegression(max_iter=500))]).fit(X, y)
    inputs = [(c, FloatTensorType([None, 1])) for c in NUMERIC] + [
        (c, StringTensorType([None, 1])) for c in CATEGORICAL
    ]
    onx = convert_sklearn(
        model, initial_types=inputs, options={id(model.steps[-1][1]): {"zipmap": False}}
    )
    stats = {
        c: {"min": float(df[c].min()), "max": float(df[c].max()), "is_integer": False}
        for c in NUMERIC
    }
    card = {
        "problem_type": "multiclass",
        "target": "species",
        "classes": classes,
        "label_mapping": {str(i): c for i, c in enumerate(classes)},
        "features": [
            {"name": c, "kind": "numeric", "dtype": "float64", **stats[c]} for c in NUMERIC
        ]
        + [
            {
                "name": c,
                "kind": "categorical",
                "dtype": "str",
                "allowed_values": sorted(df[c].dropna().unique().tolist()),
            }
            for c in CATEGORICAL
        ],
        "onnx": {
            "available": True,
            "inputs": [
                {"name": c, "column": c, "dtype": "float", "derived": None, "encoding": "numeric"}
                for c in NUMERIC
            ]
            + [
                {"name": c, "column": c, "dtype": "string", "derived": None, "encoding": "onehot"}
                for c in CATEGORICAL
            ],
            "outputs": [{"name": "label"}, {"name": "probabilities"}],
        },
    }
    assert np.isfinite(model.predict_proba(X[:3])).all()
    return onx.SerializeToString(), card


def store_penguin_model(job_id: str) -> dict[str, str]:
    """Save the model and card in the models storage; returns the job's artifacts map."""
    from django.core.files.base import ContentFile

    from automl_lite import wiring
    from training_image.contract import MODEL_CARD, MODEL_ONNX, artifact_key

    onnx_bytes, card = penguin_model()
    storage = wiring.storage("models")
    keys = {
        MODEL_ONNX: artifact_key(job_id, MODEL_ONNX),
        MODEL_CARD: artifact_key(job_id, MODEL_CARD),
    }
    storage.save(keys[MODEL_ONNX], ContentFile(onnx_bytes))
    storage.save(keys[MODEL_CARD], ContentFile(json.dumps(card).encode()))
    return keys


GENTOO = {
    "island": "Biscoe",
    "bill_length_mm": 47.5,
    "bill_depth_mm": 15.0,
    "flipper_length_mm": 218,
    "body_mass_g": 5200,
    "sex": "male",
}
