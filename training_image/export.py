"""model.pkl, model.onnx (checked against the pickle) and the model card.

The ONNX graph holds the encoder and the model; `RawFramePreparer` runs before it (it turns
raw values into typed inputs and splits dates into parts), and the model card says exactly
how, so a server can build the inputs from a raw row with the standard library alone.
"""

from __future__ import annotations

import functools
import hashlib
import json
import platform
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from training_image.contract import (
    CardEnsemble,
    CardOnnx,
    FeatureEntry,
    ModelCard,
    OnnxCheck,
    OnnxInput,
    utcnow,
)
from training_image.linear import StandardizedLogisticRegression
from training_image.preprocess import (
    MISSING_TOKEN,
    DecodedClassifier,
    FeatureSpec,
    NaNIndicator,
    WordCount,
    learner,
)
from training_image.serialize import jsonable

ONNX_TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}
ONNX_MAX_TREE_NODES = 3_000_000  # beyond this the graph gets too big to serve comfortably
ONNX_CHECK_ROWS = 2_000
# Largest |pickle - ONNX| difference accepted: probabilities, or values relative to their scale.
ONNX_TOLERANCE = 1e-4
PREPROCESSING_MAX_BYTES = 40_000
TEXT_EXAMPLES = 20  # frequent values of a free-text column kept as examples for forms
LIBRARIES = (
    "flaml",
    "lightgbm",
    "xgboost",
    "sklearn",
    "pandas",
    "numpy",
    "onnx",
    "onnxruntime",
    "skl2onnx",
    "onnxmltools",
)


_THRESHOLDS = re.compile(r"^threshold=(.*)$", re.MULTILINE)
_TREE_SIZES = re.compile(r"^tree_sizes=.*\n", re.MULTILINE)


def _float32_floor(value: float) -> float:
    """The largest float32 number <= value."""
    f = np.float32(value)
    if float(f) > value:
        f = np.nextafter(f, np.float32(-np.inf))
    return float(f)


def _lightgbm_models(model: Any) -> list[Any]:
    from lightgbm import LGBMModel

    inner = _inner_model(model)
    if isinstance(inner, LGBMModel):
        return [inner]
    members = [learner(m) for m in getattr(inner, "estimators_", [])]
    return [m for m in members if isinstance(m, LGBMModel)]


def align_lightgbm_thresholds(model: Any) -> None:
    """Make a fitted LightGBM model's split thresholds float32 numbers, in place.

    LightGBM keeps thresholds as doubles; the ONNX converter rounds them to float32, the
    type the graph computes in. A threshold just below a float32 data value (5.04999995
    next to float32(5.05) = 5.05000019) then rounds up onto it and that row takes the other
    branch: measured differences of up to 3.0 on the diabetes target. Every feature the
    model sees is already a float32 number (the ToFloat32 step), so replacing each threshold
    t by the largest float32 <= t changes no decision of the saved model, and makes the
    ONNX graph take exactly the same ones.
    """
    import lightgbm

    for lgbm in _lightgbm_models(model):
        text = lgbm.booster_.model_to_string()

        def floor(match: re.Match[str]) -> str:
            values = (_float32_floor(float(v)) for v in match.group(1).split())
            return "threshold=" + " ".join(repr(v) for v in values)

        aligned = _THRESHOLDS.sub(floor, text)
        if aligned != text:
            # The header's byte sizes of the trees no longer hold; without them LightGBM
            # parses the trees one after the other.
            aligned = _TREE_SIZES.sub("", aligned)
            # The sklearn wrapper predicts through this booster; there is no public setter.
            lgbm._Booster = lightgbm.Booster(model_str=aligned)


def pickle_model(model: Any) -> bytes:
    """model.pkl: the pipeline, with the code of this package's classes inside (portable.py),
    so `pickle.load` works in a Python that has only the ML libraries."""
    from training_image import portable

    return portable.dumps(model)


# --------------------------------------------------------------------------- ONNX


