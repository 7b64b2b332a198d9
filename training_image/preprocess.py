"""Preprocessing as sklearn estimators, stored inside `model.pkl`.

The saved model is one `Pipeline`:

    prepare  RawFramePreparer   raw rows (original columns) -> one typed column per graph input:
                                numbers as float, categories and text as strings, dates split
                                into parts, by the rule of `features.py` (which the server
                                applies to request values too). Runs before the ONNX graph.
    encode   ColumnTransformer  median imputation + missing flags, one-hot (few categories) or
                                frequency-ranked ordinal codes (many), TF-IDF and the word
                                count for text.
                                Learned on training rows only; unseen categories map to all-zero
                                one-hot / code -1. Converted to ONNX with the model.
    float32  ToFloat32          what the ONNX graph does implicitly, so both agree exactly.
    model    the estimator, wrapped in DecodedClassifier for classification so `predict`
             returns the original labels.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted, validate_data

from training_image import features as rule
from training_image.detection import DROPPED_KINDS, KIND_REASONS, Family, Kind
from training_image.features import (  # the rule is defined once, in features.py
    DATE_PARTS,
    ENCODINGS,  # noqa: F401 - re-exported for callers of this module
    MISSING_TOKEN,  # noqa: F401 - re-exported for callers of this module
    TIME_PARTS,
    FeatureSpec,
)

if TYPE_CHECKING:
    from sklearn.compose import ColumnTransformer

    from training_image.data import ColumnInfo

ONEHOT_MAX_CATEGORIES = 15  # more distinct values than this: ordinal codes instead
ORDINAL_MAX_CATEGORIES = 1000  # the most frequent categories get codes; rarer ones share -1
ORDINAL_MIN_COUNT = 2  # a category seen once gets no code of its own (it would only overfit)
TEXT_MAX_FEATURES = 50  # most frequent words kept per free-text column
# ASCII words of 2+ characters: identical in Python's `re` and onnxruntime's RE2 tokenizer.
TEXT_TOKEN_PATTERN = r"[a-zA-Z0-9]{2,}"


@dataclass
class FeaturePlan:
    features: list[FeatureSpec] = field(default_factory=list)
    dropped: list[dict[str, str]] = field(default_factory=list)  # [{column, reason}]

    @property
    def columns(self) -> list[str]:
        return [f.column for f in self.features]


# --------------------------------------------------------------------------- planning


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_")[:40] or "col"


def _column_digest(s: pd.Series) -> str:
    hashed = pd.util.hash_pandas_object(s, index=False).to_numpy()
    return hashlib.sha1(hashed.tobytes()).hexdigest()


def plan_features(
    df: pd.DataFrame,
    target: str,
    infos: dict[str, ColumnInfo],
    excluded: Sequence[str] = (),
    *,
    kept: Sequence[str] = (),
) -> FeaturePlan:
    """Decide, for every column but the target, whether and how it becomes a feature.

    Dropped columns get a reason a user can read: excluded, identifier, constant, duplicate.
    A column in `kept` stays even when it looks like an identifier or a constant: the user
    saw the analysis's exclusion and unticked it.
    """
    plan = FeaturePlan()
    excluded_set = set(excluded)
    kept_set = set(kept)
    seen: dict[tuple[str, str], str] = {}
    for index, column in enumerate(df.columns):
        column = str(column)
        if column == target:
            continue
        if column in excluded_set:
            plan.dropped.append({"column": column, "reason": "excluded when the job was set up"})
            continue
        info = infos[column]
        if info.kind in DROPPED_KINDS and column not in kept_set:
            plan.dropped.append({"column": column, "reason": KIND_REASONS[Kind(info.kind)]})
            continue
        key = (str(df[column].dtype), _column_digest(df[column]))
        if key in seen and df[column].equals(df[seen[key]]):
            plan.dropped.append(
                {"column": column, "reason": f"duplicate: identical to column '{seen[key]}'"}
            )
            continue
        seen[key] = column
        plan.features.append(_feature_spec(index, column, info))
    return plan


def _feature_spec(index: int, column: str, info: ColumnInfo) -> FeatureSpec:
    base = f"f{index}_{_slug(column)}"
    family = info.profile.family
    kind = str(info.kind)
    if family == Family.BOOLEAN:
        return FeatureSpec(column, kind, "boolean", (base,))
    if family == Family.DATETIME and info.datetime_format:
        parts = DATE_PARTS + (TIME_PARTS if "%H" in info.datetime_format else ())
        return FeatureSpec(
            column,
            kind,
            "datetime",
            tuple(f"{base}__{p}" for p in parts),
            datetime_format=info.datetime_format,
            datetime_parts=parts,
        )
    if family in (Family.INTEGER, Family.FLOAT):
        # A column written with a unit ("23.4 kmpl") keeps it: a served row may carry it too.
        return FeatureSpec(column, kind, "numeric", (base,), unit=info.profile.unit)
    if info.kind == Kind.TEXT:
        return FeatureSpec(column, kind, "text", (base,))
    encoding = "onehot" if info.profile.n_unique <= ONEHOT_MAX_CATEGORIES else "ordinal"
    return FeatureSpec(column, kind, encoding, (base,))


# --------------------------------------------------------------------------- raw rows -> inputs


class RawFramePreparer(TransformerMixin, BaseEstimator):
    """Raw rows with the original columns -> one typed column per graph input.

    Args:
        features: the FeatureSpecs of the plan (which columns, and how).
    """

    def __init__(self, features: Sequence[FeatureSpec] = ()) -> None:
        self.features = features

    def fit(self, X: pd.DataFrame, y: Any = None) -> RawFramePreparer:
        self._check_columns(X)
        self.feature_names_in_ = np.array([f.column for f in self.features], dtype=object)
        self.n_features_in_ = len(self.features)
        return self

    def _check_columns(self, X: Any) -> None:
        if not isinstance(X, pd.DataFrame):
            raise TypeError("the model takes a pandas DataFrame with the original columns")
        missing = [f.column for f in self.features if f.column not in X.columns]
        if missing:
            listed = ", ".join(repr(c) for c in missing[:10])
            raise ValueError(f"the rows lack {len(missing)} feature column(s): {listed}")

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "n_features_in_")
        self._check_columns(X)
        out: dict[str, pd.Series] = {}
        for f in self.features:
            s = X[f.column]
            raw = s.to_numpy() if s.dtype.kind in "fiu" else s.tolist()
            # Leniently: a value the server would refuse becomes missing here.
            prepared = rule.prepare_column(f, raw, strict=False)
            for name, values in zip(f.inputs, prepared, strict=True):
                numeric = f.is_numeric_input
                out[name] = pd.Series(values, index=X.index, dtype="float64" if numeric else object)
        return pd.DataFrame(out, index=X.index)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.array([name for f in self.features for name in f.inputs], dtype=object)


# --------------------------------------------------------------------------- encoder


class NaNIndicator(TransformerMixin, BaseEstimator):
    """1.0 where a value is missing, else 0.0 (sklearn's `add_indicator` has no ONNX converter;
    this one does, see export.py)."""

    def fit(self, X: Any, y: Any = None) -> NaNIndicator:
        validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan")
        return self

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "n_features_in_")
        X = validate_data(self, X, reset=False, dtype=np.float64, ensure_all_finite="allow-nan")
        return np.isnan(X).astype(np.float64)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        names = _check_feature_names_in(self, input_features)
        return np.array([f"{n}__missing" for n in names], dtype=object)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


class WordCount(TransformerMixin, BaseEstimator):
    """The number of words (TEXT_TOKEN_PATTERN tokens, as TF-IDF splits them) in each text.

    How long a text is says what the presence of its frequent words does not: on titanic's
    names (a title, a husband's name, a maiden name in brackets) the count lifted test ROC AUC
    from 0.856 to 0.868 on the quality bench's three splits, every split better. Converted to
    ONNX with the same tokenizer as TF-IDF (see export.py).
    """

    def fit(self, X: Any, y: Any = None) -> WordCount:
        self.n_features_in_ = 1
        return self

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "n_features_in_")
        values = np.asarray(X, dtype=object).ravel()
        words = re.compile(TEXT_TOKEN_PATTERN)
        return np.array([[len(words.findall(str(v)))] for v in values], dtype=np.float64)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.array(["words"], dtype=object)


class ToFloat32(TransformerMixin, BaseEstimator):
    """Round features to float32, as the ONNX graph does, so pickle and ONNX agree."""

    def fit(self, X: Any, y: Any = None) -> ToFloat32:
        validate_data(self, X, dtype=np.float32, ensure_all_finite="allow-nan")
        return self

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "n_features_in_")
        return validate_data(self, X, reset=False, dtype=np.float32, ensure_all_finite="allow-nan")

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags


def build_encoder(features: Sequence[FeatureSpec], prepared: pd.DataFrame) -> ColumnTransformer:
    """An unfitted ColumnTransformer for `features`, sized from the rows it will be fit on."""
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

    numeric = [name for f in features if f.is_numeric_input for name in f.inputs]
    with_missing = [name for name in numeric if prepared[name].isna().any()]
    onehot = [f.inputs[0] for f in features if f.encoding == "onehot"]
    ordinal = [f.inputs[0] for f in features if f.encoding == "ordinal"]
    texts = [f.inputs[0] for f in features if f.encoding == "text"]

    parts: list[tuple[str, Any, Any]] = []
    if numeric:
        # keep_empty_features: a column empty in these rows still gets a slot (value 0).
        parts.append(
            ("numeric", SimpleImputer(strategy="median", keep_empty_features=True), numeric)
        )
    if with_missing:
        parts.append(("missing", NaNIndicator(), with_missing))
    if onehot:
        parts.append(
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False), onehot)
        )
    if ordinal:
        categories = [_frequent_categories(prepared[name]) for name in ordinal]
        parts.append(
            (
                "ordinal",
                OrdinalEncoder(
                    categories=categories, handle_unknown="use_encoded_value", unknown_value=-1
                ),
                ordinal,
            )
        )
    for name in texts:
        # TF-IDF of the most frequent words: binary term frequency times the word's inverse
        # document frequency, not normalised per row. ONNX computes exactly these values
        # (a float32 idf per word); an l2-normalised TF-IDF comes out of onnxruntime a float32
        # step apart from sklearn in ~2 % of the cells (measured on netflix descriptions), and
        # XGBoost, whose split points are data values, then sends those rows down the other
        # branch; skl2onnx 1.20 also converts `sublinear_tf` wrongly (off by up to 4.9). For
        # tree models these weights split the rows exactly as word presence does; normalised
        # variants measured no better (titanic names, 5-fold ROC AUC 0.863 against 0.869).
        parts.append(
            (
                f"text_{name}",
                TfidfVectorizer(
                    binary=True,
                    norm=None,
                    max_features=TEXT_MAX_FEATURES,
                    token_pattern=TEXT_TOKEN_PATTERN,
                    lowercase=False,  # done by RawFramePreparer
                    min_df=2 if len(prepared) >= 20 else 1,
                    dtype=np.float32,
                ),
                name,  # a scalar: the vectorizer takes one column as a 1-D array of strings
            )
        )
        parts.append((f"words_{name}", WordCount(), name))
    return ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0)


def _frequent_categories(s: pd.Series) -> list[str]:
    """Categories ranked by frequency (code 0 = most frequent): a target-free encoding that
    lets trees split frequent from rare values."""
    counts = s.value_counts()
    keep = counts[counts >= ORDINAL_MIN_COUNT].index[:ORDINAL_MAX_CATEGORIES]
    categories = [str(c) for c in keep]
    return categories or [str(counts.index[0])]


def encoded_sources(encoder: ColumnTransformer, features: Sequence[FeatureSpec]) -> list[str]:
    """The original column behind each output feature of a fitted encoder."""
    column_of = {name: f.column for f in features for name in f.inputs}
    sources: list[str] = []
    for name, transformer, columns in encoder.transformers_:
        if name == "remainder" or transformer == "drop":
            continue
        if name == "onehot":
            for col, cats in zip(columns, transformer.categories_, strict=True):
                sources.extend([column_of[col]] * len(cats))
        elif name.startswith("text_"):
            sources.extend([column_of[columns]] * len(transformer.vocabulary_))
        elif name.startswith("words_"):
            sources.append(column_of[columns])
        else:
            sources.extend(column_of[col] for col in columns)
    return sources


# --------------------------------------------------------------------------- labels


def learner(model: Any) -> Any:
    """The fitted learner inside the saved model's `model` step: the classifier a
    DecodedClassifier decodes, the regressor a log-target wrapper transforms back, or the
    model itself."""
    if isinstance(model, DecodedClassifier):
        return model.estimator_
    if hasattr(model, "regressor_") and hasattr(model, "inverse_func"):  # log target
        return model.regressor_
    return model


class DecodedClassifier(ClassifierMixin, BaseEstimator):
    """A classifier trained on label codes 0..K-1 whose `predict` returns the original labels.

    XGBoost only takes integer codes, and FLAML searched on codes; this wrapper keeps the
    label encoding inside the saved model so users never see the codes.

    Args:
        estimator: an unfitted sklearn classifier.
    """

    def __init__(self, estimator: Any = None) -> None:
        self.estimator = estimator

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> DecodedClassifier:
        from sklearn.preprocessing import LabelEncoder

        if self.estimator is None:
            raise ValueError("DecodedClassifier needs an estimator")
        check_classification_targets(y)
        encoder = LabelEncoder().fit(np.asarray(y))
        # A plain array of the labels (str, int, float or bool), not numpy objects.
        self.classes_ = np.asarray(encoder.classes_.tolist())
        codes = encoder.transform(np.asarray(y))
        self.estimator_ = clone(self.estimator)
        if sample_weight is None:
            self.estimator_.fit(X, codes)
        else:
            self.estimator_.fit(X, codes, sample_weight=sample_weight)
        if hasattr(self.estimator_, "n_features_in_"):
            self.n_features_in_ = self.estimator_.n_features_in_
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_proba(X)

    def predict(self, X: Any) -> np.ndarray:
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self) -> Any:
        from sklearn.utils import get_tags

        tags = super().__sklearn_tags__()
        if self.estimator is not None:
            inner = get_tags(self.estimator).input_tags
            tags.input_tags.sparse = inner.sparse
            tags.input_tags.allow_nan = inner.allow_nan
        return tags


@dataclass
class FittedPipeline:
    pipeline: Any  # the sklearn Pipeline (raw rows in)
    encoded: np.ndarray  # float32 features of the rows it was fit on
    sources: list[str]  # original column behind each encoded feature


def fit_pipeline(
    features: Sequence[FeatureSpec],
    X: pd.DataFrame,
    y: Any,
    model: Any,
    *,
    sample_weight: Any = None,
) -> FittedPipeline:
    """Fit preparer, encoder and `model` on raw rows `X` and assemble the saved pipeline."""
    preparer = RawFramePreparer(features=tuple(features)).fit(X)
    prepared = preparer.transform(X)
    encoder = build_encoder(features, prepared)
    matrix = ToFloat32().fit_transform(encoder.fit_transform(prepared))
    if sample_weight is None:
        model.fit(matrix, y)
    else:
        model.fit(matrix, y, sample_weight=sample_weight)
    return FittedPipeline(
        pipeline=assemble_pipeline(preparer, encoder, model, n_features=matrix.shape[1]),
        encoded=matrix,
        sources=encoded_sources(encoder, features),
    )


def assemble_pipeline(preparer: Any, encoder: Any, model: Any, *, n_features: int) -> Any:
    """A Pipeline made of already fitted steps."""
    from sklearn.pipeline import Pipeline

    caster = ToFloat32().fit(np.zeros((1, n_features), dtype=np.float32))
    return Pipeline(
        [("prepare", preparer), ("encode", encoder), ("float32", caster), ("model", model)]
    )
