"""Download links for a job's artifacts and reports.

Local mode: an absolute URL to our own download view, signed for one job and one
artifact and valid until a fixed expiry (like a presigned S3 URL, it works without a
session, e.g. from `curl`). Local `/media/` is never served.

S3 storage: a presigned GET straight to the bucket (`jobs.presigned`), with the same
expiry and cached for the window, so it is just as stable.

Expiries are aligned to windows of half the TTL, so the URLs stay the same within a
window and are always valid for at least half the TTL after they are handed out. A
job's ETag covers its body (which holds the URLs) and `url_window()`: repeated reads
within a window answer 304, and a new window brings new URLs and a new ETag, so a 304
never keeps a client on expired links.
"""

from __future__ import annotations

import time
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from django.utils.crypto import constant_time_compare, salted_hmac

from training_image.contract import (
    EDA_REPORT,
    MODEL_CARD,
    MODEL_ONNX,
    MODEL_PKL,
    TRAINING_REPORT,
    Job,
)

# What the download view serves as a file, and what the report view serves inline.
DOWNLOADS = (MODEL_PKL, MODEL_ONNX, MODEL_CARD)
REPORTS = (EDA_REPORT, TRAINING_REPORT)
_SALT = "jobs.links.artifact"


def clock() -> float:
    """Unix time for link windows and expiries (tests patch it to cross a window)."""
    return time.time()


def _window_seconds() -> int:
    return max(settings.AUTOML_PRESIGNED_TTL // 2, 1)


def url_window(now: float | None = None) -> int:
    """The current expiry window; links handed out within one window are identical."""
    return int((clock() if now is None else now) // _window_seconds())


def url_expiry(now: float | None = None) -> int:
    """Unix time at which links handed out now stop working (TTL after the window starts)."""
    return url_window(now) * _window_seconds() + settings.AUTOML_PRESIGNED_TTL


def signature(job: Job, name: str, expires: int) -> str:
    """HMAC of one job's artifact and expiry, bound to the job's owner."""
    return salted_hmac(_SALT, f"{job.job_id}:{job.owner_id}:{name}:{expires}").hexdigest()


def verify(
    job: Job, name: str, expires: str | None, sig: str | None, now: float | None = None
) -> bool:
    """Whether `sig` signs this job's artifact `name` until `expires`, and it has not expired."""
    if not expires or not sig or not expires.isdigit():
        return False
    if int(expires) < (clock() if now is None else now):
        return False
    return constant_time_compare(sig, signature(job, name, int(expires)))


def artifact_url(request: HttpRequest, job: Job, name: str, now: float | None = None) -> str | None:
    """An absolute, signed, expiring URL for one of the job's artifacts; None when it has none."""
    if name not in (job.artifacts or {}):
        return None
    expires = url_expiry(now)
    from jobs.presigned import presigned_artifact_url  # S3: the browser fetches from S3

    direct = presigned_artifact_url(job, name, expires_at=expires, inline=name in REPORTS, now=now)
    if direct:
        return direct
    view = "jobs:report" if name in REPORTS else "jobs:artifact"
    path = reverse(view, kwargs={"job_id": job.job_id, "name": name})
    query = urlencode({"expires": expires, "signature": signature(job, name, expires)})
    return request.build_absolute_uri(f"{path}?{query}")