@functools.cache
def register_converters() -> None:
    """Teach skl2onnx about LightGBM, XGBoost, our NaNIndicator and WordCount and our
    standardized logistic regression (once per process)."""
    from lightgbm import LGBMClassifier, LGBMRegressor
    from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
    from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )
    from skl2onnx.operator_converters.linear_classifier import convert_sklearn_linear_classifier
    from sklearn.compose import TransformedTargetRegressor
    from xgboost import XGBClassifier, XGBRegressor

    classifier_options = {"nocl": [True, False], "zipmap": [True, False, "columns"]}
    update_registered_converter(
        LGBMClassifier,
        "LightGbmLGBMClassifier",
        calculate_linear_classifier_output_shapes,
        convert_lightgbm,
        options=classifier_options,
    )
    update_registered_converter(
        LGBMRegressor,
        "LightGbmLGBMRegressor",
        calculate_linear_regressor_output_shapes,
        convert_lightgbm,
    )
    update_registered_converter(
        XGBClassifier,
        "XGBoostXGBClassifier",
        calculate_linear_classifier_output_shapes,
        convert_xgboost,
        options=classifier_options,
    )
    update_registered_converter(
        XGBRegressor,
        "XGBoostXGBRegressor",
        calculate_linear_regressor_output_shapes,
        convert_xgboost,
    )
    update_registered_converter(NaNIndicator, "AutoMLNaNIndicator", _nan_shape, _nan_convert)
    update_registered_converter(WordCount, "AutoMLWordCount", _words_shape, _words_convert)
    # A target learnt as log(1 + y): the inner regressor's graph, then Exp and - 1.
    update_registered_converter(
        TransformedTargetRegressor,
        "AutoMLLogTarget",
        calculate_linear_regressor_output_shapes,
        _log_target_convert,
    )
    # Fitted, it is a LogisticRegression on raw features (see linear.py): sklearn's converter.
    update_registered_converter(
        StandardizedLogisticRegression,
        "SklearnLinearClassifier",
        calculate_linear_classifier_output_shapes,
        convert_sklearn_linear_classifier,
        options={**classifier_options, "raw_scores": [True, False]},
    )


def _log_target_convert(scope: Any, operator: Any, container: Any) -> None:
    from skl2onnx.algebra.onnx_operator import OnnxSubEstimator
    from skl2onnx.algebra.onnx_ops import OnnxExp, OnnxSub

    model = operator.raw_operator
    if model.func is not np.log1p or model.inverse_func is not np.expm1:
        raise NotImplementedError("only a log(1 + y) target converts to ONNX")
    version = container.target_opset
    inner = OnnxSubEstimator(model.regressor_, operator.inputs[0], op_version=version)
    out = OnnxSub(
        OnnxExp(inner, op_version=version),
        np.array([1.0], dtype=np.float32),
        op_version=version,
        output_names=operator.outputs[:1],
    )
    out.add_to(scope, container)


def _nan_shape(operator: Any) -> None:
    from skl2onnx.common.data_types import FloatTensorType

    rows = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = FloatTensorType([rows, operator.raw_operator.n_features_in_])


def _nan_convert(scope: Any, operator: Any, container: Any) -> None:
    from onnx import TensorProto

    flags = scope.get_unique_variable_name("isnan")
    container.add_node(
        "IsNaN",
        operator.inputs[0].full_name,
        flags,
        name=scope.get_unique_operator_name("IsNaN"),
    )
    container.add_node(
        "Cast",
        flags,
        operator.outputs[0].full_name,
        to=TensorProto.FLOAT,
        name=scope.get_unique_operator_name("Cast"),
    )


def _words_shape(operator: Any) -> None:
    from skl2onnx.common.data_types import FloatTensorType

    rows = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = FloatTensorType([rows, 1])


# Never a token: tokens are TEXT_TOKEN_PATTERN matches (letters and digits).
_WORDS_PAD = "#"


