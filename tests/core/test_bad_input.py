"""Never a 500 on bad input: every URL of the URL conf (API endpoints and pages) gets
malformed JSON, JSON nested 100,000 deep, an 11 MB body, lone surrogates, a wrong content
type, HEAD and OPTIONS. Each answer is a 4xx (or, for HEAD/OPTIONS, what GET would be)
with a message (JSON for /api/, HTML for pages), and no record or file changes.

The URLs are generated from the URL conf, so a new endpoint is covered without editing
this file; path parameters get a real dataset and job of the signed-in user.
"""

from __future__ import annotations

import json
import sqlite3

import pytest
from django.conf import settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from automl_lite import wiring
from datasets import services as dataset_services
from tests.jobs.factories import store_dataset, store_job
from training_image.contract import DatasetStatus, JobStatus, PredictionBatch, new_id

pytestmark = pytest.mark.django_db

NAMESPACES = {"api", "datasets", "jobs"}
TOP_LEVEL = {"home", "login", "logout"}
BIG = 11 * 1024 * 1024
SURROGATE_JSON = (
    b'{"filename": "\\ud800.csv", "dataset_id": "\\ud800", "target_column": "\\ud800", '
    b'"features": {"species": "\\ud800", "sepal length (cm)": 1}, "tags": ["\\ud800"], '
    b'"notes": "\\ud800", "deploy": true}'
)
DEEP_JSON = b"[" * 100_000 + b"]" * 100_000


def url_names() -> list[tuple[str, list[str]]]:
    """(`namespace:name`, its parameter names) for every named URL we serve (not admin)."""
    found: list[tuple[str, list[str]]] = []

    def walk(patterns, namespace: str | None) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if pattern.namespace in NAMESPACES:
                    walk(pattern.url_patterns, pattern.namespace)
                elif pattern.namespace is None and namespace is not None:
                    walk(pattern.url_patterns, namespace)  # an include() inside a namespace
                continue
            if not isinstance(pattern, URLPattern) or not pattern.name:
                continue
            if namespace is None and pattern.name not in TOP_LEVEL:
                continue
            params = list(pattern.pattern.regex.groupindex)
            name = f"{namespace}:{pattern.name}" if namespace else pattern.name
            found.append((name, params))

    walk(get_resolver().url_patterns, None)
    return sorted(set((n, tuple(p)) for n, p in found))  # type: ignore[arg-type]


ENDPOINTS = url_names()


@pytest.fixture
def records(alice):
    """The signed-in user's dataset (ready), an upload in progress, a completed job and a
    batch waiting for its file."""
    dataset = store_dataset(alice)
    upload = dataset_services.dataset_create_upload(owner_id=str(alice.pk), filename="new.csv")
    job = store_job(alice, dataset, status=JobStatus.COMPLETED, deployed=True)
    batch_id = new_id()
    batch = wiring.batch_repository().add(
        PredictionBatch(
            batch_id=batch_id,
            owner_id=str(alice.pk),
            job_id=job.job_id,
            filename="rows.csv",
            input_key=f"batches/{job.job_id}/{batch_id}/rows.csv",
        )
    )
    return {"dataset": dataset, "upload": upload, "job": job, "batch": batch}


def url_for(name: str, params: list[str], records) -> str:
    values = {
        "dataset_id": (
            records["upload"] if name == "api:dataset-file" else records["dataset"]
        ).dataset_id,
        "job_id": records["job"].job_id,
        "batch_id": records["batch"].batch_id,
        "name": "model.onnx",
    }
    return reverse(name, kwargs={p: values[p] for p in params})


def snapshot() -> dict:
    """Every record row and every stored file name."""
    rows = {}
    with sqlite3.connect(settings.AUTOML_RECORDS_PATH) as connection:
        tables = [
            r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")
        ]
        for table in tables:
            rows[table] = sorted(
                map(repr, connection.execute(f"SELECT * FROM {table}").fetchall())  # noqa: S608
            )
    files = sorted(str(p) for p in settings.MEDIA_ROOT.rglob("*") if p.is_file())
    return {"rows": rows, "files": files}


def has_message(response, path: str) -> str | None:
    """None when a 4xx carries a message of the right kind, else what is wrong.

    The API answers JSON; pages answer HTML, except the JSON helpers of upload.js.
    """
    body = response.content
    if path.startswith("/api/") or response.get("Content-Type") == "application/json":
        if "json" not in response.get("Content-Type", ""):
            return f"not JSON ({response.get('Content-Type')}): {body[:80]!r}"
        data = json.loads(body)
        if not (data.get("message") or data.get("detail")):
            return f"no message: {data!r}"
        return None
    if "text/html" not in response.get("Content-Type", ""):
        return f"not HTML ({response.get('Content-Type')}): {body[:80]!r}"
    if b"<h1" not in body:
        return f"no message in the page: {body[:120]!r}"
    return None


