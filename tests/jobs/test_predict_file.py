"""Scoring a CSV file with a completed job's ONNX model: the API, the page and the service.

Bad input first: each refusal is checked for its status and for a message that says
what to fix. The happy paths compare the downloaded predictions with the job's own
`model.pkl` on the same rows (a real FLAML model trained here on the penguins).
"""

from __future__ import annotations

import codecs
import csv
import io
import pickle

import numpy as np
import pandas as pd
import pytest
from django.core.files.base import ContentFile

from automl_lite import wiring
from jobs import inference, prediction_files
from tests.jobs.factories import store_dataset, store_job
from tests.jobs.models import GENTOO, PENGUINS_CSV, store_penguin_model
from training_image.contract import MODEL_CARD, MODEL_ONNX, MODEL_PKL, JobStatus, artifact_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def penguins(alice):
    return store_dataset(alice, content=PENGUINS_CSV.read_bytes(), filename="penguins.csv")


@pytest.fixture
def onnx_job(alice, penguins):
    """A completed job with the small hand-built penguins ONNX model (no model.pkl)."""
    job = store_job(
        alice,
        penguins,
        status=JobStatus.COMPLETED,
        metrics={"accuracy": 0.98, "training_time": 3.0, "best_estimator": "lrl2"},
    )
    return wiring.job_repository().update(job.job_id, artifacts=store_penguin_model(job.job_id))


def csv_bytes(rows: list[dict], *, sep: str = ",", encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), delimiter=sep, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def upload(content: bytes, name: str = "rows.csv") -> ContentFile:
    return ContentFile(content, name=name)


def score(client, job, content: bytes, name: str = "rows.csv"):
    return client.post(f"/api/jobs/{job.job_id}/predictions", {"file": upload(content, name)})


def read_result(response) -> pd.DataFrame:
    body = b"".join(response.streaming_content)
    return pd.read_csv(io.BytesIO(body), keep_default_na=False, dtype=str)


# --------------------------------------------------------------------------- bad input (API)


def test_it_names_the_missing_columns(alice_client, onnx_job):
    rows = [{k: v for k, v in GENTOO.items() if k not in ("island", "sex")}]
    response = score(alice_client, onnx_job, csv_bytes(rows))
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert "'island'" in detail and "'sex'" in detail
    assert "missing 2 columns" in detail
    assert response.json()["extra"]["missing_columns"] == ["island", "sex"]


def test_it_points_at_a_column_whose_name_differs_only_in_case(alice_client, onnx_job):
    rows = [{("Island" if k == "island" else k): v for k, v in GENTOO.items()}]
    detail = score(alice_client, onnx_job, csv_bytes(rows)).json()["detail"]
    assert "'island'" in detail
    assert "the file has 'Island'" in detail


def test_it_names_the_row_and_column_of_a_value_that_is_not_a_number(alice_client, onnx_job):
    rows = [GENTOO, GENTOO, {**GENTOO, "body_mass_g": "heavy"}, GENTOO]
    response = score(alice_client, onnx_job, csv_bytes(rows))
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "Row 3 (line 4), column 'body_mass_g': 'heavy' is not a number. Fix the value, "
        "or leave the cell empty to let the model fill it in."
    )
    assert response.json()["extra"] == {"row": 3, "line": 4, "column": "body_mass_g"}


def test_it_counts_rows_across_chunks_in_the_message(alice_client, onnx_job, monkeypatch):
    monkeypatch.setattr(prediction_files, "CHUNK_ROWS", 4)
    rows = [GENTOO] * 9 + [{**GENTOO, "flipper_length_mm": "long"}]
    detail = score(alice_client, onnx_job, csv_bytes(rows)).json()["detail"]
    assert detail.startswith("Row 10 (line 11), column 'flipper_length_mm': 'long' is not")


def test_it_refuses_more_rows_than_the_setting_with_413(alice_client, onnx_job, settings):
    settings.AUTOML_MAX_PREDICT_ROWS = 10
    response = score(alice_client, onnx_job, csv_bytes([GENTOO] * 11))
    assert response.status_code == 413
    assert "at most 10 rows" in response.json()["detail"]
    assert score(alice_client, onnx_job, csv_bytes([GENTOO] * 10)).status_code == 200