def _words_convert(scope: Any, operator: Any, container: Any) -> None:
    """Tokenize as TF-IDF's converter does (onnxruntime's Tokenizer with the same regular
    expression), then count the tokens that are not padding."""
    from onnx import TensorProto

    def node(op_type: str, inputs: Any, output: str | None = None, **attrs: Any) -> str:
        out = output or scope.get_unique_variable_name(op_type.lower())
        container.add_node(
            op_type, inputs, out, name=scope.get_unique_operator_name(op_type), **attrs
        )
        return out

    shape = scope.get_unique_variable_name("flat_shape")
    container.add_initializer(shape, TensorProto.INT64, [1], [-1])
    axis = scope.get_unique_variable_name("token_axis")
    container.add_initializer(axis, TensorProto.INT64, [1], [1])
    flat = node("Reshape", [operator.inputs[0].full_name, shape])
    tokens = scope.get_unique_variable_name("tokens")
    container.add_node(
        "Tokenizer",
        flat,
        tokens,
        op_domain="com.microsoft",
        name=scope.get_unique_operator_name("Tokenizer"),
        pad_value=_WORDS_PAD,
        mark=0,
        mincharnum=1,
        tokenexp=_token_regex(),
    )
    # Equal takes strings only from opset 19: the ML domain's LabelEncoder maps them instead.
    counted = scope.get_unique_variable_name("is_word")
    container.add_node(
        "LabelEncoder",
        tokens,
        counted,
        op_domain="ai.onnx.ml",
        op_version=2,
        name=scope.get_unique_operator_name("LabelEncoder"),
        keys_strings=[_WORDS_PAD],
        values_floats=[0.0],
        default_float=1.0,
    )
    node("ReduceSum", [counted, axis], operator.outputs[0].full_name, keepdims=1)


_XGB_NODE_COUNTS = re.compile(rb'"num_nodes":"(\d+)"')


def tree_nodes(model: Any) -> int:
    """Total tree nodes of a fitted model (the ONNX size guard, export time estimates).

    Fast enough to call after every search trial: counts come from the libraries' own
    summaries, not from a dump of every tree.
    """
    from sklearn.ensemble import VotingClassifier, VotingRegressor

    model = _inner_model(model)
    if isinstance(model, (VotingClassifier, VotingRegressor)):
        return sum(tree_nodes(m) for m in model.estimators_)
    if hasattr(model, "booster_"):  # LightGBM: splits + leaves, and a tree has splits + 1 leaves
        booster = model.booster_
        return int(2 * booster.feature_importance("split").sum() + booster.num_trees())
    if hasattr(model, "get_booster"):  # XGBoost: each tree's size in its JSON model
        raw = bytes(model.get_booster().save_raw("json"))
        return int(sum(int(n) for n in _XGB_NODE_COUNTS.findall(raw)))
    if hasattr(model, "estimators_"):  # sklearn forests
        return int(sum(t.tree_.node_count for t in model.estimators_))
    return 0


def _inner_model(model: Any) -> Any:
    return learner(model)


def _input_types(prepared: pd.DataFrame) -> list[tuple[str, Any]]:
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    return [
        (
            name,
            FloatTensorType([None, 1])
            if pd.api.types.is_float_dtype(prepared[name].dtype)
            else StringTensorType([None, 1]),
        )
        for name in prepared.columns
    ]


def onnx_feed(prepared: pd.DataFrame) -> dict[str, np.ndarray]:
    """ONNX inputs for prepared rows: one [rows, 1] tensor per input."""
    feed = {}
    for name in prepared.columns:
        column = prepared[[name]]
        if pd.api.types.is_float_dtype(column[name].dtype):
            feed[name] = column.to_numpy(dtype=np.float32)
        else:
            feed[name] = column.astype(str).to_numpy(dtype=object)
    return feed


@dataclass
class OnnxResult:
    model: bytes | None
    info: OnnxCheck  # evaluation.json's `onnx`


