"""Job metadata the user edits: tags, notes, and whether the model is deployed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from automl_lite import wiring
from core.exceptions import InvalidInput
from training_image.contract import LEGACY_STATUS, MODEL_ONNX, Job, JobStatus, utcnow

if TYPE_CHECKING:
    from jobs.repository import JobRepository

MAX_TAGS = 10
MAX_TAG_LENGTH = 50
MAX_NOTES_LENGTH = 1000


def clean_tags(tags: Iterable[Any]) -> list[str]:
    """Validated tags: stripped, de-duplicated, at most 10 of at most 50 characters."""
    tags = list(tags)
    if len(tags) > MAX_TAGS:
        raise InvalidInput(f"Maximum {MAX_TAGS} tags allowed per job")
    cleaned: list[str] = []
    for tag in tags:
        if not isinstance(tag, str) or not tag.strip():
            raise InvalidInput("Tags cannot be empty or whitespace")
        tag = tag.strip()
        if len(tag) > MAX_TAG_LENGTH:
            raise InvalidInput(f"Each tag must be {MAX_TAG_LENGTH} characters or less")
        if tag not in cleaned:
            cleaned.append(tag)
    return cleaned


def job_update_meta(
    *,
    job: Job,
    tags: Iterable[str] | None = None,
    notes: str | None = None,
    repository: JobRepository | None = None,
) -> Job:
    """Set a job's tags and/or notes; None leaves a field as it is, "" clears the notes.

    Raises:
        InvalidInput: more than 10 tags, an empty tag, a tag over 50 characters, or
            notes over 1000 characters.
    """
    repository = repository or wiring.job_repository()
    fields: dict[str, Any] = {}
    if tags is not None:
        fields["tags"] = clean_tags(tags)
    if notes is not None:
        if len(notes) > MAX_NOTES_LENGTH:
            raise InvalidInput(f"Notes must be {MAX_NOTES_LENGTH} characters or less")
        fields["notes"] = notes.strip()
    if not fields:
        return job
    return repository.update(job.job_id, **fields)


def job_deploy(*, job: Job, deploy: bool, repository: JobRepository | None = None) -> Job:
    """Deploy (or undeploy) a completed job's ONNX model for predictions.

    Raises:
        InvalidInput: the job is not completed, or has no ONNX model to deploy.
    """
    repository = repository or wiring.job_repository()
    if job.status != JobStatus.COMPLETED:
        raise InvalidInput(
            f"Cannot deploy job with status '{LEGACY_STATUS[JobStatus(job.status)]}'. "
            "Only completed jobs can be deployed."
        )
    if deploy and MODEL_ONNX not in (job.artifacts or {}):
        raise InvalidInput(
            "No ONNX model available for this job. Only jobs with ONNX export can be deployed."
        )
    updated = repository.update(
        job.job_id,
        deployed=bool(deploy),
        deployed_at=utcnow() if deploy else None,
        only_if_status=(JobStatus.COMPLETED,),
    )
    if not deploy:
        wiring.model_cache().evict(job.job_id)
    return updated
