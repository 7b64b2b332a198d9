"""The whole training pipeline as one function, usable without any job record.

`train_frame` is what the container's entrypoint, the `train` management command and the
benchmarks all call: a DataFrame and a target in, a fitted model, its evaluation, model card
and artifact files out. Everything it does fits in the time budget: the search leaves room for
refitting, evaluation, export and reports, and stops early once it has converged.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from training_image import contract, drift
from training_image.budget import (
    ALL_ROWS_FACTOR,
    ENSEMBLE_BUDGET_SHARE,
    PLAN_GRACE_SHARE,
    RESERVE_BUDGET_SHARE,
    RESERVE_SECONDS,
    default_n_jobs,
    final_model_seconds,
)
from training_image.contract import JobPhase
from training_image.data import normalise_frame, profile_frame
from training_image.errors import DataError
from training_image.labels import label_text
from training_image.serialize import dumps
from training_image.target import (
    MIN_ROWS,
    RARE_CLASS_ROWS,
    balanced_weights,
    prepare_target,
    split_rows,
)

log = logging.getLogger(__name__)

ProgressCallback = Callable[[dict[str, Any]], None]
ArtifactCallback = Callable[[str, Path], None]


@dataclass
class TrainResult:
    """What `train_frame` produced."""

    model: Any  # sklearn Pipeline: raw rows in, original labels / values out
    problem_type: str
    metric: str
    target: str
    classes: list[Any] | None
    metrics: dict[str, Any]  # the job record's `metrics`
    evaluation: dict[str, Any]  # evaluation.json
    card: dict[str, Any]  # model_card.json
    preprocessing: dict[str, Any]  # the job record's `preprocessing`
    onnx_model: bytes | None
    artifacts: dict[str, Path] = field(default_factory=dict)  # artifact name -> file
    warnings: list[str] = field(default_factory=list)
    timeline: dict[str, float] = field(default_factory=dict)


class _Clock:
    """Phases, their durations and the progress messages that go with them."""

    def __init__(
        self, started: float, deadline: float, metric: str | None, progress: ProgressCallback | None
    ) -> None:
        self.started = started
        self.deadline = deadline
        self.metric = metric
        self.progress = progress
        self.phase: str = JobPhase.STARTING
        self.phase_started = time.monotonic()
        self.timeline: dict[str, float] = {}
        self.search: dict[str, Any] = {}

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def enter(self, phase: str, message: str) -> None:
        now = time.monotonic()
        if self.phase != JobPhase.STARTING:
            self.timeline[self.phase] = round(
                self.timeline.get(self.phase, 0.0) + now - self.phase_started, 3
            )
        self.phase, self.phase_started = phase, now
        self.report(message)

    def report(self, message: str, *, eta: float | None = None) -> None:
        if self.progress is None:
            return
        self.progress(
            {
                "phase": str(self.phase),
                "message": message,
                "trials": self.search.get("trials", 0),
                "best_estimator": self.search.get("best_estimator"),
                "best_score": self.search.get("best_score"),
                "metric": self.metric,
                "elapsed": round(self.elapsed(), 1),
                "eta": round(max(0.0, self.left() if eta is None else eta), 1),
            }
        )


# --------------------------------------------------------------------------- reports


def _report_module() -> Any:
    """training_image.report when it is installed (it renders the HTML reports)."""
    try:
        from training_image import report
    except ImportError:
        log.warning("training_image.report is not available: HTML reports are skipped")
        return None
    return report


# --------------------------------------------------------------------------- main function


def train_frame(
    df: pd.DataFrame,
    target: str,
    *,
    time_budget: float,
    problem_type: str | None = None,
    metric: str | None = None,
    excluded: Sequence[str] = (),
    class_names: dict[str, str] | None = None,
    seed: int = 42,
    kept: Sequence[str] = (),
    progress: ProgressCallback | None = None,
    out_dir: str | Path | None = None,
    on_artifact: ArtifactCallback | None = None,
    job_id: str | None = None,
    started: float | None = None,
    estimators: Sequence[str] | None = None,
    n_jobs: int | None = None,
    ensemble: bool = True,
    refit_all: bool = True,
    reports: bool = True,
    converge: bool = True,
) -> TrainResult:
    """Train, evaluate and export a model for `target` from the rows of `df`.

    Args:
        df: the dataset (e.g. from `data.load_csv`); the target is one of its columns.
        target: the column to predict.
        time_budget: seconds for the whole run (search, refit, evaluation, export, reports).
        problem_type: "binary", "multiclass" or "regression"; None detects it.
        metric: one of contract.METRICS[problem_type]; None takes the problem type's default.
        excluded: columns to leave out.
        class_names: names for integer-coded classes (class value as text -> name), given
            at configure time; the model then learns, predicts and reports the names.
        seed: random seed for splits, search and models.
        kept: identifier or constant columns to keep as features anyway (the user unticked
            the analysis's exclusion); other such columns are dropped.
        progress: called with {phase, message, trials, best_estimator, best_score, metric,
            elapsed, eta} as the run goes (possibly from a helper thread; may raise to stop).
        out_dir: when given, the artifacts are written there.
        on_artifact: called with (artifact name, path) after each artifact file is written.
        job_id: recorded in the model card.
        started: `time.monotonic()` when the job started (defaults to now); the budget counts
            from there.
        estimators: FLAML learners to search (default: lgbm, xgboost, rf, extra_tree, plus
            lassolars for regression and lrl2 for classification up to 10k rows).
        n_jobs: threads per model (default: one for small data, else the CPUs this process
            may use).
        ensemble: try a weighted ensemble of the learners' best models after the search.
        refit_all: refit the chosen model on all rows (train + test) after evaluating it.
        reports: render the EDA and training reports (needs `training_image.report`).
        converge: stop the search early once it has converged.

    Returns:
        The fitted model with its evaluation, model card and artifacts.

    Raises:
        DataError: the data cannot be trained on as given; the message says why.
    """
    from training_image import ensemble as ensemble_lib
    from training_image import evaluate, export, preprocess, search

    started = time.monotonic() if started is None else started
    deadline = started + float(time_budget)
    clock = _Clock(started, deadline, metric, progress)
    out_path = Path(out_dir) if out_dir is not None else None
    if out_path is not None:
        out_path.mkdir(parents=True, exist_ok=True)
    artifacts: dict[str, Path] = {}
    warnings: list[str] = []

    def write(name: str, data: bytes | str) -> None:
        if out_path is None:
            return
        path = out_path / name
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        artifacts[name] = path
        if on_artifact is not None:
            on_artifact(name, path)

    # ---------------------------------------------------------------- profiling
    clock.enter(JobPhase.PROFILING, "Profiling the columns")
    if problem_type is not None and problem_type not in contract.PROBLEM_TYPES:
        raise DataError(f"Unknown problem type {problem_type!r}.")
    df = _with_string_columns(df)
    if target not in df.columns:
        listed = ", ".join(f"'{c}'" for c in list(df.columns)[:20])
        raise DataError(f"The target column '{target}' is not in the file. Its columns: {listed}.")
    if len(df) < MIN_ROWS:
        raise DataError(f"The file has {len(df)} rows: at least {MIN_ROWS} are needed to train.")
    df = normalise_frame(df)
    if class_names:
        df = _named_classes(df, target, class_names)
    infos = profile_frame(df)
    report = _report_module() if reports else None
    if report is not None:
        _render(
            warnings,
            "EDA report",
            lambda: write(
                contract.EDA_REPORT,
                report.eda_report(
                    df,
                    target,
                    [i.profile for i in infos.values()],
                    {c: str(i.kind) for c, i in infos.items()},
                ),
            ),
        )

    tgt = prepare_target(df, target, infos[target], problem_type)
    warnings.extend(tgt.warnings)
    problem_type = tgt.problem_type
    imbalanced = problem_type != "regression" and contract.is_imbalanced(np.bincount(tgt.y))
    if metric is None:
        metric = contract.default_metric(problem_type, imbalanced=imbalanced)
    elif metric not in contract.METRICS[problem_type]:
        raise DataError(
            f"The metric '{metric}' does not apply to {problem_type}; choose one of "
            f"{', '.join(contract.METRICS[problem_type])}."
        )
    clock.metric = metric
    classification = problem_type != "regression"
    estimators = tuple(estimators or search.default_estimators(problem_type, int(tgt.keep.sum())))

    # ---------------------------------------------------------------- preprocessing
    clock.enter(JobPhase.PREPROCESSING, "Encoding the features")
    plan = preprocess.plan_features(
        df, target, infos, [c for c in excluded if c != target], kept=kept
    )
    if not plan.features:
        raise DataError(
            "No column is left to learn from: every column other than the target was excluded "
            "or dropped (identifiers, constants, duplicates)."
        )
    rows = df.loc[tgt.keep, plan.columns].reset_index(drop=True)
    y = tgt.y
    train_idx, test_idx = split_rows(y, classification=classification, seed=seed)
    X_train, X_test = rows.iloc[train_idx], rows.iloc[test_idx]
    if classification and len(np.setdiff1d(np.unique(y), np.unique(y[test_idx]))):
        warnings.append(
            f"Classes with fewer than {RARE_CLASS_ROWS} rows were kept for training only, so the "
            "test rows do not measure them."
        )
    y_train, y_test = y[train_idx], y[test_idx]
    weights = None
    # Imbalanced classes get balanced weights by default; log loss keeps the plain ones, as
    # reweighting would skew the probabilities it scores.
    if classification and metric != "log_loss" and contract.is_imbalanced(np.bincount(y_train)):
        weights = balanced_weights(y_train)
    fitted_search = preprocess.fit_pipeline(
        plan.features, X_train, y_train, _NoModel()
    )  # the encoder fit on training rows, for the search
    X_train_enc = fitted_search.encoded
    n_jobs = n_jobs or default_n_jobs(X_train_enc.size)

    # ---------------------------------------------------------------- search
    overhead = RESERVE_SECONDS + RESERVE_BUDGET_SHARE * float(time_budget)
    # The model-dependent work is planned to end by `planned_end` (see PLAN_GRACE_SHARE).
    grace = PLAN_GRACE_SHARE * float(time_budget)
    planned_end = deadline + grace

    def cost(members: Sequence[search.Candidate]) -> float:
        return final_model_seconds(members, refit_all=refit_all)

    def reserve(candidates: list[search.Candidate], plan: search.FoldPlan) -> float:
        # Room for the model the ensemble would choose now, within its share of the budget.
        members = candidates[:1]
        if ensemble:
            limit = ENSEMBLE_BUDGET_SHARE * float(time_budget)
            members = ensemble_lib.planned_members(
                candidates, y_train, plan, metric, fits=lambda m: cost(m) <= limit
            )
        return overhead + cost(members)

    def on_trial(state: search.SearchState) -> None:
        best = state.best
        clock.search = {
            "trials": len(state.trials),
            "best_estimator": best.estimator if best else None,
            "best_score": round(best.score, 6) if best else None,
        }
        label = contract.estimator_label(best.estimator if best else None)
        clock.report(f"Trial {len(state.trials)}: best so far {label}")

    clock.enter(JobPhase.SEARCHING, "Searching models (zero-shot defaults first)")
    result = search.run_search(
        X_train_enc,
        y_train,
        task=problem_type,
        metric=metric,
        time_budget=max(1.0, clock.left() + grace - overhead),
        seed=seed,
        n_jobs=n_jobs,
        estimators=estimators,
        sample_weight=weights,
        deadline=planned_end,
        reserve=reserve,
        on_trial=on_trial,
        converge=converge,
    )
    on_trial(_final_state(result))

    candidates = {c.id: c for c in result.candidates}
    best_candidate = result.candidates[0]
    choice = ensemble_lib.EnsembleChoice(False, "not tried", weights={best_candidate.id: 1})
    if ensemble and len(candidates) > 1:
        clock.report("Trying a weighted ensemble of the best models")
        choice = ensemble_lib.choose_ensemble(
            result,
            time_left=clock.left() + grace - overhead,
            cost=cost,
        )
    elif not ensemble:
        choice.reason = "ensembles were turned off"
    members = [candidates[i] for i in choice.weights]
    if len(members) > 1:
        best_name = "ensemble"
        best_config: dict[str, Any] = {
            "members": choice.weights,
            "configs": {c.id: {"estimator": c.estimator, "config": c.config} for c in members},
        }
    else:
        best_name, best_config = members[0].estimator, members[0].config
    validation_score = choice.score if choice.use else best_candidate.score

    def new_model(n_rows: int) -> Any:
        model = ensemble_lib.build_ensemble(
            choice.weights, candidates, task=problem_type, n_jobs=n_jobs, rows=n_rows
        )
        return preprocess.DecodedClassifier(model) if classification else model

    # ---------------------------------------------------------------- refit
    clock.enter(JobPhase.REFITTING, "Fitting the chosen model on the training rows")
    y_train_labels = _labels(y_train, tgt.classes)
    t0 = time.monotonic()
    evaluated = preprocess.fit_pipeline(
        plan.features, X_train, y_train_labels, new_model(len(X_train)), sample_weight=weights
    )
    fit_seconds = time.monotonic() - t0
    export.align_lightgbm_thresholds(evaluated.pipeline.named_steps["model"])
    final = evaluated
    trained_on = "training rows (80 %)"
    if refit_all and len(test_idx):
        # The test rows were only needed to measure the model; the shipped one learns from all.
        # The fit on all rows takes about ALL_ROWS_FACTOR times the one just measured; the
        # export estimate stands (it counts tree nodes, not how busy the machine is).
        planned = sum(m.fit_seconds for m in members)
        export_seconds = cost(members) - planned * (1.0 + ALL_ROWS_FACTOR)
        needed = fit_seconds * ALL_ROWS_FACTOR + export_seconds
        if needed < clock.left() + grace - overhead:
            clock.report("Refitting the chosen model on all rows")
            all_weights = balanced_weights(y) if weights is not None else None
            final = preprocess.fit_pipeline(
                plan.features,
                rows,
                _labels(y, tgt.classes),
                new_model(len(rows)),
                sample_weight=all_weights,
            )
            export.align_lightgbm_thresholds(final.pipeline.named_steps["model"])
            trained_on = "all rows (training + test) after evaluation"
        else:
            warnings.append("No time was left to refit on all rows; the model uses 80 % of them.")

    # ---------------------------------------------------------------- evaluate
    clock.enter(JobPhase.EVALUATING, "Measuring the model on the test rows")
    if classification:
        scores = evaluate.evaluate_classifier(
            evaluated.pipeline, X_test, y_test, y_train, classes=tgt.classes, metric=metric
        )
    else:
        scores = evaluate.evaluate_regressor(
            evaluated.pipeline, X_test, y_test, y_train, metric=metric, seed=seed
        )
    importance = evaluate.feature_importance(
        evaluated.pipeline.named_steps["model"], evaluated.sources
    )
    leakage = evaluate.leakage_warnings(
        X_train_enc,
        y_train,
        fitted_search.sources,
        problem_type=problem_type,
        seed=seed,
        columns=[i["feature"] for i in importance] or plan.columns,
    )

    # ---------------------------------------------------------------- export
    clock.enter(JobPhase.EXPORTING, "Writing model.pkl, model.onnx and the model card")
    model = final.pipeline
    write(contract.MODEL_PKL, export.pickle_model(model))
    onnx = export.export_onnx(
        model, X_test if len(X_test) else X_train, classification=classification
    )
    if onnx.model is not None:
        write(contract.MODEL_ONNX, onnx.model)
    prepared_all = model.named_steps["prepare"].transform(rows)
    feature_list = export.feature_entries(plan.features, rows, prepared_all)
    leaderboard = result.leaderboard()
    if choice.score is not None:
        # The ensemble was tried: its score and the members' re-measured scores are
        # out-of-fold on the same rows, so they compare with each other.
        for row in leaderboard:
            row["oof_score"] = choice.member_scores.get(row["estimator"])
    if choice.score is not None and len(choice.weights) > 1:
        leaderboard.insert(
            0,
            {
                "estimator": "ensemble",
                "best_score": choice.score,
                "oof_score": choice.score,
                "trials": 1,
                "time": round(choice.seconds, 3),
                "members": choice.weights,
            },
        )
    headline = dict(scores["test_metrics"])
    job_metrics = {
        **headline,
        "training_time": round(clock.elapsed(), 2),
        "best_estimator": best_name,
        "validation_score": validation_score,
    }
    card = export.model_card(
        job_id=job_id,
        problem_type=problem_type,
        target=target,
        features=plan.features,
        feature_list=feature_list,
        classes=tgt.classes,
        metrics=headline,
        seed=seed,
        data_hash=export.data_sha256(df),
        dropped=plan.dropped,
        onnx_inputs_list=export.onnx_inputs(plan.features, prepared_all),
        onnx_info=onnx.info,
        trained_on=trained_on,
        metric=metric,
        best_estimator=best_name,
        ensemble={"allowed": bool(ensemble), "used": bool(choice.use), "reason": choice.reason},
        drift_reference=drift.reference(
            plan.features, {f.column: X_train[f.column].to_numpy() for f in plan.features}
        ),
    )
    evaluation: dict[str, Any] = {
        "problem_type": problem_type,
        "metric": metric,
        "metric_label": contract.METRIC_LABELS.get(metric, metric),
        "best_estimator": best_name,
        "best_config": best_config,
        "validation_score": validation_score,
        **scores,
        "leaderboard": leaderboard,
        "feature_importance": importance,
        "leakage_warnings": leakage,
        "onnx": onnx.info,
        "split": {
            "train_rows": int(len(train_idx)),
            "test_rows": int(len(test_idx)),
            "validation": result.eval_method,
            "folds": result.folds,
            "seed": seed,
        },
        "dropped_columns": plan.dropped,
        "target_missing_dropped": tgt.missing_dropped,
        "search": {
            "trials": result.n_trials,
            "seconds": round(result.seconds, 2),
            "stopped": result.stopped,
            "estimators": list(estimators),
        },
        "ensemble": {
            "used": choice.use,
            "reason": choice.reason,
            "weights": choice.weights,
            "score": choice.score,
            "single_score": choice.single_score,
        },
        "class_weighting": "balanced" if weights is not None else None,
        "trained_on": trained_on,
        "warnings": warnings,
        "search_history": result.history(),
    }
    preprocessing = export.preprocessing_summary(
        plan.features, feature_list, plan.dropped, tgt.classes
    )

    # ---------------------------------------------------------------- reports
    clock.enter(JobPhase.REPORTING, "Writing the training report")
    evaluation["timeline"] = dict(clock.timeline)
    evaluation = _json_round_trip(evaluation)
    write(contract.MODEL_CARD, dumps(card, indent=2))
    write(contract.EVALUATION, dumps(evaluation, indent=2))
    if report is not None:
        _render(
            warnings,
            "training report",
            lambda: write(contract.TRAINING_REPORT, report.training_report(card, evaluation)),
        )
    clock.enter(JobPhase.DONE, "Done")
    job_metrics["training_time"] = round(clock.elapsed(), 2)
    return TrainResult(
        model=model,
        problem_type=problem_type,
        metric=metric,
        target=target,
        classes=tgt.classes,
        metrics=_json_round_trip(job_metrics),
        evaluation=evaluation,
        card=card,
        preprocessing=preprocessing,
        onnx_model=onnx.model,
        artifacts=artifacts,
        warnings=warnings,
        timeline=dict(clock.timeline),
    )


class _NoModel:
    """Stands in for the model when only the encoder needs fitting."""

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> _NoModel:
        return self


def _labels(codes: np.ndarray, classes: list[Any] | None) -> np.ndarray:
    """Original labels for codes (classification), or the values themselves (regression)."""
    if classes is None:
        return codes
    return np.asarray(classes)[codes]


def _final_state(result: Any) -> Any:
    from training_image.search import SearchState

    state = SearchState(trials=result.trials)
    state.best = min(result.trials, key=lambda t: t.loss) if result.trials else None
    return state


def _named_classes(df: pd.DataFrame, target: str, names: dict[str, str]) -> pd.DataFrame:
    """The frame with the target's coded values replaced by their names (unnamed codes keep
    their text), so every later step sees the names."""
    texts = [label_text(v) for v in df[target].tolist()]
    named = [None if t is None else names.get(t, t) for t in texts]
    out = df.copy()
    out[target] = pd.Series(named, index=df.index, dtype=object)
    return out


def _with_string_columns(df: pd.DataFrame) -> pd.DataFrame:
    if all(isinstance(c, str) for c in df.columns):
        return df
    return df.set_axis([str(c) for c in df.columns], axis=1)


def _json_round_trip(value: dict[str, Any]) -> dict[str, Any]:
    import json

    return json.loads(dumps(value))


def _render(warnings: list[str], name: str, render: Callable[[], None]) -> None:
    """Render a report; a failure is logged and noted, never allowed to lose the model."""
    try:
        render()
    except Exception:  # a report bug must not fail a trained job
        log.error("the %s could not be rendered:\n%s", name, traceback.format_exc())
        warnings.append(f"The {name} could not be rendered.")
