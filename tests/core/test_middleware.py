"""Local auto sign-in only for loopback clients; CORS only for configured origins."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.fixture
def auto_login(settings):
    settings.AUTOML_LOCAL_AUTO_LOGIN = True


@pytest.mark.django_db
def test_it_signs_in_the_local_user_from_loopback(auto_login, django_user_model):
    response = Client(REMOTE_ADDR="127.0.0.1").get("/api/jobs")
    assert response.status_code == 200
    assert django_user_model.objects.get(username="local").is_staff


@pytest.mark.django_db
def test_it_asks_other_addresses_to_log_in(auto_login, django_user_model):
    response = Client(REMOTE_ADDR="10.1.2.3").get("/jobs/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]
    assert not django_user_model.objects.filter(username="local").exists()


@pytest.mark.django_db
def test_it_never_signs_in_when_disabled(settings):
    settings.AUTOML_LOCAL_AUTO_LOGIN = False
    response = Client(REMOTE_ADDR="127.0.0.1").get("/api/jobs")
    assert response.status_code == 401


@pytest.mark.django_db
def test_it_allows_only_configured_origins(settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    ok = Client().get("/api/health", HTTP_ORIGIN="https://app.example.com")
    assert ok["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert ok["Access-Control-Allow-Credentials"] == "true"
    other = Client().get("/api/health", HTTP_ORIGIN="https://evil.example.com")
    assert "Access-Control-Allow-Origin" not in other


@pytest.mark.django_db
def test_it_allows_the_earlier_clients_put_in_the_preflight(settings):
    settings.CORS_ALLOWED_ORIGINS = ["http://localhost:3000"]
    preflight = Client().options(
        "/api/datasets/abc/file",
        HTTP_ORIGIN="http://localhost:3000",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="PUT",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type",
    )
    assert preflight.status_code == 204
    methods = {m.strip() for m in preflight["Access-Control-Allow-Methods"].split(",")}
    assert {"PUT", "POST", "GET", "PATCH", "DELETE"} <= methods
    assert "Content-Type" in preflight["Access-Control-Allow-Headers"]


@pytest.mark.django_db
def test_it_reports_health(client):
    body = client.get("/api/health").json()
    assert body["status"] == "healthy"
    assert body["service"] == "automl-api"
    root = client.get("/api/").json()
    assert root == {"message": "AWS AutoML Lite API", "version": "2.0.0", "status": "healthy"}


@pytest.mark.django_db
def test_it_serves_the_earlier_client_without_credentials_or_csrf_token(auto_login):
    """The earlier edition's client sends JSON with no login and no CSRF token."""
    client = Client(REMOTE_ADDR="127.0.0.1", enforce_csrf_checks=True)
    body = {"filename": "iris.csv", "content_type": "text/csv"}
    response = client.post("/api/upload", body, content_type="application/json")
    assert response.status_code == 200, response.content
    assert response.json()["upload_method"] == "PUT"


@pytest.mark.django_db
def test_it_keeps_csrf_for_cross_site_browser_requests_to_the_local_api(auto_login):
    """A page on another site posting to the local API is still refused."""
    client = Client(REMOTE_ADDR="127.0.0.1", enforce_csrf_checks=True)
    body = {"filename": "iris.csv", "content_type": "text/csv"}
    response = client.post(
        "/api/upload", body, content_type="application/json", HTTP_ORIGIN="https://evil.example"
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


@pytest.mark.django_db
def test_it_answers_401_with_a_challenge_when_credentials_are_missing(settings):
    settings.AUTOML_LOCAL_AUTO_LOGIN = False
    response = Client(REMOTE_ADDR="127.0.0.1").get("/api/jobs")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert response.json()["detail"] == "Authentication credentials were not provided."


@pytest.mark.django_db
def test_it_opens_no_session_for_cookieless_api_calls(auto_login):
    from django.contrib.sessions.models import Session

    client = Client(REMOTE_ADDR="127.0.0.1")
    for _ in range(3):
        assert client.get("/api/jobs").status_code == 200
    assert Session.objects.count() == 0
    assert client.get("/jobs/").status_code == 200
    assert Session.objects.count() == 1