def test_it_refuses_a_file_over_the_size_setting_with_413(alice_client, onnx_job, settings):
    content = csv_bytes([GENTOO] * 40)
    settings.AUTOML_MAX_PREDICT_BYTES = 1000
    response = score(alice_client, onnx_job, content)
    assert response.status_code == 413
    assert "1000 bytes" in response.json()["detail"]


def test_it_answers_404_for_another_users_job(bob_client, onnx_job):
    response = score(bob_client, onnx_job, csv_bytes([GENTOO]))
    assert response.status_code == 404
    assert response.json()["detail"] == "Job not found"


def test_it_answers_400_for_a_job_that_is_not_completed(alice_client, alice, penguins):
    job = store_job(alice, penguins, status=JobStatus.RUNNING)
    response = score(alice_client, job, csv_bytes([GENTOO]))
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "Cannot score a file with a job that is running. Only completed jobs make predictions."
    )


def test_it_answers_400_for_a_job_without_an_onnx_model(alice_client, alice, penguins):
    job = store_job(alice, penguins, status=JobStatus.COMPLETED, artifacts={})
    response = score(alice_client, job, csv_bytes([GENTOO]))
    assert response.status_code == 400
    assert response.json()["detail"].startswith("No ONNX model available for this job")


def test_it_asks_for_the_file_field(alice_client, onnx_job):
    response = alice_client.post(f"/api/jobs/{onnx_job.job_id}/predictions", {"data": "x"})
    assert response.status_code == 400
    assert response.json()["detail"] == ("Send the CSV file as the multipart form field 'file'.")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The file is empty."),
        (b"\x89PNG\r\n\x1a\n" + bytes(200), "This file is a PNG image, not a CSV."),
        (",".join(GENTOO).encode() + b"\n", "The file has a header but no data rows"),
    ],
    ids=["empty", "png", "header-only"],
)
def test_it_explains_a_file_it_cannot_read(alice_client, onnx_job, content, message):
    response = score(alice_client, onnx_job, content)
    assert response.status_code == 400
    assert response.json()["detail"].startswith(message)


def test_it_names_a_row_with_the_wrong_number_of_fields(alice_client, onnx_job):
    content = csv_bytes([GENTOO, GENTOO]) + b"Biscoe,47.5,15\n"
    response = score(alice_client, onnx_job, content)
    assert response.status_code == 400
    assert response.json()["detail"].startswith(
        "Row 3 (line 4) has 3 fields, but the header has 6."
    )


def test_a_one_column_file_is_told_which_columns_the_model_needs(alice_client, onnx_job):
    detail = score(alice_client, onnx_job, b"island\nBiscoe\nDream\n").json()["detail"]
    assert detail.startswith("Only one column was found")
    assert "this model needs 6: bill_length_mm, bill_depth_mm," in detail


def test_it_answers_401_to_anonymous_callers(anon, onnx_job):
    assert score(anon, onnx_job, csv_bytes([GENTOO])).status_code == 401


def test_it_rejects_get(alice_client, onnx_job):
    assert alice_client.get(f"/api/jobs/{onnx_job.job_id}/predictions").status_code == 405


def test_it_answers_404_for_a_malformed_id(alice_client):
    response = alice_client.post(
        "/api/jobs/not-a-uuid/predictions", {"file": upload(b"a,b\n1,2\n")}
    )
    assert response.status_code == 404


# --------------------------------------------------------------------------- bad input (page)


