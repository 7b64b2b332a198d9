"""The JobRepository behaviour, run against both adapters (SQLite on tmp_path, DynamoDB on moto)."""

from __future__ import annotations

import pytest

from core.exceptions import (
    AlreadyExists,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PayloadTooLarge,
)
from jobs.adapters.dynamodb import DynamoJobRepository
from jobs.adapters.sqlite import SqliteJobRepository
from jobs.repository import JobFilter
from tests.conftest import make_job
from tests.core.moto_tables import both_adapters
from training_image.contract import ErrorType, JobStatus, new_id

repo = both_adapters("jobs", SqliteJobRepository, DynamoJobRepository)


def stamp(n: int) -> str:
    return f"2025-03-{n // 24 + 1:02d}T{n % 24:02d}:00:00.000000Z"


def running_job(repo, **overrides):
    job = repo.add(make_job(**overrides))
    repo.transition(job.job_id, JobStatus.QUEUED)
    return repo.transition(job.job_id, JobStatus.RUNNING, started_at=stamp(1))


# --------------------------------------------------------------------------- add / get


def test_it_round_trips_every_field(repo):
    job = make_job(
        problem_type="multiclass",
        metric="accuracy",
        time_budget=30,
        excluded_columns=["id", "name with spaces"],
        progress={"phase": "searching", "trials": 7, "best_score": 0.9125, "eta": None},
        metrics={"accuracy": 0.96, "f1_macro": 0.9512345678901234, "training_time": 2.5},
        artifacts={"model.pkl": "jobs/x/model.pkl"},
        preprocessing={"target_mapping": {"0": "setosa", "1": "versicolor"}, "dropped": []},
        tags=["iris", "baseline"],
        notes="first try – ünïcode",
        deployed=True,
        runner_job_id="1234",
    )
    repo.add(job)
    assert repo.get(job.job_id) == job


def test_it_keeps_empty_strings_and_none_apart(repo):
    job = repo.add(make_job(notes="", dataset_name="", metric=None, progress={"message": ""}))
    got = repo.get(job.job_id)
    assert got.notes == "" and got.dataset_name == ""
    assert got.metric is None and got.started_at is None
    assert got.progress == {"message": ""}


def test_it_stores_nan_and_infinity_as_none(repo):
    job = repo.add(make_job(metrics={"r2": float("nan"), "rmse": float("inf"), "mae": 1.5}))
    assert repo.get(job.job_id).metrics == {"r2": None, "rmse": None, "mae": 1.5}


def test_it_stores_map_keys_as_strings(repo):
    job = repo.add(make_job(preprocessing={"target_mapping": {0: "no", 1: "yes"}}))
    assert repo.get(job.job_id).preprocessing == {"target_mapping": {"0": "no", "1": "yes"}}


def test_it_returns_none_for_an_unknown_id(repo):
    assert repo.get(new_id()) is None
    assert repo.get("") is None


def test_it_refuses_a_second_job_with_the_same_id(repo):
    job = repo.add(make_job(target_column="first"))
    with pytest.raises(AlreadyExists, match=job.job_id):
        repo.add(make_job(job_id=job.job_id, target_column="second"))
    assert repo.get(job.job_id).target_column == "first"


@pytest.mark.parametrize("field", ["job_id", "owner_id", "dataset_id", "created_at"])
def test_it_refuses_an_empty_key_field(repo, field):
    with pytest.raises(InvalidInput, match=field):
        repo.add(make_job(**{field: ""}))


def test_it_refuses_an_unknown_status(repo):
    with pytest.raises(InvalidInput, match="Unknown job status"):
        repo.add(make_job(status="exploded"))


def test_it_refuses_a_record_over_400_kb(repo):
    job = make_job(notes="x" * 410_000)
    with pytest.raises(PayloadTooLarge, match="400 KB"):
        repo.add(job)
    assert repo.get(job.job_id) is None


# --------------------------------------------------------------------------- listing


def test_it_lists_an_owners_jobs_newest_first_in_full_pages(repo):
    mine = [repo.add(make_job(owner_id="alice", created_at=stamp(n))) for n in range(7)]
    repo.add(make_job(owner_id="bob", created_at=stamp(3)))
    pages, cursor = [], None
    while True:
        page = repo.list_for_owner("alice", limit=3, cursor=cursor)
        pages.append([j.job_id for j in page.items])
        cursor = page.next_cursor
        if cursor is None:
            break
    assert [len(p) for p in pages] == [3, 3, 1]
    assert sum(pages, []) == [j.job_id for j in reversed(mine)]