def export_onnx(pipeline: Any, X_check: pd.DataFrame, *, classification: bool) -> OnnxResult:
    """Convert encoder + model to ONNX and compare it with the pickle on `X_check` rows.

    Never raises for a conversion problem: the reason goes into the result instead, because
    a model without ONNX is still a good model.
    """
    model = pipeline.named_steps["model"]
    # The graph outputs label codes (the card maps them back), so the label decoder stays
    # out; a log target stays in (its Exp is part of the prediction).
    graph_model = model.estimator_ if isinstance(model, DecodedClassifier) else model
    nodes = tree_nodes(model)
    if nodes > ONNX_MAX_TREE_NODES:
        return OnnxResult(
            None,
            {
                "available": False,
                "max_abs_diff": None,
                "reason": f"the model has {nodes:,} tree nodes, too many for a compact ONNX file",
            },
        )
    try:
        onnx_bytes = _convert(
            pipeline, X_check.head(50), graph_model, classification=classification
        )
        check = compare_onnx(onnx_bytes, pipeline, X_check, classification=classification)
    except Exception as error:  # reported in the artifact, not fatal
        return OnnxResult(
            None,
            {
                "available": False,
                "max_abs_diff": None,
                "reason": f"ONNX conversion failed ({type(error).__name__}: {str(error)[:200]})",
            },
        )
    within = check["max_abs_diff"] <= ONNX_TOLERANCE * check["scale"]
    info: OnnxCheck = {
        "available": bool(within),
        "max_abs_diff": check["max_abs_diff"],
        "rows_checked": check["rows"],
        "label_agreement": check.get("label_agreement"),
        "tied_rows": check.get("tied_rows"),
        "reason": None
        if within
        else (
            f"the ONNX model differs from model.pkl by up to {check['max_abs_diff']:.3g}, "
            "more than the accepted tolerance"
        ),
    }
    return OnnxResult(onnx_bytes if within else None, info)


def _convert(pipeline: Any, X_sample: pd.DataFrame, inner: Any, *, classification: bool) -> bytes:
    from skl2onnx import convert_sklearn
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import Pipeline

    register_converters()
    prepared = pipeline.named_steps["prepare"].transform(X_sample)
    graph = Pipeline([("encode", pipeline.named_steps["encode"]), ("model", inner)])
    options: dict[Any, Any] = {TfidfVectorizer: {"tokenexp": _token_regex()}}
    if classification:
        options[id(inner)] = {"zipmap": False}
    onnx_model = convert_sklearn(
        graph,
        "automl_lite",
        initial_types=_input_types(prepared),
        options=options,
        target_opset=ONNX_TARGET_OPSET,
    )
    return onnx_model.SerializeToString()


def _token_regex() -> str:
    from training_image.preprocess import TEXT_TOKEN_PATTERN

    return TEXT_TOKEN_PATTERN


def compare_onnx(
    onnx_bytes: bytes, pipeline: Any, X: pd.DataFrame, *, classification: bool
) -> dict[str, Any]:
    """Max |pickle - ONNX| over up to ONNX_CHECK_ROWS rows (probabilities or values)."""
    import onnxruntime as ort

    X = X.head(ONNX_CHECK_ROWS)
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    prepared = pipeline.named_steps["prepare"].transform(X)
    outputs = session.run(None, onnx_feed(prepared))
    if classification:
        expected = np.asarray(pipeline.predict_proba(X), dtype=np.float64)
        got = np.asarray(outputs[1], dtype=np.float64)
        # Exact ties (two classes at 0.5) may be broken differently; they are not counted.
        ordered = np.sort(expected, axis=1)
        clear = (ordered[:, -1] - ordered[:, -2]) > 1e-6 if expected.shape[1] > 1 else True
        same = np.asarray(outputs[0]).ravel() == np.argmax(expected, axis=1)
        return {
            "max_abs_diff": float(np.max(np.abs(got - expected))) if len(X) else 0.0,
            "rows": int(len(X)),
            "label_agreement": float(np.mean(same[clear])) if np.any(clear) else 1.0,
            "tied_rows": int(np.sum(~clear)) if expected.shape[1] > 1 else 0,
            "scale": 1.0,
        }
    expected = np.asarray(pipeline.predict(X), dtype=np.float64).ravel()
    got = np.asarray(outputs[0], dtype=np.float64).ravel()
    scale = max(1.0, float(np.max(np.abs(expected)))) if len(X) else 1.0
    return {
        "max_abs_diff": float(np.max(np.abs(got - expected))) if len(X) else 0.0,
        "rows": int(len(X)),
        "scale": scale,
    }


# --------------------------------------------------------------------------- model card


def onnx_inputs(features: Sequence[FeatureSpec], prepared: pd.DataFrame) -> list[OnnxInput]:
    """How to build each ONNX input from a raw row (the card's `onnx.inputs`)."""
    inputs = []
    for f in features:
        for i, name in enumerate(f.inputs):
            entry: OnnxInput = {
                "name": name,
                "column": f.column,
                "dtype": "float" if pd.api.types.is_float_dtype(prepared[name].dtype) else "string",
                "derived": f.datetime_parts[i] if f.encoding == "datetime" else None,
                "encoding": f.encoding,
            }
            if f.encoding == "datetime":
                entry["format"] = f.datetime_format
            if f.unit is not None:
                entry["unit"] = f.unit
            inputs.append(entry)
    return inputs


