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

from jobs.services import MAX_IDEMPOTENCY_KEY_LENGTH, analysis_profiles, min_time_budget
from training_image.contract import (
    MAX_TIME_BUDGET,
    METRIC_LABELS,
    METRICS,
    PROBLEM_TYPES,
    Dataset,
    TrainingRequestError,
    auto_time_budget,
    default_metric,
    validate_training_request,
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


def metric_choices(problem_type: str | None, *, imbalanced: bool = False) -> list[tuple[str, str]]:
    """`auto` plus the metrics that apply to `problem_type` (all of them when unknown)."""
    names = METRICS.get(problem_type or "", ALL_METRICS)
    default = (
        default_metric(problem_type, imbalanced=imbalanced) if problem_type in METRICS else None
    )
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
        help_text="Seconds of model search. Leave blank for the automatic budget.",
    )
    excluded_columns = _ColumnChoiceField(required=False, widget=forms.CheckboxSelectMultiple)
    idempotency_key = forms.CharField(
        required=False, max_length=MAX_IDEMPOTENCY_KEY_LENGTH, widget=forms.HiddenInput
    )
    seed = forms.IntegerField(
        required=False, help_text="Random seed of the split and search; blank for the default."
    )
    # The page sends ensemble=0 from a hidden input, then 1 from the ticked box; a request
    # without the field (an older page, a script) keeps the default: on.
    ensemble = forms.TypedChoiceField(
        required=False,
        choices=[("1", "on"), ("0", "off")],
        coerce=lambda value: value != "0",
        empty_value=True,
    )

    def __init__(self, *args: Any, dataset: Dataset | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.dataset = dataset
        budget = self.fields["time_budget"]
        # The floor is a setting (tests lower it), so it is read per form; the range itself
        # is checked by contract.validate_training_request.
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

    def clean_problem_type(self) -> str | None:
        value = self.cleaned_data.get("problem_type")
        return None if value in (None, "", AUTO) else value

    def clean_metric(self) -> str | None:
        value = self.cleaned_data.get("metric")
        return None if value in (None, "", AUTO) else value

    def kept_columns(self, data: dict[str, Any]) -> list[str]:
        """The analysis's default exclusions (identifier, constant) the user unticked: the
        container drops such columns unless told to keep them."""
        if self.dataset is None:
            return []
        defaults = (self.dataset.analysis or {}).get("excluded_columns") or {}
        excluded = set(data.get("excluded_columns") or [])
        target = data.get("target_column")
        return [c for c in defaults if c not in excluded and c != target]

    def clean(self) -> dict[str, Any]:
        """The request through `contract.validate_training_request` (with the dataset's
        columns and analysis when the form has them), each problem beside its field."""
        data = super().clean()
        if "target_column" not in data:
            return data  # the field's own error ("Choose the column to predict") says it
        dataset = self.dataset
        try:
            validate_training_request(
                target_column=data["target_column"],
                problem_type=data.get("problem_type"),
                metric=data.get("metric"),
                time_budget=data.get("time_budget"),
                excluded_columns=data.get("excluded_columns") or [],
                columns=list(dataset.columns) if dataset is not None else None,
                profiles=analysis_profiles(dataset) if dataset is not None else None,
                min_time_budget=min_time_budget(),
                seed=data.get("seed"),
                ensemble=data.get("ensemble", True),
                kept_columns=self.kept_columns(data),
            )
        except TrainingRequestError as exc:
            for field, message in exc.errors:
                if field not in self.errors:
                    self.add_error(field if field in self.fields else None, message)
        else:
            data["kept_columns"] = self.kept_columns(data)
        # Class names come as one field per class value (the configure page lists them).
        data["class_names"] = {
            key.removeprefix(CLASS_NAME_PREFIX): str(value).strip()
            for key, value in self.data.items()
            if key.startswith(CLASS_NAME_PREFIX) and str(value).strip()
        }
        return data
