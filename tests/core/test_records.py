"""The shared record rules: the JSON shape both stores keep and the DynamoDB item size."""

from __future__ import annotations

import pytest

from core.records import MAX_ITEM_BYTES, item_size, plain
from jobs.adapters.dynamodb import DynamoJobRepository
from tests.conftest import make_job
from tests.core.moto_tables import moto_table
from training_image.contract import JobStatus


def test_it_reduces_values_to_plain_json():
    value = {"status": JobStatus.RUNNING, "pair": (1, 2), 3: float("nan"), "x": float("-inf")}
    assert plain(value) == {"status": "running", "pair": [1, 2], "3": None, "x": None}
    assert type(plain(value)["status"]) is str


def test_it_counts_item_bytes_like_dynamodb():
    assert item_size({"notes": "é" * 10}) == len("notes") + 20  # UTF-8 bytes
    assert item_size({"ok": True, "gone": None}) == len("ok") + 1
    assert item_size({"n": 12345, "f": 0.25}) == 1 + 5 + 1 + 4  # numbers count as their text
    assert item_size({"tags": ["ab", "c"]}) == 4 + 3 + (1 + 2) + (1 + 1)
    assert item_size({"m": {"k": "v"}}) == 1 + 3 + (1 + 1 + 1)


def test_its_size_estimate_is_never_below_what_dynamodb_accepts():
    # A record the estimate puts just under 400 KB is one DynamoDB (moto) really stores.
    job = make_job()
    base = item_size(plain(job.to_item()))
    job.notes = "x" * (MAX_ITEM_BYTES - base - len("notes") - 16)
    with moto_table("jobs") as table:
        repo = DynamoJobRepository(table, retry_delays=())
        repo.add(job)
        assert len(repo.get(job.job_id).notes) == len(job.notes)


@pytest.mark.parametrize("extra", [0, 1])
def test_it_puts_the_limit_at_400_kb(extra):
    assert (item_size({"a": "x" * (MAX_ITEM_BYTES - 1 + extra)}) > MAX_ITEM_BYTES) == bool(extra)
