"""`manage.py create_admin`: a first superuser with no prompt (a Lambda invocation)."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model

from automl_lite.lambda_handler import run_manage

pytestmark = pytest.mark.django_db


def _password(output: str) -> str:
    return re.search(r"Password \(shown once\): (\S+)", output).group(1)


def test_it_creates_a_superuser_through_a_manage_invocation():
    result = run_manage("create_admin admin --email admin@example.com")

    assert result["status"] == "ok", result
    user = get_user_model().objects.get(username="admin")
    assert user.is_superuser and user.is_staff and user.email == "admin@example.com"
    password = _password(result["output"])
    assert len(password) >= 20
    assert user.check_password(password)


def test_it_refuses_to_overwrite_an_existing_user_without_reset():
    run_manage("create_admin admin")
    before = get_user_model().objects.get(username="admin").password

    result = run_manage("create_admin admin")

    assert result["status"] == "error"
    assert "exists already" in result["error"] and "--reset-password" in result["error"]
    assert get_user_model().objects.get(username="admin").password == before


def test_it_resets_the_password_when_asked():
    first = _password(run_manage("create_admin admin")["output"])

    result = run_manage("create_admin admin --reset-password")

    second = _password(result["output"])
    assert second != first
    user = get_user_model().objects.get(username="admin")
    assert not user.check_password(first)
    assert user.check_password(second)


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("create_admin admin --email not-an-address", "is not an e-mail address"),
        ("create_admin ' '", "must not be empty"),
    ],
)
def test_it_refuses_bad_input_and_creates_nothing(command, message):
    result = run_manage(command)

    assert result["status"] == "error" and message in result["error"]
    assert get_user_model().objects.count() == 0