def test_it_gives_no_cursor_when_the_page_holds_the_rest(repo):
    for n in range(4):
        repo.add(make_job(owner_id="alice", created_at=stamp(n)))
    page = repo.list_for_owner("alice", limit=4)
    assert len(page.items) == 4 and page.next_cursor is None
    assert repo.list_for_owner("nobody").items == []


def test_it_pages_through_equal_timestamps_without_repeats(repo):
    same = [repo.add(make_job(owner_id="alice", created_at=stamp(5))) for _ in range(5)]
    seen, cursor = [], None
    for _ in range(5):
        page = repo.list_for_owner("alice", limit=2, cursor=cursor)
        seen += [j.job_id for j in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(j.job_id for j in same)


@pytest.mark.parametrize("cursor", ["not-a-cursor", "W10", "e30"])  # garbage, [], {}
def test_it_rejects_a_malformed_cursor(repo, cursor):
    with pytest.raises(InvalidInput, match="pagination token"):
        repo.list_for_owner("alice", cursor=cursor)


def test_it_rejects_another_owners_cursor(repo):
    for n in range(3):
        repo.add(make_job(owner_id="alice", created_at=stamp(n)))
    cursor = repo.list_for_owner("alice", limit=1).next_cursor
    with pytest.raises(InvalidInput, match="pagination token"):
        repo.list_for_owner("bob", cursor=cursor)


@pytest.mark.parametrize("limit", [0, -1, 1001, "10"])
def test_it_rejects_a_bad_page_size(repo, limit):
    with pytest.raises(InvalidInput, match="Page size"):
        repo.list_for_owner("alice", limit=limit)


def test_it_lists_jobs_by_status_stalest_first(repo):
    old = running_job(repo)
    queued = repo.add(make_job())
    repo.transition(queued.job_id, JobStatus.QUEUED)
    repo.add(make_job())  # pending: not asked for
    done = running_job(repo)
    repo.transition(done.job_id, JobStatus.COMPLETED)
    live = repo.list_by_status([JobStatus.QUEUED, JobStatus.RUNNING])
    assert [j.job_id for j in live] == [old.job_id, queued.job_id]
    assert [j.job_id for j in repo.list_by_status(["queued", "running"], limit=1)] == [old.job_id]


def test_it_lists_the_jobs_of_a_dataset(repo):
    dataset_id = new_id()
    first = repo.add(make_job(dataset_id=dataset_id, created_at=stamp(1)))
    second = repo.add(make_job(dataset_id=dataset_id, created_at=stamp(2), owner_id="2"))
    repo.add(make_job())
    assert [j.job_id for j in repo.list_for_dataset(dataset_id)] == [second.job_id, first.job_id]
    assert repo.list_for_dataset(new_id()) == []


def test_it_lists_every_owners_jobs_newest_update_first(repo):
    jobs = [repo.add(make_job(owner_id=str(n % 3))) for n in range(5)]
    repo.transition(jobs[0].job_id, JobStatus.QUEUED)  # now the most recently updated
    first = repo.list_recent(limit=3)
    rest = repo.list_recent(limit=3, cursor=first.next_cursor)
    ids = [j.job_id for j in first.items + rest.items]
    assert ids[0] == jobs[0].job_id
    assert sorted(ids) == sorted(j.job_id for j in jobs)
    assert rest.next_cursor is None
    queued = repo.list_recent(statuses=["queued"])
    assert [j.job_id for j in queued.items] == [jobs[0].job_id]


# --------------------------------------------------------------------------- transitions


def test_it_moves_a_job_forward_through_its_life(repo):
    job = repo.add(make_job())
    queued = repo.transition(job.job_id, JobStatus.QUEUED)
    running = repo.transition(job.job_id, JobStatus.RUNNING, started_at=stamp(2))
    done = repo.transition(
        job.job_id, JobStatus.COMPLETED, metrics={"accuracy": 0.97}, completed_at=stamp(3)
    )
    assert (queued.status, running.status, done.status) == ("queued", "running", "completed")
    assert repo.get(job.job_id) == done
    assert done.metrics == {"accuracy": 0.97} and done.started_at == stamp(2)


def test_it_never_brings_a_cancelled_job_back(repo):
    job = running_job(repo)
    repo.transition(job.job_id, JobStatus.CANCELLED, error_type=ErrorType.CANCELLED)
    for target in (JobStatus.RUNNING, JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.QUEUED):
        with pytest.raises(InvalidTransition, match="is cancelled"):
            repo.transition(job.job_id, target, metrics={"accuracy": 1.0})
    after = repo.get(job.job_id)
    assert after.status == "cancelled" and after.metrics == {}


def test_it_refuses_to_rerun_a_completed_job(repo):
    job = running_job(repo)
    repo.transition(job.job_id, JobStatus.COMPLETED)
    with pytest.raises(InvalidTransition) as caught:
        repo.transition(job.job_id, JobStatus.RUNNING)
    assert caught.value.extra["current"] == "completed"
    assert repo.get(job.job_id).status == "completed"


def test_it_resubmits_a_failed_job(repo):
    job = running_job(repo)
    repo.transition(job.job_id, JobStatus.FAILED, error_type=ErrorType.LOST, error_message="gone")
    again = repo.transition(
        job.job_id, JobStatus.QUEUED, attempt=2, error_type=None, error_message=None
    )
    assert again.status == "queued" and again.attempt == 2
    assert again.error_type is None and again.error_message is None


def test_it_honours_an_explicit_expected_status(repo):
    job = repo.add(make_job())
    repo.transition(job.job_id, JobStatus.QUEUED)
    with pytest.raises(InvalidTransition, match="is queued"):
        repo.transition(job.job_id, JobStatus.FAILED, expected=[JobStatus.PENDING])
    assert repo.transition(job.job_id, JobStatus.FAILED, expected=["queued"]).status == "failed"


def test_it_reports_a_transition_of_a_missing_job(repo):
    with pytest.raises(NotFound, match="does not exist"):
        repo.transition(new_id(), JobStatus.QUEUED)


def test_it_rejects_an_unknown_target_status(repo):
    job = repo.add(make_job())
    with pytest.raises(InvalidInput, match="Unknown job status"):
        repo.transition(job.job_id, "done")


# --------------------------------------------------------------------------- updates


def test_it_writes_progress_only_while_running(repo):
    job = running_job(repo)
    live = repo.update(
        job.job_id, progress={"trials": 3, "best_score": 0.8}, only_if_status=[JobStatus.RUNNING]
    )
    assert live.progress == {"trials": 3, "best_score": 0.8}
    cancelled = repo.transition(job.job_id, JobStatus.CANCELLED)
    with pytest.raises(InvalidTransition, match="is cancelled, not running"):
        repo.update(job.job_id, progress={"trials": 9}, only_if_status=[JobStatus.RUNNING])
    assert repo.get(job.job_id) == cancelled


def test_it_sets_tags_and_notes(repo):
    job = repo.add(make_job())
    repo.update(job.job_id, tags=["fast", "v2"], notes="try without the id column")
    got = repo.get(job.job_id)
    assert got.tags == ["fast", "v2"] and got.notes == "try without the id column"
    cleared = repo.update(job.job_id, tags=[], notes="")
    assert repo.get(job.job_id) == cleared and cleared.tags == [] and cleared.notes == ""


def test_it_bumps_updated_at_on_every_write(repo):
    job = repo.add(make_job(updated_at=stamp(0)))
    stamps = [job.updated_at]
    stamps.append(repo.update(job.job_id, notes="a").updated_at)
    stamps.append(repo.transition(job.job_id, JobStatus.QUEUED).updated_at)
    stamps.append(repo.update(job.job_id, tags=["b"], only_if_status=["queued"]).updated_at)
    assert stamps == sorted(stamps) and len(set(stamps)) == 4
    assert repo.get(job.job_id).updated_at == stamps[-1]


def test_it_clears_a_field_set_to_none(repo):
    job = repo.add(make_job(runner_job_id="batch-1", error_message="old"))
    repo.update(job.job_id, runner_job_id=None, error_message=None)
    got = repo.get(job.job_id)
    assert got.runner_job_id is None and got.error_message is None


def test_it_refuses_updates_that_bypass_the_state_machine(repo):
    job = repo.add(make_job())
    with pytest.raises(TypeError, match="transition"):
        repo.update(job.job_id, status="completed")
    with pytest.raises(TypeError, match="owner_id"):
        repo.update(job.job_id, owner_id="mallory")
    with pytest.raises(TypeError, match="unknown job field"):
        repo.update(job.job_id, colour="red")
    assert repo.get(job.job_id) == job


def test_it_reports_an_update_of_a_missing_job(repo):
    with pytest.raises(NotFound):
        repo.update(new_id(), notes="x")


def test_it_refuses_an_update_that_grows_the_record_past_400_kb(repo):
    job = repo.add(make_job())
    repo.update(job.job_id, notes="n" * 250_000)
    with pytest.raises(PayloadTooLarge, match="400 KB"):
        repo.update(job.job_id, progress={"log": "p" * 250_000})
    assert repo.get(job.job_id).progress == {}


# --------------------------------------------------------------------------- delete


def test_it_deletes_a_job(repo):
    job = repo.add(make_job(owner_id="alice"))
    repo.delete(job.job_id)
    assert repo.get(job.job_id) is None
    assert repo.list_for_owner("alice").items == []
    with pytest.raises(NotFound):
        repo.delete(job.job_id)


# --------------------------------------------------------------------------- history filters


def listed(repo, owner="alice", limit=50, **filters):
    """Every job id one filter lists, page by page, and the page sizes."""
    ids, sizes, cursor = [], [], None
    while True:
        page = repo.list_for_owner(
            owner, limit=limit, cursor=cursor, filters=JobFilter.build(**filters)
        )
        ids += [j.job_id for j in page.items]
        sizes.append(len(page.items))
        cursor = page.next_cursor
        if cursor is None:
            return ids, sizes


def finished(repo, to=JobStatus.COMPLETED, **overrides):
    job = running_job(repo, **overrides)
    return repo.transition(job.job_id, to)


def test_it_filters_by_status_as_jobs_move_on(repo):
    done = [finished(repo, owner_id="alice", created_at=stamp(n)) for n in range(3)]
    failed = finished(repo, JobStatus.FAILED, owner_id="alice", created_at=stamp(5))
    pending = repo.add(make_job(owner_id="alice", created_at=stamp(6)))
    finished(repo, owner_id="bob", created_at=stamp(7))
    assert listed(repo, status="completed")[0] == [j.job_id for j in reversed(done)]
    assert listed(repo, status="failed")[0] == [failed.job_id]
    assert listed(repo, status="pending")[0] == [pending.job_id]
    # A status change moves the job to its new status's listing.
    repo.transition(pending.job_id, JobStatus.CANCELLED)
    assert listed(repo, status="pending")[0] == []
    assert listed(repo, status="cancelled")[0] == [pending.job_id]


def test_it_pages_a_sparse_filter_in_full_pages(repo):
    wanted = []
    for n in range(13):
        job = repo.add(make_job(owner_id="alice", created_at=stamp(n), tags=["x"] if n % 3 else []))
        if n % 3:
            wanted.append(job.job_id)
    ids, sizes = listed(repo, limit=3, tag="x")
    assert ids == list(reversed(wanted))
    assert sizes == [3, 3, 2]


def test_it_filters_by_problem_type_once_known(repo):
    job = running_job(repo, owner_id="alice")  # problem type detected by the container
    assert listed(repo, problem_type="regression")[0] == []
    repo.transition(job.job_id, JobStatus.COMPLETED, problem_type="regression")
    binary = repo.add(make_job(owner_id="alice", problem_type="binary"))
    assert listed(repo, problem_type="regression")[0] == [job.job_id]
    assert listed(repo, problem_type="binary")[0] == [binary.job_id]


def test_it_filters_by_dataset_and_never_shows_another_owners_job(repo):
    dataset_id = new_id()
    mine = repo.add(make_job(owner_id="alice", dataset_id=dataset_id, created_at=stamp(1)))
    repo.add(make_job(owner_id="bob", dataset_id=dataset_id, created_at=stamp(2)))
    repo.add(make_job(owner_id="alice", created_at=stamp(3)))
    assert listed(repo, dataset_id=dataset_id)[0] == [mine.job_id]
    assert listed(repo, owner="carol", dataset_id=dataset_id)[0] == []


def test_it_combines_filters(repo):
    dataset_id = new_id()
    both = finished(
        repo, owner_id="alice", dataset_id=dataset_id, tags=["v2"], problem_type="binary"
    )
    finished(repo, owner_id="alice", dataset_id=dataset_id, tags=["v1"], problem_type="binary")
    finished(repo, JobStatus.FAILED, owner_id="alice", dataset_id=dataset_id, tags=["v2"])
    finished(repo, owner_id="alice", tags=["v2"], problem_type="multiclass")
    assert listed(repo, dataset_id=dataset_id, status="completed", tag="v2")[0] == [both.job_id]
    assert listed(repo, status="completed", problem_type="binary", tag="v2")[0] == [both.job_id]
    assert listed(repo, tag="v2", q="", status=" ")[0] != []  # blanks are no filter


def test_it_searches_dataset_name_target_and_id_ignoring_case(repo):
    churn = repo.add(
        make_job(owner_id="alice", dataset_name="Customer_Churn.csv", target_column="Exited")
    )
    house = repo.add(make_job(owner_id="alice", dataset_name="Häuser.csv", target_column="price"))
    repo.add(make_job(owner_id="bob", dataset_name="churn.csv"))
    assert listed(repo, q="CHURN")[0] == [churn.job_id]
    assert listed(repo, q="exit")[0] == [churn.job_id]
    assert listed(repo, q="HÄUSER")[0] == [house.job_id]
    assert listed(repo, q=house.job_id[:8])[0] == [house.job_id]
    assert listed(repo, q="nothing like it")[0] == []


def test_it_refuses_a_cursor_from_another_filter(repo):
    for n in range(3):
        finished(repo, owner_id="alice", created_at=stamp(n))
    page = repo.list_for_owner("alice", limit=1, filters=JobFilter.build(status="completed"))
    with pytest.raises(InvalidInput, match="pagination token"):
        repo.list_for_owner(
            "alice", cursor=page.next_cursor, filters=JobFilter.build(status="failed")
        )
    with pytest.raises(InvalidInput, match="pagination token"):
        repo.list_for_owner("alice", cursor=page.next_cursor)


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"status": "exploded"}, "Unknown job status"),
        ({"problem_type": "clustering"}, "Unknown problem type"),
        ({"q": "x" * 101}, "at most 100"),
    ],
)
def test_it_refuses_a_bad_filter(filters, message):
    with pytest.raises(InvalidInput, match=message):
        JobFilter.build(**filters)


