"""Django in AWS mode for one test: the shipped stack in moto, settings from its web function.

The stack is `deploy/automl-lite.yaml` created in moto (tests/aws/stack.py); Django's settings
are loaded afresh from the web function's environment (tests/aws/django_env.py), so buckets,
tables and storages are the template's, never hand-made ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tests.aws.conftest import FAKE_CREDENTIALS
from tests.aws.django_env import django_configured_from
from tests.aws.stack import Stack, deploy_stack

# The Django test client and live server answer on these hosts; the stack's own host (the
# HTTP API's) stays allowed too.
TEST_HOSTS = "testserver,localhost,127.0.0.1"


@dataclass(frozen=True)
class AwsMode:
    stack: Stack
    s3: Any  # a boto3 S3 client on the stack's endpoint

    def bucket(self, alias: str) -> str:
        """The stack's bucket behind a storage alias: datasets, models or reports."""
        return self.stack.outputs[f"{alias.capitalize()}BucketName"]


@contextmanager
def aws_mode(
    settings: Any,
    *,
    endpoint_url: str | None = None,
    parameters: dict[str, str] | None = None,
    **environment: str,
) -> Iterator[AwsMode]:
    """Django in AWS mode against the stack, for one test.

    Args:
        settings: pytest-django's `settings` fixture.
        endpoint_url: A moto server's URL, or None for in-process moto (`moto_batch`).
        parameters: Template parameters (e.g. {"MaxUploadBytes": "1024"}).
        **environment: Product settings beside the stack's (e.g. AUTOML_PRESIGNED_TTL).

    Yields:
        The stack and an S3 client on it.
    """
    unknown = [name for name in environment if not name.isupper()]
    if unknown:  # product settings are environment variables (upper case), nothing else
        raise TypeError(f"aws_mode() got unexpected arguments {unknown}")
    stack = deploy_stack(endpoint_url=endpoint_url, **(parameters or {}))
    web = stack.web_environment
    process = {**FAKE_CREDENTIALS, **({"AWS_ENDPOINT_URL": endpoint_url} if endpoint_url else {})}
    hosts = f"{web['DJANGO_ALLOWED_HOSTS']},{TEST_HOSTS}"
    signing_key, session_engine = settings.SECRET_KEY, settings.SESSION_ENGINE
    with django_configured_from(
        settings, {**web, **process, "DJANGO_ALLOWED_HOSTS": hosts, **environment}
    ):
        # The test client speaks plain HTTP; AWS mode marks cookies Secure for HTTPS only.
        settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
        # Clients a test signed in before switching keep their sessions (the stack's own
        # generated key and AWS mode's signed-cookie sessions are checked by test_secrets,
        # tests/core/test_sessions.py and the end-to-end test).
        settings.SECRET_KEY, settings.SESSION_ENGINE = signing_key, session_engine
        yield AwsMode(stack=stack, s3=stack.client("s3"))
