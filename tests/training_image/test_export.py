"""ONNX export of ensembles and its guards; the container on S3 + DynamoDB (moto)."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from tests.training_image import frames
from training_image import contract, ensemble, export, preprocess
from training_image.contract import JobStatus
from training_image.data import profile_frame
from training_image.search import Candidate, zero_shot_configs


def _fitted(df, target, task, model):
    plan = preprocess.plan_features(df, target, profile_frame(df))
    return preprocess.fit_pipeline(plan.features, df[plan.columns], df[target].to_numpy(), model)


@pytest.mark.parametrize(
    ("frame", "target", "task"),
    [(frames.mixed, "churn", "binary"), (frames.diabetes, "target", "regression")],
    ids=["classifier", "regressor"],
)
def test_it_exports_a_weighted_ensemble_of_lgbm_and_xgboost(frame, target, task):
    df = frame()
    plan = preprocess.plan_features(df, target, profile_frame(df))
    encoded = preprocess.fit_pipeline(
        plan.features, df[plan.columns], df[target].to_numpy(), _NoFit()
    ).encoded
    configs = zero_shot_configs(task, encoded, df[target].to_numpy(), ["lgbm", "xgboost"])
    candidates = {
        name: Candidate(name, name, points[0], score=0.0, fit_seconds=0.0)
        for name, points in configs.items()
    }
    model = ensemble.build_ensemble({"lgbm": 2, "xgboost": 1}, candidates, task=task, n_jobs=1)
    if task != "regression":
        model = preprocess.DecodedClassifier(model)

    fitted = _fitted(df, target, task, model)
    result = export.export_onnx(
        fitted.pipeline, df.drop(columns=[target]), classification=task != "regression"
    )

    assert result.info["available"] is True, result.info["reason"]
    assert result.model is not None
    scale = 1.0 if task != "regression" else float(np.abs(df[target]).max())
    assert result.info["max_abs_diff"] <= 1e-4 * scale


def test_it_leaves_out_onnx_for_a_huge_model_and_says_why(monkeypatch):
    df = frames.iris()
    fitted = _fitted(df, "species", "multiclass", preprocess.DecodedClassifier(_forest()))
    monkeypatch.setattr(export, "ONNX_MAX_TREE_NODES", 10)

    result = export.export_onnx(fitted.pipeline, df, classification=True)

    assert result.model is None
    assert result.info["available"] is False
    assert "tree nodes, too many" in result.info["reason"]


def _forest():
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(n_estimators=5, random_state=0)


class _NoFit:
    def fit(self, X, y, sample_weight=None):
        return self


def test_it_runs_a_job_against_s3_and_dynamodb(tmp_path, monkeypatch):
    """The AWS path of the container: S3 storage and the DynamoDB job table (moto)."""
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    from training_image.__main__ import JobRun
    from training_image.jobstore import DynamoJobStore

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with moto.mock_aws():
        s3 = boto3.client("s3")
        for bucket in ("data", "models", "reports"):
            s3.create_bucket(
                Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
            )
        key = contract.dataset_key("d1", "penguins.csv")
        s3.put_object(Bucket="data", Key=key, Body=frames.penguins_csv().read_bytes())
        table = boto3.resource("dynamodb").create_table(
            TableName="jobs",
            KeySchema=[{"AttributeName": contract.DYNAMO_JOBS_KEY, "KeyType": "HASH"}],
            AttributeDefinitions=[
                {"AttributeName": contract.DYNAMO_JOBS_KEY, "AttributeType": "S"}
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        job = contract.Job(
            job_id="j1",
            owner_id="1",
            dataset_id="d1",
            target_column="species",
            status=JobStatus.QUEUED,
            time_budget=3,
        )
        table.put_item(Item={k: v for k, v in job.to_item().items() if v is not None})
        backend = contract.Backend(
            storage="s3",
            datasets_location="data",
            models_location="models",
            reports_location="reports",
            job_store="dynamodb",
            job_store_location="jobs",
        )
        config = contract.read_container_env(
            contract.container_env(job, dataset_key=key, backend=backend)
        )
        run = JobRun(config, DynamoJobStore(table), time.monotonic())

        assert run.claim() is None
        run.train(tmp_path)

        stored = DynamoJobStore(table).get("j1")
        assert stored.status == JobStatus.COMPLETED
        assert stored.metrics["accuracy"] > 0.9
        assert stored.preprocessing["target_mapping"]["0"] == "Adelie"
        for name, key in stored.artifacts.items():
            bucket = contract.ARTIFACT_STORAGE[name]
            head = s3.head_object(Bucket=bucket, Key=key)
            assert head["ContentType"] == contract.ARTIFACT_CONTENT_TYPES[name]
        card = json.loads(
            s3.get_object(Bucket="models", Key=stored.artifacts[contract.MODEL_CARD])["Body"].read()
        )
        assert card["job_id"] == "j1"


@pytest.mark.parametrize("value", [5.05, 1.1, 0.3])
def test_it_makes_lightgbm_thresholds_agree_with_onnx(value):
    """A split between two neighbouring float32 values: rounded to float32 for ONNX, the
    double threshold would land on the upper value and send its rows the other way."""
    import onnxruntime as ort
    from lightgbm import LGBMRegressor
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    upper = np.float32(value)
    lower = np.nextafter(upper, np.float32(-np.inf))
    X = np.array([[lower]] * 50 + [[upper]] * 50, dtype=np.float32)
    model = LGBMRegressor(n_estimators=1, min_child_samples=5, learning_rate=1.0, verbose=-1)
    model.fit(X, np.array([0.0] * 50 + [10.0] * 50))
    before = model.predict(X)

    export.align_lightgbm_thresholds(model)

    export.register_converters()
    graph = convert_sklearn(
        model,
        initial_types=[("x", FloatTensorType([None, 1]))],
        target_opset=export.ONNX_TARGET_OPSET,
    )
    session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    onnx = session.run(None, {"x": X})[0].ravel()
    assert np.array_equal(model.predict(X), before)  # no decision of the model changed
    assert np.abs(onnx - before).max() < 1e-6


@pytest.mark.parametrize(
    "texts",
    [
        ["mr. owen harris", "", "né 1912, x2 — ünïcode words", "a b c", "one", "  two  three  "],
        ["", "", ""],  # no row has a word: the tokenizer's output has no columns
    ],
    ids=["texts", "all-empty"],
)
def test_the_word_count_is_the_same_in_onnx(texts):
    import onnxruntime as ort
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import StringTensorType

    counter = preprocess.WordCount().fit(texts)
    export.register_converters()
    graph = convert_sklearn(
        counter,
        initial_types=[("text", StringTensorType([None, 1]))],
        target_opset=export.ONNX_TARGET_OPSET,
    )
    session = ort.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])

    (got,) = session.run(None, {"text": np.array(texts, dtype=object).reshape(-1, 1)})

    assert got.shape == (len(texts), 1)
    assert np.array_equal(got.ravel(), counter.transform(texts).ravel())
