"""Small AWS helpers for unit tests: a client on the test region, a container backend value.

Resources themselves come from the template we ship (tests/aws/stack.py), never built here.
"""

from __future__ import annotations

from typing import Any

import boto3

from tests.aws.conftest import REGION
from training_image import contract


def client(service: str, endpoint_url: str | None = None) -> Any:
    return boto3.client(service, region_name=REGION, endpoint_url=endpoint_url)


def s3_backend(prefix: str = "automl-test") -> contract.Backend:
    """A container backend value for runner unit tests that never reach a stack."""
    return contract.Backend(
        storage="s3",
        datasets_location=f"{prefix}-datasets",
        models_location=f"{prefix}-models",
        reports_location=f"{prefix}-reports",
        job_store="dynamodb",
        job_store_location=f"{prefix}-jobs",
        seed=42,
        extra_env=((contract.ENV_AWS_REGION, REGION),),
    )
