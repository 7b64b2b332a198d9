"""The model card (`model_card.json`) read into what serving needs: a ModelSpec."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Any

from core.exceptions import ApplicationError
from training_image.contract import ModelCard
from training_image.features import MISSING_TOKEN, FeatureSpec


class ModelError(ApplicationError):
    """The deployed model or its metadata cannot serve (a server-side fault)."""

    status_code = 500


@dataclass(frozen=True)
class GraphInput:
    """One input of the ONNX graph and the raw column it is built from."""

    name: str
    column: str
    dtype: str  # "float" | "string"
    derived: str | None = None  # a date part ("year", "dayofweek", ...) or None
    encoding: str | None = None  # numeric | boolean | onehot | ordinal | text | datetime
    format: str | None = None  # strptime format of a datetime column
    unit: str | None = None  # unit of a numeric column written with one ("kmpl")


@dataclass(frozen=True)
class Feature:
    """One original column the model takes, as a form field or an API feature."""

    column: str
    kind: str  # numeric | integer | boolean | categorical | text | datetime
    encoding: str  # numeric | boolean | onehot | ordinal | text | datetime
    datetime_format: str | None = None
    categories: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    is_integer: bool = False
    n_values: int | None = None  # categories the model learned (the card may list fewer)
    median: float | None = None  # training median of a number (a labelled hint, never a default)
    unit: str | None = None  # a numeric column written with a unit ("kmpl" for "23.4 kmpl")

    @property
    def all_categories_known(self) -> bool:
        """Whether `categories` lists every category the model learned (unseen ones refused)."""
        return bool(self.categories) and (
            self.n_values is None or self.n_values <= len(self.categories)
        )

    @property
    def mode(self) -> str | None:
        """The most frequent training category (the card lists them most frequent first)."""
        choices = self.choices
        return choices[0] if choices and self.encoding in ("onehot", "ordinal") else None

    @property
    def is_numeric(self) -> bool:
        return self.encoding in ("numeric", "boolean")

    @property
    def legacy_type(self) -> str:
        return "numeric" if self.encoding in ("numeric", "boolean") else "categorical"

    @property
    def input_type(self) -> str:
        if self.encoding == "numeric":
            return "number"
        if self.encoding == "boolean" or self.categories:
            return "select"
        if self.encoding == "datetime":
            return "date"
        return "text"

    @property
    def choices(self) -> list[str]:
        if self.encoding == "boolean" and not self.categories:
            return ["true", "false"]
        return [c for c in self.categories if c != MISSING_TOKEN]


@dataclass
class ModelSpec:
    """What serving needs from a model card."""

    problem_type: str
    features: list[Feature]
    inputs: list[GraphInput]
    outputs: list[str] = field(default_factory=list)
    classes: list[Any] = field(default_factory=list)
    missing_token: str = MISSING_TOKEN

    @property
    def feature_columns(self) -> list[str]:
        return [f.column for f in self.features]

    @functools.cached_property
    def feature_specs(self) -> list[FeatureSpec]:
        """Each feature with its graph inputs, as `training_image.features` prepares them.

        Raises:
            ModelError: a graph input comes from no listed feature.
        """
        known = {f.column for f in self.features}
        if any(i.column not in known for i in self.inputs):
            raise ModelError("Model metadata missing feature columns information")
        specs = []
        for f in self.features:
            graph = [i for i in self.inputs if i.column == f.column]
            if not graph:
                continue
            specs.append(
                FeatureSpec(
                    column=f.column,
                    kind=f.kind,
                    encoding=f.encoding,
                    inputs=tuple(i.name for i in graph),
                    datetime_format=f.datetime_format,
                    datetime_parts=tuple(i.derived or "" for i in graph)
                    if f.encoding == "datetime"
                    else (),
                    unit=f.unit,
                )
            )
        return specs

    @functools.cached_property
    def input_dtypes(self) -> dict[str, str]:
        return {i.name: i.dtype for i in self.inputs}


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def model_spec(card: ModelCard) -> ModelSpec:
    """Read a model card (`contract.read_model_card`) into what serving needs.

    Raises:
        ModelError: the card lists no features or no ONNX inputs.
    """
    inputs = [
        GraphInput(
            name=i["name"],
            column=i["column"],
            dtype="string" if i["dtype"] == "string" else "float",
            derived=i["derived"],
            encoding=i["encoding"],
            format=i.get("format"),  # datetime inputs only
            unit=i.get("unit"),  # numbers written with a unit only
        )
        for i in card["onnx"]["inputs"]
    ]
    features: list[Feature] = []
    for entry in card["features"]:
        column, kind = entry["name"], entry["kind"]
        graph = [i for i in inputs if i.column == column]
        encoding = next((i.encoding for i in graph if i.encoding), None)
        # The facts below exist only for some encodings (contract.FeatureEntry).
        unit = entry.get("unit") or next((i.unit for i in graph if i.unit), None)
        features.append(
            Feature(
                column=column,
                kind=kind,
                encoding=encoding or _guess_encoding(kind, graph),
                datetime_format=entry.get("format")
                or next((i.format for i in graph if i.format), None),
                categories=tuple(entry.get("allowed_values", ())),
                minimum=_float(entry.get("min")),
                maximum=_float(entry.get("max")),
                is_integer=bool(entry.get("is_integer", False)),
                n_values=entry.get("n_values"),
                median=_float(entry.get("median")),
                unit=unit,
            )
        )
    if not features or not inputs:
        raise ModelError("Model metadata missing feature columns information")
    return ModelSpec(
        problem_type=card["problem_type"],
        features=features,
        inputs=inputs,
        outputs=[o["name"] for o in card["onnx"]["outputs"]],
        classes=list(card["classes"] or []),
    )


def _guess_encoding(kind: str, graph: list[GraphInput]) -> str:
    if any(i.derived for i in graph):
        return "datetime"
    if graph and graph[0].dtype == "string":
        return "text" if kind == "text" else "onehot"
    return "boolean" if kind == "boolean" else "numeric"
