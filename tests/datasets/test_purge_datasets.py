"""Uploads never confirmed are purged after AUTOML_UPLOAD_ABANDON_AFTER: record and file.

Through the service, the `purge_datasets` command and beat's periodic task.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import CommandError

from automl_lite import wiring
from datasets import services
from datasets.tasks import purge_abandoned_uploads
from tests.conftest import make_dataset
from training_image.contract import DatasetStatus

pytestmark = pytest.mark.django_db


def stored(owner, *, status: DatasetStatus, age: dt.timedelta, content: bytes | None = b"a,b\n1"):
    """A dataset record last written `age` ago, with a (partial) file unless None."""
    when = (dt.datetime.now(dt.UTC) - age).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # as utcnow()
    dataset = make_dataset(owner_id=str(owner.pk), status=status, created_at=when, updated_at=when)
    wiring.dataset_repository().add(dataset)
    if content is not None:
        wiring.storage("datasets").save(dataset.storage_key, ContentFile(content))
    return dataset


@pytest.fixture
def cast(alice):
    day = dt.timedelta(days=1, minutes=5)
    return {
        "abandoned": stored(alice, status=DatasetStatus.UPLOADING, age=day),
        "abandoned_empty": stored(alice, status=DatasetStatus.UPLOADING, age=day, content=None),
        "fresh": stored(alice, status=DatasetStatus.UPLOADING, age=dt.timedelta(minutes=5)),
        "ready": stored(alice, status=DatasetStatus.READY, age=dt.timedelta(days=30)),
        "failed": stored(alice, status=DatasetStatus.FAILED, age=dt.timedelta(days=30)),
    }


def exists(dataset) -> tuple[bool, bool]:
    record = wiring.dataset_repository().get(dataset.dataset_id) is not None
    return record, wiring.storage("datasets").exists(dataset.storage_key)


def test_the_default_age_is_a_day_and_the_beat_schedule_runs_it():
    assert settings.AUTOML_UPLOAD_ABANDON_AFTER == 24 * 3600
    schedule = settings.CELERY_BEAT_SCHEDULE["purge-abandoned-uploads"]
    assert schedule["task"] == "datasets.tasks.purge_abandoned_uploads"


def test_only_unconfirmed_uploads_older_than_the_age_go_with_their_files(cast):
    purged = services.datasets_purge_abandoned()
    assert sorted(purged) == sorted(
        [cast["abandoned"].dataset_id, cast["abandoned_empty"].dataset_id]
    )
    assert exists(cast["abandoned"]) == (False, False)
    assert exists(cast["abandoned_empty"]) == (False, False)
    assert exists(cast["fresh"]) == (True, True)
    assert exists(cast["ready"]) == (True, True)
    assert exists(cast["failed"]) == (True, True)


def test_the_periodic_task_purges(cast):
    assert purge_abandoned_uploads.delay().get() == "purged 2 abandoned upload(s)"
    assert exists(cast["abandoned"]) == (False, False)
    assert exists(cast["fresh"]) == (True, True)


def test_the_setting_sets_the_age(cast, settings):
    settings.AUTOML_UPLOAD_ABANDON_AFTER = 60
    purged = services.datasets_purge_abandoned()
    assert cast["fresh"].dataset_id in purged and len(purged) == 3


def test_an_upload_confirmed_meanwhile_is_kept(cast, monkeypatch):
    repository = wiring.dataset_repository()
    original = repository.list_recent

    def list_then_confirm(**kwargs):
        page = original(**kwargs)
        # The user confirms between the listing and the claim.
        repository.update(cast["abandoned"].dataset_id, status=DatasetStatus.ANALYZING)
        return page

    monkeypatch.setattr(repository, "list_recent", list_then_confirm)
    purged = services.datasets_purge_abandoned(repository=repository)
    assert cast["abandoned"].dataset_id not in purged
    assert exists(cast["abandoned"]) == (True, True)


def test_the_command_lists_then_deletes(cast, capsys):
    call_command("purge_datasets", "--dry-run")
    listed = capsys.readouterr().out
    assert cast["abandoned"].dataset_id in listed and cast["fresh"].dataset_id not in listed
    assert "Would delete 2 unconfirmed upload(s) older than 86400 second(s)." in listed
    assert exists(cast["abandoned"]) == (True, True)
    call_command("purge_datasets", "--older-than", "120")
    out = capsys.readouterr().out
    assert "Deleted 3 unconfirmed upload(s) older than 120 second(s)." in out
    assert exists(cast["fresh"]) == (False, False)
    assert exists(cast["ready"]) == (True, True)


def test_the_command_refuses_negative_ages():
    with pytest.raises(CommandError, match="0 or more"):
        call_command("purge_datasets", "--older-than", "-1")
