"""Secrets reach the functions from Secrets Manager, never from their plain environment.

The stack stores Django's SECRET_KEY (generated) and the database URL (a NoEcho parameter)
as secrets and hands the functions only their ARNs; settings read them once at start-up.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from tests.aws.conftest import FAKE_CREDENTIALS, REGION
from tests.aws.django_env import load_settings
from tests.aws.stack import DATABASE_URL, deploy_stack


@pytest.fixture
def stack(moto_batch):
    return deploy_stack()


def _environment(stack, **changes: str) -> dict[str, str]:
    return {**stack.web_environment, **FAKE_CREDENTIALS, **changes}


def test_it_reads_the_secret_key_and_database_url_from_secrets_manager(stack):
    environment = _environment(stack)
    assert set(environment) >= {"DJANGO_SECRET_KEY_SECRET_ARN", "DATABASE_URL_SECRET_ARN"}
    assert not {"DJANGO_SECRET_KEY", "DATABASE_URL"} & set(environment)

    values = load_settings(environment)

    generated = stack.client("secretsmanager").get_secret_value(
        SecretId=stack.outputs["DjangoSecretKeySecretArn"]
    )["SecretString"]
    assert values["SECRET_KEY"] == generated and len(generated) == 64
    database = values["DATABASES"]["default"]
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["HOST"], database["NAME"], database["PASSWORD"]) == (
        "db.internal",
        "automl",
        "secret",
    )
    assert DATABASE_URL not in stack.web_environment.values()


def test_it_gives_each_function_the_same_secrets(stack):
    web, worker = stack.web_environment, stack.worker_environment

    for name in ("DJANGO_SECRET_KEY_SECRET_ARN", "DATABASE_URL_SECRET_ARN"):
        assert web[name] == worker[name]


def test_it_stops_start_up_naming_the_variable_when_a_secret_cannot_be_read(stack):
    missing = f"arn:aws:secretsmanager:{REGION}:123456789012:secret:automl-lite/gone-AbCdEf"

    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL_SECRET_ARN: cannot read"):
        load_settings(_environment(stack, DATABASE_URL_SECRET_ARN=missing))


def test_a_plain_value_still_wins_for_local_and_container_use(stack):
    values = load_settings(_environment(stack, DJANGO_SECRET_KEY="k" * 60))

    assert values["SECRET_KEY"] == "k" * 60


def test_sessions_do_not_read_the_database_on_every_poll(stack):
    """A scale-to-zero database must not be woken by each HTMX poll's session read."""
    values = load_settings(_environment(stack))

    assert values["SESSION_ENGINE"] == "django.contrib.sessions.backends.signed_cookies"
    assert values["SESSION_COOKIE_SECURE"] is True and values["SESSION_COOKIE_HTTPONLY"] is True


def test_an_unknown_session_engine_stops_start_up(stack):
    with pytest.raises(ImproperlyConfigured, match="DJANGO_SESSION_ENGINE"):
        load_settings(_environment(stack, DJANGO_SESSION_ENGINE="memcached_or_something"))