ONNX_NOTES = (
    "Each input is a [N, 1] tensor named as in `inputs`; `column` is the raw column it comes "
    "from. Steps that run before the graph (in model.pkl they are the `prepare` step): "
    "float inputs take the number, or NaN when the value is missing or not a number "
    "(the graph imputes the training median and adds a missing flag); a `numeric` input with "
    "a `unit` also takes the number written with that unit, compared case-insensitively "
    "('23.4 kmpl', '23.4kmpl', '$12', '12%': a number with an optional sign and decimal point, "
    "the unit after it or a currency sign before it), and NaN for a number in another unit; "
    "`boolean` inputs are 1.0 for true/yes/1 and 0.0 for false/no/0; "
    f"`onehot`/`ordinal` inputs take the stripped text, or '{MISSING_TOKEN}' when missing "
    "(unseen values are handled in the graph); `text` inputs take str.lower() of the value, "
    "or '' when missing; `datetime` inputs parse the raw value with "
    "datetime.strptime(value.strip(), format) (a whole number as its digits: 20141013 for "
    "%Y%m%d; values with an offset are converted to UTC first) and take one part each: "
    "year, month, day, dayofweek (Monday=0, date.weekday()), "
    "dayofyear (timetuple().tm_yday), hour, or epoch_days ((value - 1970-01-01) in days, "
    "fractional); NaN when missing or unparseable."
)


def library_versions() -> dict[str, str]:
    import importlib.metadata as md

    names = {"sklearn": "scikit-learn", "xgboost": "xgboost-cpu"}
    versions = {"python": platform.python_version()}
    for lib in LIBRARIES:
        try:
            versions[lib] = md.version(names.get(lib, lib))
        except md.PackageNotFoundError:
            try:
                versions[lib] = md.version(lib)
            except md.PackageNotFoundError:
                continue
    return versions


def data_sha256(df: pd.DataFrame) -> str:
    """A fingerprint of the training data (row order and values)."""
    hashed = pd.util.hash_pandas_object(df, index=False).to_numpy()
    digest = hashlib.sha256(hashed.tobytes())
    digest.update("\x1f".join(map(str, df.columns)).encode())
    return digest.hexdigest()


def feature_entries(
    features: Sequence[FeatureSpec], X: pd.DataFrame, prepared: pd.DataFrame
) -> list[FeatureEntry]:
    """The card's `features`: name, kind, dtype and allowed values or range."""
    entries = []
    for f in features:
        s = X[f.column]
        entry: FeatureEntry = {"name": f.column, "kind": f.kind, "dtype": str(s.dtype)}
        if f.encoding in ("onehot", "ordinal"):
            values = prepared[f.inputs[0]]
            counts = values[values != MISSING_TOKEN].value_counts()
            entry["allowed_values"] = [str(v) for v in counts.index[:50]]
            entry["n_values"] = int(len(counts))
        elif f.encoding in ("numeric", "boolean"):
            values = prepared[f.inputs[0]].dropna()
            if f.unit is not None:
                entry["unit"] = f.unit  # the server reads "23.4 kmpl" as 23.4 too
            if len(values):
                entry["min"] = float(values.min())
                entry["max"] = float(values.max())
                entry["median"] = float(values.median())
                entry["is_integer"] = bool((values % 1 == 0).all())
        elif f.encoding == "datetime":
            entry["format"] = f.datetime_format
        elif f.encoding == "text":
            # A few frequent values, as examples a form can offer (any text is accepted).
            present = s[s.notna()].astype(str).str.strip()
            counts = present[present != ""].value_counts()
            entry["examples"] = [str(v)[:200] for v in counts.index[:TEXT_EXAMPLES]]
        entries.append(entry)
    return entries


