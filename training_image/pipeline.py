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
from typing import Any, cast

import numpy as np
import pandas as pd

from training_image import contract, drift
from training_image.budget import (
    ALL_ROWS_FACTOR,
    ENSEMBLE_BUDGET_SHARE,
    PLAN_GRACE_SHARE,
    RESERVE_BUDGET_SHARE,
    RESERVE_SECONDS,
    Contention,
    default_n_jobs,
    export_estimate,
    final_model_seconds,
    planned_final_seconds,
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
    evaluation: contract.Evaluation  # evaluation.json
    card: contract.ModelCard  # model_card.json
    preprocessing: dict[str, Any]  # the job record's `preprocessing`
    onnx_model: bytes | None
    artifacts: dict[str, Path] = field(default_factory=dict)  # artifact name -> file
    warnings: list[str] = field(default_factory=list)
    timeline: dict[str, float] = field(default_factory=dict)


class _Clock:
    """Phases, their durations and the progress messages that go with them, on the run's
    clock `now` (`time.monotonic`; a test may pass a slower one)."""

    def __init__(
        self,
        started: float,
        deadline: float,
        metric: str | None,
        progress: ProgressCallback | None,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.started = started
        self.deadline = deadline
        self.metric = metric
        self.progress = progress
        self.now = now
        self.phase: str = JobPhase.STARTING
        self.phase_started = now()
        self.timeline: dict[str, float] = {}
        self.search: dict[str, Any] = {}

    def elapsed(self) -> float:
        return self.now() - self.started

    def left(self) -> float:
        return self.deadline - self.now()

    def enter(self, phase: str, message: str) -> None:
        now = self.now()
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


# --------------------------------------------------------------------------- run state


@dataclass(frozen=True)
class RunSettings:
    """What the caller asked for: `train_frame`'s arguments (see there)."""

    target: str
    time_budget: float
    problem_type: str | None = None
    metric: str | None = None
    excluded: tuple[str, ...] = ()
    class_names: dict[str, str] | None = None
    seed: int = 42
    kept: tuple[str, ...] = ()
    job_id: str | None = None
    estimators: tuple[str, ...] | None = None
    n_jobs: int | None = None
    ensemble: bool = True
    refit_all: bool = True
    reports: bool = True
    converge: bool = True
    log_target: bool = True


class _Files:
    """The artifact files of a run, written to `out_dir` (nothing is written without one)."""

    def __init__(self, out_dir: str | Path | None, on_artifact: ArtifactCallback | None) -> None:
        self.out_path = Path(out_dir) if out_dir is not None else None
        if self.out_path is not None:
            self.out_path.mkdir(parents=True, exist_ok=True)
        self.on_artifact = on_artifact
        self.written: dict[str, Path] = {}

    def write(self, name: str, data: bytes | str) -> None:
        if self.out_path is None:
            return
        path = self.out_path / name
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        self.written[name] = path
        if self.on_artifact is not None:
            self.on_artifact(name, path)


@dataclass
class Split:
    """The rows with a target, split into training and test rows, and the search's input."""

    rows: pd.DataFrame  # every row with a target, the plan's columns
    y: np.ndarray  # label codes or values of `rows`
    train_idx: np.ndarray
    test_idx: np.ndarray
    weights: np.ndarray | None  # balanced class weights of the training rows, or None
    encoder: Any  # preprocess.FittedPipeline: the encoder fit on the training rows
    n_jobs: int

    @property
    def X_train(self) -> pd.DataFrame:
        return self.rows.iloc[self.train_idx]

    @property
    def X_test(self) -> pd.DataFrame:
        return self.rows.iloc[self.test_idx]

    @property
    def y_train(self) -> np.ndarray:
        return self.y[self.train_idx]

    @property
    def y_test(self) -> np.ndarray:
        return self.y[self.test_idx]


@dataclass
class ModelChoice:
    """The model the search and the ensemble chose: one candidate or a weighted blend."""

    candidates: dict[str, Any]  # candidate id -> search.Candidate
    ensemble: Any  # ensemble.EnsembleChoice
    name: str  # the learner, or "ensemble"
    config: dict[str, Any]
    validation_score: float

    @property
    def members(self) -> list[Any]:
        return [self.candidates[i] for i in self.ensemble.weights]


@dataclass
class Fitted:
    """The chosen model fitted on the training rows (measured) and the one shipped."""

    evaluated: Any  # preprocess.FittedPipeline on the training rows
    final: Any  # preprocess.FittedPipeline shipped: on all rows, or `evaluated`
    trained_on: str


@dataclass
class RunState:
    """What flows from one stage of `train_frame` to the next; each stage fills in its part
    (a field is unset, and reading it an error, until the stage that makes it has run)."""

    settings: RunSettings
    clock: _Clock
    files: _Files
    warnings: list[str] = field(default_factory=list)
    # What the time budget cut from the run's plan; empty: the run is reproducible (the same
    # data, settings and seed give the same model and scores).
    cut: list[str] = field(default_factory=list)
    report: Any = None  # training_image.report when reports are rendered
    report_seconds: float = 0.0  # what the EDA report took: the training report's reserve
    # The machine's contention from the search on (budget.Contention); until then, none.
    meter: Contention | None = None
    df: pd.DataFrame = field(init=False)
    infos: dict[str, Any] = field(init=False)  # column -> data.ColumnInfo
    target: Any = field(init=False)  # target.Target
    metric: str = field(init=False)
    estimators: tuple[str, ...] = field(init=False)
    plan: Any = field(init=False)  # preprocess.FeaturePlan
    split: Split = field(init=False)
    target_scale: Any = field(init=False)  # target_transform.TargetChoice
    search: Any = field(init=False)  # search.SearchResult
    choice: ModelChoice = field(init=False)
    fitted: Fitted = field(init=False)
    scores: dict[str, Any] = field(init=False)  # evaluate.evaluate_*'s test-set numbers
    importance: list[dict[str, Any]] = field(init=False)
    leakage: list[dict[str, Any]] = field(init=False)
    onnx: Any = field(init=False)  # export.OnnxResult
    feature_list: list[dict[str, Any]] = field(init=False)
    prepared_all: pd.DataFrame = field(init=False)
    metrics: dict[str, Any] = field(init=False)  # the job record's `metrics`
    card: contract.ModelCard = field(init=False)
    evaluation: contract.Evaluation = field(init=False)

    @property
    def problem_type(self) -> str:
        return str(self.target.problem_type)

    @property
    def classification(self) -> bool:
        return self.problem_type != "regression"

    def contention(self) -> float:
        """How much slower than a quiet machine the run goes now (see budget.Contention)."""
        return self.meter.factor() if self.meter is not None else 1.0

    @property
    def overhead(self) -> float:
        """Seconds kept for evaluation, pickling and reports after the model-dependent work:
        a fixed part (also the margin for the estimates), and what the EDA report took."""
        return self.fixed_overhead + self.report_seconds

    @property
    def fixed_overhead(self) -> float:
        """The part of `overhead` planned from the settings alone."""
        return RESERVE_SECONDS + RESERVE_BUDGET_SHARE * float(self.settings.time_budget)

    @property
    def grace(self) -> float:
        """The model-dependent work may end this long past the deadline (PLAN_GRACE_SHARE)."""
        return PLAN_GRACE_SHARE * float(self.settings.time_budget)

    def time_left(self) -> float:
        """Seconds left for the model-dependent work (refits and export)."""
        return self.clock.left() + self.grace - self.overhead

    @property
    def planned_search_seconds(self) -> float:
        """The search's share of the budget as planned from the settings alone: what
        `time_left` would be at the start with nothing spent (and no report measured)."""
        return max(1.0, float(self.settings.time_budget) + self.grace - self.fixed_overhead)

    def cost(self, members: Sequence[Any]) -> float:
        """Seconds to refit and export a model made of `members` (search.Candidate), from the
        search's measured fits and the contention measured now."""
        return final_model_seconds(
            members, refit_all=self.settings.refit_all, contention=self.contention()
        )

    def planned(self, members: Sequence[Any]) -> bool:
        """Whether an ensemble of `members` fits in its planned share of the budget (planned
        from the data's shape: the same members plan the same every run)."""
        seconds = planned_final_seconds(
            members,
            refit_all=self.settings.refit_all,
            rows=len(self.split.train_idx),
            features=self.split.encoder.encoded.shape[1],
        )
        return seconds <= ENSEMBLE_BUDGET_SHARE * self.settings.time_budget


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
    log_target: bool = True,
    clock: Callable[[], float] = time.monotonic,
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
        started: `clock()` when the job started (defaults to now); the budget counts from
            there.
        estimators: FLAML learners to search (default: lgbm, xgboost, rf, extra_tree, plus
            lassolars for regression and lrl2 for classification up to 10k rows).
        n_jobs: threads per model (default: one for small data, else the CPUs this process
            may use).
        ensemble: try a weighted ensemble of the learners' best models after the search.
        refit_all: refit the chosen model on all rows (train + test) after evaluating it.
        reports: render the EDA and training reports (needs `training_image.report`).
        converge: stop the search early once it has converged.
        log_target: learn a right-skewed positive regression target as log(1 + y) where a
            quick check says it wins (`target_transform`); False never does.
        clock: the run's wall clock (`time.monotonic`); every decision on time reads it. A
            test may pass one that runs faster than real time, as a slower machine would.

    Returns:
        The fitted model with its evaluation, model card and artifacts.

    Raises:
        DataError: the data cannot be trained on as given; the message says why.
    """
    settings = RunSettings(
        target=target,
        time_budget=float(time_budget),
        problem_type=problem_type,
        metric=metric,
        excluded=tuple(excluded),
        class_names=class_names,
        seed=seed,
        kept=tuple(kept),
        job_id=job_id,
        estimators=tuple(estimators) if estimators else None,
        n_jobs=n_jobs,
        ensemble=ensemble,
        refit_all=refit_all,
        reports=reports,
        converge=converge,
        log_target=log_target,
    )
    started = clock() if started is None else started
    run_clock = _Clock(started, started + settings.time_budget, metric, progress, clock)
    state = RunState(settings, run_clock, _Files(out_dir, on_artifact))
    _profile(state, df)
    _prepare_target(state)
    _split_and_encode(state)
    _choose_target_scale(state)
    _search(state)
    _choose_model(state)
    _refit(state)
    _evaluate(state)
    _export(state)
    _document(state)
    _write_documents(state)
    return _result(state)


# --------------------------------------------------------------------------- stages


def _profile(state: RunState, df: pd.DataFrame) -> None:
    """Check the request against the frame, normalise it, profile its columns and render
    the EDA report."""
    settings, target = state.settings, state.settings.target
    state.clock.enter(JobPhase.PROFILING, "Profiling the columns")
    if settings.problem_type is not None and settings.problem_type not in contract.PROBLEM_TYPES:
        raise DataError(f"Unknown problem type {settings.problem_type!r}.")
    df = _with_string_columns(df)
    if target not in df.columns:
        listed = ", ".join(f"'{c}'" for c in list(df.columns)[:20])
        raise DataError(f"The target column '{target}' is not in the file. Its columns: {listed}.")
    if len(df) < MIN_ROWS:
        raise DataError(f"The file has {len(df)} rows: at least {MIN_ROWS} are needed to train.")
    df = normalise_frame(df)
    if settings.class_names:
        df = _named_classes(df, target, settings.class_names)
    state.df, state.infos = df, profile_frame(df)
    state.report = _report_module() if settings.reports else None
    report, infos = state.report, state.infos
    if report is not None:
        rendering = state.clock.now()
        _render(
            state.warnings,
            "EDA report",
            lambda: state.files.write(
                contract.EDA_REPORT,
                report.eda_report(
                    df,
                    target,
                    [i.profile for i in infos.values()],
                    {c: str(i.kind) for c, i in infos.items()},
                ),
            ),
        )
        # Rendered and uploaded like the training report will be: its measure for the plan.
        state.report_seconds = state.clock.now() - rendering


def _prepare_target(state: RunState) -> None:
    """The target's problem type, labels and usable rows; the metric and the learners."""
    from training_image import search

    settings = state.settings
    target = settings.target
    tgt = prepare_target(state.df, target, state.infos[target], settings.problem_type)
    state.target = tgt
    state.warnings.extend(tgt.warnings)
    problem_type = tgt.problem_type
    imbalanced = problem_type != "regression" and contract.is_imbalanced(np.bincount(tgt.y))
    metric = settings.metric
    if metric is None:
        metric = contract.default_metric(problem_type, imbalanced=imbalanced)
    elif metric not in contract.METRICS[problem_type]:
        raise DataError(
            f"The metric '{metric}' does not apply to {problem_type}; choose one of "
            f"{', '.join(contract.METRICS[problem_type])}."
        )
    state.metric = state.clock.metric = metric
    state.estimators = tuple(
        settings.estimators or search.default_estimators(problem_type, int(tgt.keep.sum()))
    )


def _split_and_encode(state: RunState) -> None:
    """Plan the features, split the rows, weigh the classes and encode the training rows."""
    from training_image import preprocess

    settings, tgt = state.settings, state.target
    state.clock.enter(JobPhase.PREPROCESSING, "Encoding the features")
    plan = preprocess.plan_features(
        state.df,
        settings.target,
        state.infos,
        [c for c in settings.excluded if c != settings.target],
        kept=settings.kept,
    )
    if not plan.features:
        raise DataError(
            "No column is left to learn from: every column other than the target was excluded "
            "or dropped (identifiers, constants, duplicates)."
        )
    state.plan = plan
    rows = state.df.loc[tgt.keep, plan.columns].reset_index(drop=True)
    y = tgt.y
    classification = state.classification
    train_idx, test_idx = split_rows(y, classification=classification, seed=settings.seed)
    if classification and len(np.setdiff1d(np.unique(y), np.unique(y[test_idx]))):
        state.warnings.append(
            f"Classes with fewer than {RARE_CLASS_ROWS} rows were kept for training only, so the "
            "test rows do not measure them."
        )
    y_train = y[train_idx]
    weights = None
    # Imbalanced classes get balanced weights for the metrics that reward the rare classes
    # (contract.CLASS_WEIGHTED_METRICS: the F1 scores, the default on imbalanced data).
    if (
        classification
        and state.metric in contract.CLASS_WEIGHTED_METRICS
        and contract.is_imbalanced(np.bincount(y_train))
    ):
        weights = balanced_weights(y_train)
    encoder = preprocess.fit_pipeline(plan.features, rows.iloc[train_idx], y_train, _NoModel())
    state.split = Split(
        rows=rows,
        y=y,
        train_idx=train_idx,
        test_idx=test_idx,
        weights=weights,
        encoder=encoder,
        n_jobs=settings.n_jobs or default_n_jobs(encoder.encoded.size),
    )


def _choose_target_scale(state: RunState) -> None:
    """Learn a skewed positive regression target as log(1 + y) when a quick check in y's own
    units says it wins (`target_transform.choose`)."""
    from training_image import target_transform

    if state.problem_type != "regression" or not state.settings.log_target:
        reason = "classification" if state.classification else "turned off"
        state.target_scale = target_transform.TargetChoice(None, reason)
        return
    state.clock.report("Checking whether the target is better learnt on a log scale")
    state.target_scale = target_transform.choose(
        state.split.encoder.encoded,
        state.split.y_train,
        seed=state.settings.seed,
        n_jobs=state.split.n_jobs,
    )


def _search(state: RunState) -> None:
    """Search learners and hyperparameters, leaving room in the budget for what follows."""
    from training_image import ensemble as ensemble_lib
    from training_image import search

    settings, split, clock = state.settings, state.split, state.clock
    y_train = split.y_train

    def reserve(candidates: list[search.Candidate], plan: search.FoldPlan) -> float:
        # Room for the model the ensemble would choose now, within its share of the budget.
        members = candidates[:1]
        if settings.ensemble:
            members = ensemble_lib.planned_members(
                candidates, y_train, plan, state.metric, fits=state.planned
            )
        return state.overhead + state.cost(members)

    def on_trial(search_state: search.SearchState) -> None:
        best = search_state.best
        clock.search = {
            "trials": len(search_state.trials),
            "best_estimator": best.estimator if best else None,
            "best_score": round(best.score, 6) if best else None,
        }
        label = contract.estimator_label(best.estimator if best else None)
        clock.report(f"Trial {len(search_state.trials)}: best so far {label}")

    clock.enter(JobPhase.SEARCHING, "Searching models (zero-shot defaults first)")
    # From here on the plan reads the machine's pace: the search is nothing but work.
    state.meter = Contention(clock.now)
    state.search = search.run_search(
        split.encoder.encoded,
        y_train,
        task=state.problem_type,
        metric=state.metric,
        time_budget=max(1.0, state.time_left()),
        seed=settings.seed,
        n_jobs=split.n_jobs,
        estimators=state.estimators,
        sample_weight=split.weights,
        # The model-dependent work is planned to end by the deadline plus the grace.
        deadline=clock.deadline + state.grace,
        reserve=reserve,
        on_trial=on_trial,
        converge=settings.converge,
        target_transform=state.target_scale.transform,
        planned_seconds=state.planned_search_seconds,
        clock=clock.now,
    )
    on_trial(_final_state(state.search))
    state.cut.extend(state.search.cut)


def _choose_model(state: RunState) -> None:
    """The search's best model, or a weighted ensemble of its candidates where that wins."""
    from training_image import ensemble as ensemble_lib

    result = state.search
    candidates = {c.id: c for c in result.candidates}
    best_candidate = result.candidates[0]
    choice = ensemble_lib.EnsembleChoice(False, "not tried", weights={best_candidate.id: 1})
    if state.settings.ensemble and len(candidates) > 1:
        state.clock.report("Trying a weighted ensemble of the best models")
        choice = ensemble_lib.choose_ensemble(
            result, time_left=state.time_left(), cost=state.cost, planned=state.planned
        )
        state.cut.extend(choice.cut)
    elif not state.settings.ensemble:
        choice.reason = "ensembles were turned off"
    members = [candidates[i] for i in choice.weights]
    if len(members) > 1:
        name = "ensemble"
        config: dict[str, Any] = {
            "members": choice.weights,
            "configs": {c.id: {"estimator": c.estimator, "config": c.config} for c in members},
        }
    else:
        name, config = members[0].estimator, members[0].config
    state.choice = ModelChoice(
        candidates=candidates,
        ensemble=choice,
        name=name,
        config=config,
        validation_score=choice.score if choice.use else best_candidate.score,
    )


def _new_model(state: RunState, n_rows: int) -> Any:
    """An unfitted copy of the chosen model, for `n_rows` rows."""
    from training_image import ensemble as ensemble_lib
    from training_image import preprocess

    model = ensemble_lib.build_ensemble(
        state.choice.ensemble.weights,
        state.choice.candidates,
        task=state.problem_type,
        n_jobs=state.split.n_jobs,
        rows=n_rows,
        target_transform=state.target_scale.transform,
    )
    return preprocess.DecodedClassifier(model) if state.classification else model


def _refit(state: RunState) -> None:
    """Fit the chosen model on the training rows; then on all rows when time allows."""
    from training_image import export, preprocess

    split, classes, clock = state.split, state.target.classes, state.clock
    features = state.plan.features
    clock.enter(JobPhase.REFITTING, "Fitting the chosen model on the training rows")
    t0 = clock.now()
    evaluated = preprocess.fit_pipeline(
        features,
        split.X_train,
        _labels(split.y_train, classes),
        _new_model(state, len(split.train_idx)),
        sample_weight=split.weights,
    )
    fit_seconds = clock.now() - t0
    export.align_lightgbm_thresholds(evaluated.pipeline.named_steps["model"])
    state.fitted = Fitted(evaluated, evaluated, "training rows (80 %)")
    if not (state.settings.refit_all and len(split.test_idx)):
        return
    # The test rows were only needed to measure the model; the shipped one learns from all.
    # The fit on all rows takes about ALL_ROWS_FACTOR times the one just measured; the
    # export estimate counts tree nodes, at the contention measured now.
    needed = fit_seconds * ALL_ROWS_FACTOR + export_estimate(
        state.choice.members, state.contention()
    )
    if needed >= state.time_left():
        state.warnings.append("No time was left to refit on all rows; the model uses 80 % of them.")
        state.cut.append("refit on all rows: no time was left, the model learned from 80 % of them")
        return
    clock.report("Refitting the chosen model on all rows")
    all_weights = balanced_weights(split.y) if split.weights is not None else None
    final = preprocess.fit_pipeline(
        features,
        split.rows,
        _labels(split.y, classes),
        _new_model(state, len(split.rows)),
        sample_weight=all_weights,
    )
    export.align_lightgbm_thresholds(final.pipeline.named_steps["model"])
    state.fitted = Fitted(evaluated, final, "all rows (training + test) after evaluation")


def _evaluate(state: RunState) -> None:
    """Score the model fitted on the training rows on the test rows; importance; leakage."""
    from training_image import evaluate

    split, seed, evaluated = state.split, state.settings.seed, state.fitted.evaluated
    state.clock.enter(JobPhase.EVALUATING, "Measuring the model on the test rows")
    if state.classification:
        state.scores = evaluate.evaluate_classifier(
            evaluated.pipeline,
            split.X_test,
            split.y_test,
            split.y_train,
            classes=state.target.classes,
            metric=state.metric,
        )
    else:
        state.scores = evaluate.evaluate_regressor(
            evaluated.pipeline,
            split.X_test,
            split.y_test,
            split.y_train,
            metric=state.metric,
            seed=seed,
        )
    state.importance = evaluate.feature_importance(
        evaluated.pipeline.named_steps["model"], evaluated.sources
    )
    # The check may take what the plan has left once the export, the fixed seconds for
    # pickling and the training report are kept (it is part of the overhead's budget share).
    kept = export_estimate(state.choice.members, state.contention())
    kept += RESERVE_SECONDS + state.report_seconds
    leakage = evaluate.leakage_warnings(
        split.encoder.encoded,
        split.y_train,
        split.encoder.sources,
        problem_type=state.problem_type,
        seed=seed,
        columns=[i["feature"] for i in state.importance] or state.plan.columns,
        deadline=state.clock.deadline + state.grace - kept,
        clock=state.clock.now,
    )
    state.leakage = leakage.warnings
    if leakage.checked < leakage.columns:
        state.cut.append(
            f"leakage check: {leakage.checked} of {leakage.columns} columns checked, "
            "no time was left for the others"
        )


def _export(state: RunState) -> None:
    """Write model.pkl and model.onnx; describe the features the shipped model takes."""
    from training_image import export

    split = state.split
    state.clock.enter(JobPhase.EXPORTING, "Writing model.pkl, model.onnx and the model card")
    model = state.fitted.final.pipeline
    state.files.write(contract.MODEL_PKL, export.pickle_model(model))
    state.onnx = export.export_onnx(
        model,
        split.X_test if len(split.X_test) else split.X_train,
        classification=state.classification,
    )
    if state.onnx.model is not None:
        state.files.write(contract.MODEL_ONNX, state.onnx.model)
    state.prepared_all = model.named_steps["prepare"].transform(split.rows)
    state.feature_list = export.feature_entries(state.plan.features, split.rows, state.prepared_all)


def _leaderboard(state: RunState) -> list[dict[str, Any]]:
    """The search's leaderboard, with the ensemble's out-of-fold numbers where it was tried."""
    choice = state.choice.ensemble
    leaderboard = state.search.leaderboard()
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
    return leaderboard


def _document(state: RunState) -> None:
    """The job record's metrics, the model card and the evaluation."""
    from training_image import export

    settings, choice, tgt = state.settings, state.choice, state.target
    headline = dict(state.scores["test_metrics"])
    state.metrics = {
        **headline,
        "training_time": round(state.clock.elapsed(), 2),
        "best_estimator": choice.name,
        "validation_score": choice.validation_score,
    }
    state.card = export.model_card(
        job_id=settings.job_id,
        problem_type=state.problem_type,
        target=settings.target,
        features=state.plan.features,
        feature_list=state.feature_list,
        classes=tgt.classes,
        metrics=headline,
        seed=settings.seed,
        data_hash=export.data_sha256(state.df),
        dropped=state.plan.dropped,
        onnx_inputs_list=export.onnx_inputs(state.plan.features, state.prepared_all),
        onnx_info=state.onnx.info,
        trained_on=state.fitted.trained_on,
        metric=state.metric,
        best_estimator=choice.name,
        ensemble={
            "allowed": bool(settings.ensemble),
            "used": bool(choice.ensemble.use),
            "reason": choice.ensemble.reason,
        },
        cut=state.cut,
        drift_reference=drift.reference(
            state.plan.features,
            {f.column: state.split.X_train[f.column].to_numpy() for f in state.plan.features},
        ),
    )
    state.evaluation = _evaluation(state)


def _evaluation(state: RunState) -> contract.Evaluation:
    """evaluation.json."""
    settings, choice, split, result = state.settings, state.choice, state.split, state.search
    return {
        "problem_type": state.problem_type,
        "metric": state.metric,
        "metric_label": contract.METRIC_LABELS.get(state.metric, state.metric),
        "best_estimator": choice.name,
        "best_config": choice.config,
        "validation_score": choice.validation_score,
        **state.scores,
        "leaderboard": _leaderboard(state),
        "feature_importance": state.importance,
        "leakage_warnings": state.leakage,
        "onnx": state.onnx.info,
        "split": {
            "train_rows": int(len(split.train_idx)),
            "test_rows": int(len(split.test_idx)),
            "validation": result.eval_method,
            "folds": result.folds,
            "seed": settings.seed,
        },
        "dropped_columns": state.plan.dropped,
        "target_missing_dropped": state.target.missing_dropped,
        "search": {
            "trials": result.n_trials,
            "seconds": round(result.seconds, 2),
            "stopped": result.stopped,
            "estimators": list(state.estimators),
        },
        "ensemble": {
            "used": choice.ensemble.use,
            "reason": choice.ensemble.reason,
            "weights": choice.ensemble.weights,
            "score": choice.ensemble.score,
            "single_score": choice.ensemble.single_score,
        },
        "class_weighting": "balanced" if split.weights is not None else None,
        "target_transform": state.target_scale.as_dict(),
        # What the time budget cut from the run's plan (empty: reproducible); the card too.
        "cut": list(state.cut),
        "trained_on": state.fitted.trained_on,
        "warnings": state.warnings,
        "search_history": result.history(),
        "timeline": {},  # filled in when the run ends
    }


def _write_documents(state: RunState) -> None:
    """Write the model card, the evaluation and the training report; the run is done."""
    clock, report = state.clock, state.report
    clock.enter(JobPhase.REPORTING, "Writing the training report")
    state.evaluation["timeline"] = dict(clock.timeline)
    state.evaluation = cast(contract.Evaluation, _json_round_trip(dict(state.evaluation)))
    state.files.write(contract.MODEL_CARD, dumps(state.card, indent=2))
    state.files.write(contract.EVALUATION, dumps(state.evaluation, indent=2))
    if report is not None:
        _render(
            state.warnings,
            "training report",
            lambda: state.files.write(
                contract.TRAINING_REPORT, report.training_report(state.card, state.evaluation)
            ),
        )
    clock.enter(JobPhase.DONE, "Done")
    state.metrics["training_time"] = round(clock.elapsed(), 2)


def _result(state: RunState) -> TrainResult:
    from training_image import export

    return TrainResult(
        model=state.fitted.final.pipeline,
        problem_type=state.problem_type,
        metric=state.metric,
        target=state.settings.target,
        classes=state.target.classes,
        metrics=_json_round_trip(state.metrics),
        evaluation=state.evaluation,
        card=state.card,
        preprocessing=export.preprocessing_summary(
            state.plan.features, state.feature_list, state.plan.dropped, state.target.classes
        ),
        onnx_model=state.onnx.model,
        artifacts=state.files.written,
        warnings=state.warnings,
        timeline=dict(state.clock.timeline),
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
