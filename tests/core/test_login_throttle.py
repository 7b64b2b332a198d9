"""Login throttling (django-axes): a clear message after AXES_FAILURE_LIMIT wrong passwords,
per username and address; unlocked by an administrator; token and local auto sign-in are
not affected."""

from __future__ import annotations

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


def sign_in(client: Client, password: str, username: str = "alice"):
    return client.post(LOGIN, {"username": username, "password": password})


def lock_out(client: Client) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        sign_in(client, "wrong")


def test_wrong_passwords_lock_the_user_out_from_that_address_with_a_clear_message(alice):
    client = Client(REMOTE_ADDR="10.0.0.7")
    first = sign_in(client, "wrong")
    assert first.status_code == 200  # the form again, with Django's own message
    assert b"Too many failed sign-ins" not in first.content
    lock_out(client)
    refused = sign_in(client, "pw-alice-123")  # the right password, too late
    assert refused.status_code == 429
    page = refused.content.decode()
    assert f"after {settings.AXES_FAILURE_LIMIT} wrong passwords" in page
    assert "Try again in 15 minutes" in page and "ask an administrator" in page
    assert '<form method="post"' in page
    assert "_auth_user_id" not in client.session
    # The same user from another address is not locked out.
    elsewhere = sign_in(Client(REMOTE_ADDR="10.0.0.8"), "pw-alice-123")
    assert elsewhere.status_code == 302


def test_a_correct_password_before_the_limit_resets_the_count(alice):
    client = Client(REMOTE_ADDR="10.0.0.7")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(client, "wrong")
    assert sign_in(client, "pw-alice-123").status_code == 302
    assert not AccessAttempt.objects.filter(username="alice", failures_since_start__gt=0).exists()


def test_an_administrator_unlocks_the_user_in_the_admin(alice, django_user_model):
    client = Client(REMOTE_ADDR="10.0.0.7")
    lock_out(client)
    assert sign_in(client, "pw-alice-123").status_code == 429
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw-root-123")
    staff = Client(REMOTE_ADDR="10.0.0.9")
    staff.force_login(admin)
    listing = staff.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200 and b"alice" in listing.content
    attempt = AccessAttempt.objects.get(username="alice")
    deleted = staff.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"},
    )
    assert deleted.status_code == 302
    assert not AccessAttempt.objects.exists()
    assert sign_in(client, "pw-alice-123").status_code == 302


def test_api_tokens_still_work_for_a_locked_out_user(alice):
    lock_out(Client(REMOTE_ADDR="10.0.0.7"))
    token = Token.objects.create(user=alice)
    api = Client(REMOTE_ADDR="10.0.0.7", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert api.get("/api/jobs").status_code == 200


def test_the_local_auto_sign_in_is_not_throttled(alice, settings):
    settings.AUTOML_LOCAL_AUTO_LOGIN = True
    lock_out(Client(REMOTE_ADDR="127.0.0.1"))
    assert sign_in(Client(REMOTE_ADDR="127.0.0.1"), "pw-alice-123").status_code == 429
    page = Client(REMOTE_ADDR="127.0.0.1").get("/jobs/")
    assert page.status_code == 200
    assert page.wsgi_request.user.username == settings.AUTOML_LOCAL_USERNAME