# Actions that take no input: a form post with any fields does what it says.
NO_INPUT = ("delete", "logout", "cancel", "resubmit", "confirm", "home")


def bodies(path: str, name: str) -> list[tuple[str, bytes, str]]:
    """(case, body, content type) of the bad bodies."""
    cases = [
        ("malformed JSON", b'{"dataset_id": ', "application/json"),
        ("nested 100,000 deep", DEEP_JSON, "application/json"),
        ("11 MB JSON", b'{"x": "' + b"a" * BIG + b'"}', "application/json"),
        ("lone surrogates", SURROGATE_JSON, "application/json"),
        ("wrong content type", b"<job><id>1</id></job>", "application/xml"),
    ]
    if not path.startswith("/api/"):
        cases.append(("11 MB form", b"a=" + b"b" * BIG, "application/x-www-form-urlencoded"))
        if not any(word in name for word in NO_INPUT):
            # %ED%A0%80 is U+D800 encoded as UTF-8: invalid, decoded as replacement characters.
            cases.append(
                (
                    "surrogate in a form",
                    b"target_column=%ED%A0%80&tags=%ED%A0%80&filename=%ED%A0%80.csv",
                    "application/x-www-form-urlencoded",
                )
            )
    return cases


@pytest.mark.parametrize(("name", "params"), ENDPOINTS, ids=[n for n, _ in ENDPOINTS])
def test_bad_input_is_a_4xx_with_a_message_and_writes_nothing(name, params, alice_client, records):
    path = url_for(name, list(params), records)
    problems: list[str] = []
    before = snapshot()
    get = alice_client.get(path)
    head = alice_client.head(path)
    if get.status_code < 500 and head.status_code != get.status_code:
        problems.append(f"HEAD {head.status_code}, GET {get.status_code}")
    if head.content:
        problems.append("HEAD has a body")
    options = alice_client.options(path)
    if options.status_code >= 500:
        problems.append(f"OPTIONS {options.status_code}")
    elif options.status_code >= 400 and (why := has_message(options, path)):
        problems.append(f"OPTIONS {options.status_code}: {why}")
    for method in ("post", "put", "patch"):
        for case, body, content_type in bodies(path, name):
            response = getattr(alice_client, method)(path, body, content_type=content_type)
            label = f"{method.upper()} {case}"
            no_input = any(word in name for word in NO_INPUT)
            if case == "wrong content type" and no_input and response.status_code < 400:
                continue  # an API action that reads no body ignores it (pages refuse it: 415)
            if not 400 <= response.status_code < 500:
                problems.append(f"{label}: {response.status_code}")
                continue
            if "11 MB" in case and response.status_code not in (405, 413):
                problems.append(f"{label}: {response.status_code}, not 413")
            if why := has_message(response, path):
                problems.append(f"{label} {response.status_code}: {why}")
    after = snapshot()
    if before != after:
        problems.append("records or files changed")
    assert not problems, f"{path}:\n  " + "\n  ".join(problems)


def test_a_chunked_upload_without_a_length_is_411_and_the_record_says_why(alice_client, alice):
    upload = dataset_services.dataset_create_upload(owner_id=str(alice.pk), filename="new.csv")
    path = reverse("api:dataset-file", kwargs={"dataset_id": upload.dataset_id})
    response = alice_client.generic(
        "PUT",
        path,
        b"",
        content_type="text/csv",
        HTTP_TRANSFER_ENCODING="chunked",
        CONTENT_LENGTH="",
    )
    # The test client always sends a length; a chunked request has none.
    assert response.status_code == 411, response.content
    assert "Content-Length" in response.json()["message"]
    stored = wiring.dataset_repository().get(upload.dataset_id)
    assert stored.status == DatasetStatus.FAILED
    assert "Content-Length" in stored.error_message
    assert not wiring.storage("datasets").exists(upload.storage_key)


def test_the_named_cases_get_the_status_and_message_they_should(alice_client, records):
    def post(body: bytes):
        return alice_client.post("/api/train", body, content_type="application/json")

    deep = post(DEEP_JSON)
    assert deep.status_code == 400 and "nested" in deep.json()["message"]
    big = post(b'{"x": "' + b"a" * BIG + b'"}')
    assert big.status_code == 413 and "10 MB" in big.json()["message"]
    lone = post(b'{"dataset_id": "\\ud800", "target_column": "x"}')
    assert lone.status_code == 400 and "surrogate" in lone.json()["message"]
    page = alice_client.post("/jobs/create/", b"a=" + b"b" * BIG, content_type=FORM)
    assert page.status_code == 413 and b"10 MB" in page.content and b"<h1" in page.content
    docs = alice_client.options("/api/docs")
    assert docs.status_code == 405 and docs["Allow"] == "GET, HEAD"
    assert docs.json()["message"] == "This address does not accept OPTIONS requests."
    head = alice_client.head("/datasets/")
    assert head.status_code == 200 and head.content == b""


FORM = "application/x-www-form-urlencoded"
