"""Presigned S3 GET links for a job's artifacts, when its storage is an S3 bucket.

Downloads then go straight from S3 to the browser (a Lambda response is capped at
6 MB, far below a model's size). The link expires with the window `jobs.links` uses
for every artifact link, so a job's ETag (which includes that window) changes no later
than its links stop working. A storage that cannot sign URLs (the local file system)
gets None, and `jobs.links` signs a link to our own download view instead.

A fresh signature differs on every call (it carries the signing time), so a job's body,
and with it its ETag, would never repeat. Each signed URL is therefore kept in Django's
cache under its bucket, key, response headers and expiry (the window's), for at most
half of its remaining life: repeated reads within a window hand out the identical URL
and revalidate with 304, every URL handed out still has at least half its life left,
and the next window's expiry is a different cache key, hence a new URL and a new ETag.
The cache is per process unless CACHES names a shared one; a miss only costs a 200.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.core.cache import cache

from training_image.contract import ARTIFACT_CONTENT_TYPES, ARTIFACT_STORAGE, Job

# Seconds of validity below which a link is not worth handing out.
MIN_LINK_SECONDS = 60
CACHE_PREFIX = "jobs.presigned:"


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
    from jobs import links

    key = (job.artifacts or {}).get(name)
    if not key:
        return None
    storage = wiring.storage(ARTIFACT_STORAGE.get(name, "models"))
    if not can_presign(storage):
        return None
    seconds = max(int(expires_at - (links.clock() if now is None else now)), MIN_LINK_SECONDS)
    disposition = "inline" if inline else f'attachment; filename="{download_name(job, name)}"'
    parameters = {
        "ResponseContentDisposition": disposition,
        "ResponseContentType": ARTIFACT_CONTENT_TYPES[name],
        "ResponseCacheControl": "private, no-store",
    }
    where = f"{getattr(storage, 'endpoint_url', None) or ''}/{storage.bucket_name}"
    cache_key = url_cache_key(where, key, parameters, expires_at)
    url = cache.get(cache_key)
    if url is None:
        url = storage.url(key, parameters=parameters, expire=seconds)
        cache.set(cache_key, url, timeout=max(seconds // 2, 1))
    return url


def url_cache_key(bucket: str, key: str, parameters: dict[str, str], expires_at: int) -> str:
    """The cache key of one signed URL: what it points at, how it answers, when it expires.

    Args:
        bucket: The bucket, prefixed with the storage's endpoint when it has one.
        key: The object key.
        parameters: The response headers the URL asks S3 for.
        expires_at: The window's expiry (unix time): a new window is a new key.
    """
    raw = "\n".join([bucket, key, *(f"{k}={parameters[k]}" for k in sorted(parameters))])
    digest = hashlib.sha256(f"{raw}\n{int(expires_at)}".encode()).hexdigest()
    return CACHE_PREFIX + digest  # hashed: memcached keys are short and spaceless


def direct_download_url(job: Job, name: str) -> str | None:
    """For the download and report views: where to redirect instead of streaming the file
    through the web process (None: stream it, the storage cannot sign URLs)."""
    from jobs import links

    return presigned_artifact_url(
        job, name, expires_at=links.url_expiry(), inline=name in links.REPORTS
    )