def test_it_counts_an_owners_jobs_on_the_indexes(repo):
    for _ in range(2):
        finished(repo, owner_id="alice")
    finished(repo, JobStatus.FAILED, owner_id="alice")
    repo.add(make_job(owner_id="alice"))
    repo.add(make_job(owner_id="bob"))
    assert repo.count_for_owner("alice") == 4
    assert repo.count_for_owner("alice", status="completed") == 2
    assert repo.count_for_owner("alice", status=JobStatus.FAILED) == 1
    assert repo.count_for_owner("nobody", status="failed") == 0


def container_store(repo):
    """The training container's writer over the same table or file as `repo`."""
    from training_image.jobstore import DynamoJobStore, SqliteJobStore

    store = repo._store
    return SqliteJobStore(store.path) if hasattr(store, "path") else DynamoJobStore(store.table)


def test_it_keeps_the_filters_right_after_the_containers_writes(repo):
    job = repo.add(make_job(owner_id="alice"))
    repo.transition(job.job_id, JobStatus.QUEUED)
    container = container_store(repo)
    assert container.transition(job.job_id, JobStatus.RUNNING)
    assert container.update(job.job_id, progress={"trials": 2})
    assert listed(repo, status="running")[0] == [job.job_id]
    assert container.transition(job.job_id, JobStatus.COMPLETED, problem_type="multiclass")
    assert listed(repo, status="running")[0] == []
    assert listed(repo, status="completed", problem_type="multiclass")[0] == [job.job_id]
    assert listed(repo, q="data.csv")[0] == [job.job_id]
