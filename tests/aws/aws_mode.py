"""Django switched to AWS mode for one test: S3 storages, DynamoDB record tables, fresh wiring."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import boto3

from automl_lite import wiring
from tests.aws.conftest import REGION


def s3_storages(
    buckets: Mapping[str, str], *, endpoint_url: str | None = None, **options: Any
) -> dict[str, dict]:
    """`settings.STORAGES` of AWS mode: each alias on its bucket, `default` on the datasets one.

    Args:
        buckets: The bucket of each of the aliases `datasets`, `models` and `reports`.
        endpoint_url: A moto server's URL, or None for in-process moto.
        **options: Further S3Storage options (e.g. `querystring_expire`).

    Returns:
        The STORAGES setting; static files stay on the local file system.
    """

    def s3(bucket: str) -> dict:
        return {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "region_name": REGION,
                "endpoint_url": endpoint_url,
                **options,
                "file_overwrite": True,
                "default_acl": None,
                "signature_version": "s3v4",
            },
        }

    return {
        **{alias: s3(bucket) for alias, bucket in buckets.items()},
        "default": s3(buckets["datasets"]),
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@contextmanager
def aws_mode(
    settings: Any,
    *,
    prefix: str,
    endpoint_url: str | None = None,
    bucket_per_alias: bool = False,
    **storage_options: Any,
) -> Iterator[Any]:
    """Django in AWS mode for one test, its buckets and record tables created in moto.

    The buckets are `{prefix}-datasets` behind every storage alias, or with
    `bucket_per_alias` one `{prefix}-<alias>` each. The record tables `{prefix}-datasets`,
    `{prefix}-jobs` and `{prefix}-batches` are created as `manage.py create_tables` creates them.

    Args:
        settings: pytest-django's `settings` fixture.
        prefix: What the bucket and table names start with.
        endpoint_url: A moto server's URL, or None for in-process moto (`moto_batch`).
        bucket_per_alias: Give models and reports buckets of their own.
        **storage_options: Further S3Storage options (e.g. `querystring_expire`).

    Yields:
        A boto3 S3 client on the buckets' endpoint.
    """
    buckets = {
        alias: f"{prefix}-{alias if bucket_per_alias else 'datasets'}"
        for alias in ("datasets", "models", "reports")
    }
    settings.IS_AWS = True
    settings.AWS_REGION = REGION
    settings.AWS_ENDPOINT_URL = endpoint_url
    settings.AUTOML_DATASETS_BUCKET = buckets["datasets"]
    settings.AUTOML_MODELS_BUCKET = buckets["models"]
    settings.AUTOML_REPORTS_BUCKET = buckets["reports"]
    settings.AUTOML_DATASETS_TABLE = f"{prefix}-datasets"
    settings.AUTOML_JOBS_TABLE = f"{prefix}-jobs"
    settings.AUTOML_BATCHES_TABLE = f"{prefix}-batches"
    settings.STORAGES = s3_storages(buckets, endpoint_url=endpoint_url, **storage_options)
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=endpoint_url)
    for bucket in sorted(set(buckets.values())):
        s3.create_bucket(Bucket=bucket)
    wiring.reset()
    from django.core.management import call_command

    call_command("create_tables", verbosity=0)
    try:
        yield s3
    finally:
        wiring.reset()
