"""The training form: what the configure page posts to `jobs:create`.

Built with the dataset record (`TrainForm(data, dataset=dataset)`), it offers the
dataset's columns and checks the request against them: the target exists and is not
excluded, the metric fits the problem type (chosen, or detected for that target), and
a feature column is left. Without a record (`TrainForm(data)`) it checks the shapes
only; `jobs.services.job_create` checks the rest against the dataset either way.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.validators import MinValueValidator

from jobs.services import (
    MAX_IDEMPOTENCY_KEY_LENGTH,
    detected_problem_type,
    min_time_budget,
    not_a_target_message,
)
from training_image.contract import (
    MAX_TIME_BUDGET,
    METRIC_LABELS,
    METRICS,
    PROBLEM_TYPES,
    Dataset,
    auto_time_budget,
)
from training_image.detection import problem_type_label

AUTO = "auto"
CLASS_NAME_PREFIX = "class_name:"  # form fields class_name:<class value>, one per class
PROBLEM_TYPE_CHOICES = [(AUTO, "Detect automatically")] + [
    (value, problem_type_label(value)) for value in PROBLEM_TYPES
]
ALL_METRICS = list(dict.fromkeys(m for names in METRICS.values() for m in names))
METRIC_CHOICES = [(AUTO, "Default for the problem type")] + [
    (name, METRIC_LABELS.get(name, name)) for name in ALL_METRICS
]


def metric_choices(problem_type: str | None) -> list[tuple[str, str]]:
    """`auto` plus the metrics that apply to `problem_type` (all of them when unknown)."""
    names = METRICS.get(problem_type or "", ALL_METRICS)
    default = METRICS[problem_type][0] if problem_type in METRICS else None
    auto_label = (
        f"Default ({METRIC_LABELS.get(default, default)})" if default else METRIC_CHOICES[0][1]
    )
    return [(AUTO, auto_label)] + [(name, METRIC_LABELS.get(name, name)) for name in names]


class _ColumnChoiceField(forms.MultipleChoiceField):
    """Column names: the dataset's when the form has one, any names otherwise."""

    def valid_value(self, value: Any) -> bool:
        return super().valid_value(value) if self.choices else isinstance(value, str)


class TrainForm(forms.Form):
    dataset_id = forms.UUIDField(widget=forms.HiddenInput)
    target_column = forms.CharField(
        max_length=1024,
        strip=False,  # column names may start or end with spaces
        error_messages={"required": "Choose the column to predict."},
    )
    problem_type = forms.ChoiceField(choices=PROBLEM_TYPE_CHOICES, required=False, initial=AUTO)
    metric = forms.ChoiceField(choices=METRIC_CHOICES, required=False, initial=AUTO)
    time_budget = forms.IntegerField(
        required=False,
        max_value=MAX_TIME_BUDGET,
        help_text="Seconds of model search. Leave blank for the automatic budget.",
    )
    excluded_columns = _ColumnChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    idempotency_key = forms.CharField(
        required=False, max_length=MAX_IDEMPOTENCY_KEY_LENGTH, widget=forms.HiddenInput
    )

    def __init__(self, *args: Any, dataset: Dataset | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.dataset = dataset
        budget = self.fields["time_budget"]
        # The floor is a setting (tests lower it), so it is applied per form, not per class.
        budget.min_value = min_time_budget()
        budget.validators.append(MinValueValidator(min_time_budget()))
        budget.widget.attrs.update(min=min_time_budget(), max=MAX_TIME_BUDGET, step=1)
        if dataset is not None:
            self.fields["dataset_id"].initial = dataset.dataset_id
            columns = [(name, name) for name in dataset.columns]
            self.fields["excluded_columns"].choices = columns
            budget.widget.attrs["placeholder"] = f"auto ({self.auto_budget} s)"

    @property
    def auto_budget(self) -> int:
        rows = self.dataset.row_count if self.dataset is not None else 0
        return auto_time_budget(rows or 0)

    def clean_dataset_id(self) -> str:
        value = str(self.cleaned_data["dataset_id"])
        if self.dataset is not None and value != self.dataset.dataset_id:
            raise forms.ValidationError("This form belongs to another dataset.")
        return value

    def clean_target_column(self) -> str:
        target = self.cleaned_data["target_column"]
        if self.dataset is not None and target not in self.dataset.columns:
            raise forms.ValidationError(f"Target column '{target}' not found in dataset")
        return target

    def clean_problem_type(self) -> str | None:
        value = self.cleaned_data.get("problem_type")
        return None if value in (None, "", AUTO) else value

    def clean_metric(self) -> str | None:
        value = self.cleaned_data.get("metric")
        return None if value in (None, "", AUTO) else value

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        target = data.get("target_column")
        excluded = data.get("excluded_columns") or []
        if target and target in excluded:
            self.add_error(
                "excluded_columns",
                f"The target column '{target}' cannot also be excluded: untick it, or pick "
                "another target.",
            )
        if self.dataset is not None and target:
            features = [c for c in self.dataset.columns if c != target and c not in excluded]
            if not features:
                self.add_error("excluded_columns", "No feature columns are left: exclude fewer.")
        # Class names come as one field per class value (the configure page lists them).
        data["class_names"] = {
            key.removeprefix(CLASS_NAME_PREFIX): str(value).strip()
            for key, value in self.data.items()
            if key.startswith(CLASS_NAME_PREFIX) and str(value).strip()
        }
        problem_type = data.get("problem_type")
        if problem_type is None and self.dataset is not None and target:
            problem_type = detected_problem_type(self.dataset, target)
            if problem_type is None and "target_column" not in self.errors:
                self.add_error("target_column", not_a_target_message(self.dataset, target))
        metric = data.get("metric")
        if metric and problem_type in METRICS and metric not in METRICS[problem_type]:
            self.add_error(
                "metric",
                f"{METRIC_LABELS.get(metric, metric)} does not apply to "
                f"{problem_type_label(problem_type).lower()}; pick one of "
                f"{', '.join(METRIC_LABELS.get(m, m) for m in METRICS[problem_type])}.",
            )
        return data