def test_the_page_shows_the_error_next_to_the_field(alice_client, onnx_job):
    rows = [{k: v for k, v in GENTOO.items() if k != "sex"}]
    response = alice_client.post(
        f"/jobs/{onnx_job.job_id}/predict/file/", {"file": upload(csv_bytes(rows))}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="predict-file-error"' in html
    assert "The file is missing 1 column the model needs: &#x27;sex&#x27;" in html
    assert "field has-error" in html


def test_the_page_asks_for_a_file(alice_client, onnx_job):
    response = alice_client.post(f"/jobs/{onnx_job.job_id}/predict/file/", {})
    assert response.status_code == 400
    assert "Choose a CSV file to score." in response.content.decode()


def test_the_page_form_needs_a_login_and_a_post(anon, alice_client, onnx_job):
    url = f"/jobs/{onnx_job.job_id}/predict/file/"
    assert anon.post(url, {"file": upload(csv_bytes([GENTOO]))}).status_code == 302
    assert alice_client.get(url).status_code == 405


def test_the_page_form_answers_404_for_another_users_job(bob_client, onnx_job):
    url = f"/jobs/{onnx_job.job_id}/predict/file/"
    assert bob_client.post(url, {"file": upload(csv_bytes([GENTOO]))}).status_code == 404


# --------------------------------------------------------------------------- happy paths


def test_it_adds_predictions_and_probabilities_and_keeps_every_column(alice_client, onnx_job):
    rows = [{"id": "p1", **GENTOO, "note": "a, quoted; value"}, {"id": "p2", **GENTOO}]
    response = score(alice_client, onnx_job, csv_bytes(rows), name="new birds.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == (
        f'attachment; filename="penguins-{onnx_job.job_id[:8]}-predictions.csv"'
    )
    assert response["X-Rows-Scored"] == "2"
    result = read_result(response)
    assert list(result.columns) == [
        "id",
        *GENTOO,
        "note",
        "prediction",
        "probability",
        "probability_Adelie",
        "probability_Chinstrap",
        "probability_Gentoo",
    ]
    assert list(result["id"]) == ["p1", "p2"]
    assert result["note"][0] == "a, quoted; value"
    assert list(result["prediction"]) == ["Gentoo", "Gentoo"]
    one = inference.predict(onnx_job, GENTOO)
    assert float(result["probability"][0]) == pytest.approx(one["probability"], abs=1e-6)
    for label, p in one["probabilities"].items():
        assert float(result[f"probability_{label}"][0]) == pytest.approx(p, abs=1e-6)


def test_a_column_named_like_an_output_is_kept_and_the_output_renamed(alice_client, onnx_job):
    rows = [{**GENTOO, "prediction": "old"}]
    result = read_result(score(alice_client, onnx_job, csv_bytes(rows)))
    assert result["prediction"][0] == "old"
    assert result["prediction.1"][0] == "Gentoo"


def test_a_utf16_file_scores(alice_client, onnx_job):
    content = codecs.BOM_UTF16_LE + csv_bytes([GENTOO] * 3, sep="\t").decode().encode("utf-16-le")
    response = score(alice_client, onnx_job, content)
    assert response.status_code == 200, response.content
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    assert text.splitlines()[1].split("\t")[-5] == "Gentoo"


@pytest.mark.parametrize("byte_order", ["le", "be"])
def test_a_utf16_file_without_a_byte_order_mark_scores(alice_client, onnx_job, byte_order):
    # The same rule as uploads (training_image.csv_dialect): NULs in every other byte.
    rows = [{"city": "Zürich €", **GENTOO}] * 3
    content = csv_bytes(rows).decode().encode(f"utf-16-{byte_order}")
    response = score(alice_client, onnx_job, content)
    assert response.status_code == 200, response.content
    result = read_result(response)
    assert result["city"].tolist() == ["Zürich €"] * 3
    assert result["prediction"].tolist() == ["Gentoo"] * 3


def test_a_cp1252_file_keeps_its_euro_sign(alice_client, onnx_job):
    rows = [{"city": "Zürich €", **GENTOO}] * 3
    response = score(alice_client, onnx_job, csv_bytes(rows, encoding="cp1252"))
    assert response.status_code == 200, response.content
    assert read_result(response)["city"].tolist() == ["Zürich €"] * 3


def test_latin1_bytes_after_the_first_megabyte_are_read_as_latin1(alice_client, onnx_job):
    rows = [{"note": "plain", **GENTOO}] * 30_000
    last_row = ",".join(["café crème", *(str(v) for v in GENTOO.values())]) + "\n"
    content = csv_bytes(rows) + last_row.encode("latin-1")
    assert len(content) > prediction_files.SNIFF_BYTES
    response = score(alice_client, onnx_job, content)
    assert response.status_code == 200, response.content
    body = b"".join(response.streaming_content)
    last = body.decode("utf-8-sig").splitlines()[-1]
    assert last.startswith("café crème,Biscoe,") and ",Gentoo," in last


def test_errors_come_back_as_json_to_a_client_that_asks_for_csv(alice_client, onnx_job):
    url = f"/api/jobs/{onnx_job.job_id}/predictions"
    bad = alice_client.post(url, {"file": upload(b"a,b\n1,2\n")}, HTTP_ACCEPT="text/csv")
    assert bad.status_code == 400
    assert bad.json()["extra"]["missing_columns"] == list(onnx_job_features(onnx_job))
    good = alice_client.post(url, {"file": upload(csv_bytes([GENTOO]))}, HTTP_ACCEPT="text/csv")
    assert good.status_code == 200


def onnx_job_features(job) -> list[str]:
    return inference.job_spec(job).feature_columns


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"status": JobStatus.QUEUED}, "Only completed jobs make predictions."),
        ({"status": JobStatus.COMPLETED, "artifacts": {}}, "No ONNX model available"),
    ],
    ids=["queued", "no-onnx"],
)
def test_the_page_without_the_form_reports_in_the_messages(
    alice_client, alice, penguins, fields, message
):
    job = store_job(alice, penguins, **fields)
    response = alice_client.post(
        f"/jobs/{job.job_id}/predict/file/", {"file": upload(csv_bytes([GENTOO]))}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert message in html
    assert 'role="status"' in html  # the messages block, since the page has no file form
    assert 'id="predict-file-card"' not in html


def test_predict_rows_scores_many_rows_like_one_at_a_time(onnx_job):
    frame = pd.read_csv(PENGUINS_CSV, keep_default_na=False, dtype=str).head(40)
    rows = [{c: (None if v == "NA" else v) for c, v in r.items()} for r in frame.to_dict("records")]
    batch = inference.predict_rows(onnx_job, rows)
    assert len(batch) == 40
    for index, row in enumerate(rows):
        alone, in_batch = inference.predict(onnx_job, row), batch.row(index)
        assert in_batch["prediction"] == alone["prediction"]
        assert list(in_batch["probabilities"]) == list(alone["probabilities"])
        # One graph run over 40 rows may round the last float32 bit differently.
        for label, p in alone["probabilities"].items():
            assert in_batch["probabilities"][label] == pytest.approx(p, abs=1e-6)
        assert in_batch["probability"] == pytest.approx(alone["probability"], abs=1e-6)


def test_column_inputs_of_many_rows_equal_each_rows_own_inputs():
    from tests.jobs.test_inference_inputs import FEATURES, ROWS
    from training_image import export
    from training_image.contract import read_model_card
    from training_image.preprocess import RawFramePreparer

    frame = pd.DataFrame(ROWS)
    prepared = RawFramePreparer(features=FEATURES).fit(frame).transform(frame)
    spec = inference.model_spec(
        read_model_card(
            {
                "problem_type": "binary",
                "features": export.feature_entries(FEATURES, frame, prepared),
                "onnx": {"inputs": export.onnx_inputs(FEATURES, prepared)},
            }
        )
    )
    columns = {c: [row.get(c) for row in ROWS] for c in spec.feature_columns}
    many = inference.build_column_inputs(spec, columns, len(ROWS))
    for index, row in enumerate(ROWS):
        for name, value in inference.build_inputs(spec, row).items():
            assert many[name].shape == (len(ROWS), 1)
            assert many[name].dtype == value.dtype
            one, batch = value[0, 0], many[name][index, 0]
            assert (one == batch) or (one != one and batch != batch), (name, index)


def test_predict_rows_reports_the_row_of_a_bad_value(onnx_job):
    with pytest.raises(inference.InvalidInput) as error:
        inference.predict_rows(onnx_job, [GENTOO, {**GENTOO, "bill_depth_mm": "deep"}])
    assert error.value.message == "Cannot convert 'deep' to number for feature 'bill_depth_mm'"
    assert error.value.extra["row"] == 1


def test_the_results_page_has_the_file_form(alice_client, onnx_job):
    html = alice_client.get(f"/jobs/{onnx_job.job_id}/").content.decode()
    assert "Score a CSV file" in html
    assert f'action="/jobs/{onnx_job.job_id}/predict/file/#predict-file-card"' in html
    assert 'enctype="multipart/form-data"' in html
    assert "100.0\xa0MB" in html and "1,000,000 rows" in html


def test_the_page_form_scores_the_file_as_a_batch_and_lists_it(alice_client, onnx_job):
    response = alice_client.post(
        f"/jobs/{onnx_job.job_id}/predict/file/", {"file": upload(csv_bytes([GENTOO] * 3))}
    )
    assert response.status_code == 302
    (batch,) = wiring.batch_repository().all_for_job(onnx_job.job_id)
    assert response["Location"] == (
        f"/jobs/{onnx_job.job_id}/?batch={batch.batch_id}#predict-file-card"
    )
    assert (batch.status, batch.rows_total) == ("completed", 3)
    page = alice_client.get(response["Location"]).content.decode()
    assert f'id="batch-{batch.batch_id}"' in page and "rows.csv" in page
    download = alice_client.get(f"/jobs/{onnx_job.job_id}/batches/{batch.batch_id}/download/")
    assert download["Content-Disposition"].startswith('attachment; filename="rows-')
    assert list(read_result(download)["prediction"]) == ["Gentoo"] * 3


def test_the_api_is_in_the_openapi_schema(alice_client):
    schema = alice_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = {path.rstrip("/"): item for path, item in schema["paths"].items()}
    operation = paths["/api/jobs/{job_id}/predictions"]["post"]
    assert "multipart/form-data" in operation["requestBody"]["content"]
    assert "text/csv" in operation["responses"]["200"]["content"]
    assert {"400", "404", "413"} <= set(operation["responses"])


# --------------------------------------------------------------------------- a real trained model


@pytest.fixture(scope="module")
def trained_penguins(tmp_path_factory) -> dict[str, bytes]:
    """model.pkl, model.onnx and model_card.json of a real (3 s) FLAML run on the penguins."""
    from training_image.data import load_csv
    from training_image.pipeline import train_frame

    out = tmp_path_factory.mktemp("penguins-model")
    train_frame(
        load_csv(PENGUINS_CSV),
        "species",
        time_budget=3,
        n_jobs=1,
        ensemble=False,
        reports=False,
        out_dir=out,
    )
    return {name: (out / name).read_bytes() for name in (MODEL_PKL, MODEL_ONNX, MODEL_CARD)}


@pytest.fixture
def trained_job(alice, penguins, trained_penguins):
    job = store_job(
        alice,
        penguins,
        status=JobStatus.COMPLETED,
        metrics={"accuracy": 1.0, "training_time": 3.0, "best_estimator": "lgbm"},
    )
    storage = wiring.storage("models")
    artifacts = {}
    for name, content in trained_penguins.items():
        artifacts[name] = storage.save(artifact_key(job.job_id, name), ContentFile(content))
    return wiring.job_repository().update(job.job_id, artifacts=artifacts)


@pytest.mark.slow
def test_it_predicts_the_same_labels_as_model_pkl(alice_client, trained_job, trained_penguins):
    response = score(alice_client, trained_job, PENGUINS_CSV.read_bytes(), name="penguins.csv")
    assert response.status_code == 200, response.content
    result = read_result(response)
    frame = pd.read_csv(PENGUINS_CSV)
    model = pickle.loads(trained_penguins[MODEL_PKL])
    features = frame.drop(columns=["species"])
    assert len(result) == len(frame) == 344
    assert list(result["prediction"]) == [str(v) for v in model.predict(features)]
    expected = model.predict_proba(features)
    got = result[[f"probability_{c}" for c in model.classes_]].astype(float).to_numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # The original columns come back untouched, "NA" cells included.
    original = pd.read_csv(PENGUINS_CSV, keep_default_na=False, dtype=str)
    pd.testing.assert_frame_equal(result[list(original.columns)], original)


@pytest.mark.slow
def test_a_semicolon_latin1_file_with_decimal_commas_scores_the_same(
    alice_client, trained_job, trained_penguins
):
    frame = pd.read_csv(PENGUINS_CSV).head(60)
    frame.insert(0, "remarque", ["été à Biscoe"] * len(frame))
    content = frame.to_csv(index=False, sep=";", decimal=",", encoding="latin-1").encode("latin-1")
    assert b"\xe9t\xe9" in content and b"39,1" in content
    response = score(alice_client, trained_job, content, name="pingouins.csv")
    assert response.status_code == 200, response.content
    body = b"".join(response.streaming_content)
    assert body.startswith(codecs.BOM_UTF8)  # for the spreadsheet that wrote a Latin-1 file
    text = body.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("remarque;species;island;")
    result = pd.read_csv(io.StringIO(text), sep=";", decimal=",")
    assert list(result["remarque"]) == ["été à Biscoe"] * 60
    model = pickle.loads(trained_penguins[MODEL_PKL])
    expected = model.predict(frame.drop(columns=["species", "remarque"]))
    assert list(result["prediction"]) == [str(v) for v in expected]
    assert result["probability"].dtype == float  # written with decimal commas, read back as numbers


@pytest.mark.slow
def test_a_bom_and_crlf_file_scores_the_same_as_a_plain_one(alice_client, trained_job):
    plain = PENGUINS_CSV.read_bytes()
    windows = b"\xef\xbb\xbf" + plain.replace(b"\n", b"\r\n")
    first = read_result(score(alice_client, trained_job, plain))
    second = read_result(score(alice_client, trained_job, windows))
    assert list(second.columns)[0] == "species"
    assert list(first["prediction"]) == list(second["prediction"])


@pytest.mark.slow
def test_chunked_scoring_gives_the_same_file_as_one_chunk(alice_client, trained_job, monkeypatch):
    whole = b"".join(score(alice_client, trained_job, PENGUINS_CSV.read_bytes()).streaming_content)
    monkeypatch.setattr(prediction_files, "CHUNK_ROWS", 7)
    chunked = b"".join(
        score(alice_client, trained_job, PENGUINS_CSV.read_bytes()).streaming_content
    )

    # Same rows, columns and labels. Probabilities may differ in the last float32 digit:
    # onnxruntime's matrix products (a linear model's) sum in a batch-size-dependent order.
    a, b = (pd.read_csv(io.BytesIO(body), keep_default_na=False) for body in (whole, chunked))
    assert list(a.columns) == list(b.columns) and len(a) == len(b) == 344
    probabilities = [c for c in a.columns if c.startswith("probability")]
    assert probabilities
    others = [c for c in a.columns if c not in probabilities]
    assert a[others].equals(b[others])
    assert np.allclose(a[probabilities], b[probabilities], atol=1e-6)


# --------------------------------------------------------------------------- regression


@pytest.fixture(scope="module")
def trained_diabetes(tmp_path_factory) -> tuple[dict[str, bytes], pd.DataFrame]:
    from sklearn.datasets import load_diabetes

    from training_image.pipeline import train_frame

    frame = load_diabetes(as_frame=True, scaled=False).frame.head(200)
    out = tmp_path_factory.mktemp("diabetes-model")
    train_frame(
        frame, "target", time_budget=2, n_jobs=1, ensemble=False, reports=False, out_dir=out
    )
    artifacts = {name: (out / name).read_bytes() for name in (MODEL_PKL, MODEL_ONNX, MODEL_CARD)}
    return artifacts, frame


@pytest.mark.slow
def test_a_regression_file_gets_a_prediction_column_only(alice, alice_client, trained_diabetes):
    artifacts, frame = trained_diabetes
    content = frame.to_csv(index=False).encode()
    dataset = store_dataset(alice, content=content, filename="diabetes.csv")
    job = store_job(
        alice,
        dataset,
        target_column="target",
        problem_type="regression",
        metric="r2",
        status=JobStatus.COMPLETED,
    )
    storage = wiring.storage("models")
    keys = {
        name: storage.save(artifact_key(job.job_id, name), ContentFile(data))
        for name, data in artifacts.items()
    }
    job = wiring.job_repository().update(job.job_id, artifacts=keys)
    response = score(alice_client, job, content)
    assert response.status_code == 200, response.content
    result = read_result(response)
    assert list(result.columns) == [*frame.columns, "prediction"]
    expected = pickle.loads(artifacts[MODEL_PKL]).predict(frame.drop(columns=["target"]))
    np.testing.assert_allclose(result["prediction"].astype(float), expected, rtol=1e-5)