def model_card(
    *,
    job_id: str | None,
    problem_type: str,
    target: str,
    features: Sequence[FeatureSpec],
    feature_list: list[FeatureEntry],
    classes: Sequence[Any] | None,
    metrics: dict[str, Any],
    seed: int,
    data_hash: str,
    dropped: list[dict[str, str]],
    onnx_inputs_list: list[OnnxInput],
    onnx_info: OnnxCheck,
    trained_on: str,
    metric: str,
    best_estimator: str,
    ensemble: CardEnsemble | None = None,
    cut: Sequence[str] = (),
    drift_reference: dict[str, Any] | None = None,
) -> ModelCard:
    """model_card.json (contract.ModelCard)."""
    classification = problem_type != "regression"
    mapping = {str(i): c for i, c in enumerate(classes)} if classification and classes else {}
    outputs = (
        [
            {
                "name": "label",
                "dtype": "int64",
                "shape": ["N"],
                "meaning": (
                    "class code; label_mapping[str(code)] is the original label (on an exact "
                    "tie model.pkl takes the lower code: argmax of probabilities matches it)"
                ),
            },
            {
                "name": "probabilities",
                "dtype": "float",
                "shape": ["N", len(mapping)],
                "meaning": "probability of each class code, in code order",
            },
        ]
        if classification
        else [{"name": "variable", "dtype": "float", "shape": ["N", 1], "meaning": "prediction"}]
    )
    onnx: CardOnnx = {
        "available": onnx_info["available"],
        "inputs": onnx_inputs_list,
        "outputs": outputs,
        "notes": ONNX_NOTES,
        "max_abs_diff": onnx_info["max_abs_diff"],
        "opset": ONNX_TARGET_OPSET,
    }
    card: ModelCard = {
        "job_id": job_id,
        "problem_type": problem_type,
        "target": target,
        "metric": metric,
        "best_estimator": best_estimator,
        "features": feature_list,
        "classes": list(classes) if classification and classes is not None else None,
        "label_mapping": mapping,
        "metrics": metrics,
        "seed": seed,
        # The same data, settings and seed give the same model and scores, unless the time
        # budget cut the run's plan short: `cut` says where.
        "reproducible": not cut,
        "cut": list(cut),
        # Whether the job allowed a weighted ensemble, and whether one won.
        "ensemble": ensemble,
        "data_sha256": data_hash,
        "library_versions": library_versions(),
        "created_at": utcnow(),
        "dropped_columns": dropped,
        "trained_on": trained_on,
        "onnx": onnx,
        "pickle": {
            "load": "pickle.load(f) in Python with numpy, pandas, scikit-learn, lightgbm "
            "and xgboost at the versions in library_versions; the file carries the code of "
            "its own preprocessing classes (load only files you trust: loading runs code)",
            "predict": "model.predict(df) and model.predict_proba(df) take a DataFrame "
            "with the original feature columns and return original labels",
        },
        # Each feature's training shares per bin, for a validation file's drift
        # (`training_image.drift`); null for a model trained without it.
        "drift_reference": drift_reference,
    }
    return jsonable(card)


def preprocessing_summary(
    features: Sequence[FeatureSpec],
    feature_list: list[dict[str, Any]],
    dropped: list[dict[str, str]],
    classes: Sequence[Any] | None,
) -> dict[str, Any]:
    """The job record's `preprocessing` field (small: the web reads it on every page)."""
    numeric = {
        e["name"]: {
            "min": e["min"],
            "max": e["max"],
            "is_integer": e["is_integer"],
            "median": e.get("median"),
        }
        for e in feature_list
        if "min" in e
    }
    summary: dict[str, Any] = {}
    # Fewer example values per column until the record is small enough.
    for limit in (50, 20, 5, 0):
        categorical = {
            e["name"]: [v[:100] for v in e["allowed_values"][:limit]]
            for e in feature_list
            if "allowed_values" in e
        }
        examples = {
            e["name"]: [v[:100] for v in e["examples"][:limit]]
            for e in feature_list
            if "examples" in e
        }
        summary = jsonable(
            {
                "feature_columns": [f.column for f in features],
                "feature_types": {f.column: f.kind for f in features},
                "dropped_columns": dropped,
                "target_mapping": {str(i): c for i, c in enumerate(classes)} if classes else {},
                "categorical_values": categorical,
                "text_examples": examples,
                "numeric_stats": numeric,
            }
        )
        if len(json.dumps(summary)) <= PREPROCESSING_MAX_BYTES:
            break
    return summary
