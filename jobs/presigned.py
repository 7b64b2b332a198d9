"""Presigned S3 GET links for a job's artifacts, when its storage is an S3 bucket.

Downloads then go straight from S3 to the browser (a Lambda response is capped at
6 MB, far below a model's size). The link expires with the window `jobs.links` uses
for every artifact link, so a job's ETag (which includes that window) changes no later
than its links stop working. A storage that cannot sign URLs (the local file system)
gets None, and `jobs.links` signs a link to our own download view instead.
"""

from __future__ import annotations

import time
from typing import Any

from training_image.contract import ARTIFACT_CONTENT_TYPES, ARTIFACT_STORAGE, Job

# Seconds of validity below which a link is not worth handing out.
MIN_LINK_SECONDS = 60


def can_presign(storage: Any) -> bool:
    """Whether the storage is an S3 bucket that signs its own GET URLs."""
    return bool(getattr(storage, "bucket_name", None)) and hasattr(storage, "connection")


def download_name(job: Job, name: str) -> str:
    stem = "".join(
        c if c.isalnum() or c in "-_" else "-" for c in job.dataset_name.rsplit(".", 1)[0]
    )
    return f"{stem.strip('-')[:40] or 'job'}-{job.job_id[:8]}-{name}"


def presigned_artifact_url(
    job: Job, name: str, *, expires_at: int, inline: bool, now: float | None = None
) -> str | None:
    """A presigned GET for the artifact valid until `expires_at` (unix time), or None.

    Args:
        job: A job whose `artifacts` holds `name`.
        name: An artifact name from the contract.
        expires_at: When the link stops working (the links' window expiry).
        inline: Show it in the browser (reports) rather than download it.
    """
    from automl_lite import wiring

    key = (job.artifacts or {}).get(name)
    if not key:
        return None
    storage = wiring.storage(ARTIFACT_STORAGE.get(name, "models"))
    if not can_presign(storage):
        return None
    seconds = max(int(expires_at - (time.time() if now is None else now)), MIN_LINK_SECONDS)
    disposition = "inline" if inline else f'attachment; filename="{download_name(job, name)}"'
    parameters = {
        "ResponseContentDisposition": disposition,
        "ResponseContentType": ARTIFACT_CONTENT_TYPES[name],
        "ResponseCacheControl": "private, no-store",
    }
    return storage.url(key, parameters=parameters, expire=seconds)


def direct_download_url(job: Job, name: str) -> str | None:
    """For the download and report views: where to redirect instead of streaming the file
    through the web process (None: stream it, the storage cannot sign URLs)."""
    from jobs import links

    return presigned_artifact_url(
        job, name, expires_at=links.url_expiry(), inline=name in links.REPORTS
    )
