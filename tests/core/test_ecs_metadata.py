"""ECS web tasks allow their own address as a host (the load balancer's health check), read
from the container metadata endpoint; anywhere else the setting is refused clearly."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ImproperlyConfigured

from automl_lite.ecs_metadata import task_addresses
from tests.aws.django_env import load_settings

# The shape ECS's container metadata v4 answers with (trimmed to what is read).
CONTAINER_METADATA = {
    "DockerId": "cd189a933e5849daa93386466019ab50-2495160603",
    "Name": "web",
    "Networks": [{"NetworkMode": "awsvpc", "IPv4Addresses": ["10.0.2.106"]}],
}


def serve(body: bytes) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v4/cd189a93"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def metadata_url() -> Iterator[str]:
    yield from serve(json.dumps(CONTAINER_METADATA).encode())


# --------------------------------------------------------------------------- bad input first


def test_outside_ecs_the_setting_is_refused_with_what_to_do():
    with pytest.raises(ImproperlyConfigured, match="meant for ECS tasks only"):
        task_addresses({})


def test_a_metadata_variable_that_is_not_a_url_is_refused():
    with pytest.raises(ImproperlyConfigured, match="not an http URL"):
        task_addresses({"ECS_CONTAINER_METADATA_URI_V4": "file:///etc/passwd"})


def test_an_endpoint_that_does_not_answer_is_reported():
    with pytest.raises(ImproperlyConfigured, match="cannot read the task's address"):
        task_addresses({"ECS_CONTAINER_METADATA_URI_V4": "http://127.0.0.1:9/v4/x"})


@pytest.mark.parametrize(
    "body", [b"not json", b"[]", json.dumps({"Networks": [{"IPv4Addresses": []}]}).encode()]
)
def test_metadata_without_an_address_is_reported(body):
    for url in serve(body):
        with pytest.raises(ImproperlyConfigured, match="cannot read|names no IPv4 address"):
            task_addresses({"ECS_CONTAINER_METADATA_URI_V4": url})


# --------------------------------------------------------------------------- on ECS


def test_the_tasks_address_comes_from_the_container_metadata(metadata_url):
    assert task_addresses({"ECS_CONTAINER_METADATA_URI_V4": metadata_url}) == ["10.0.2.106"]


def test_settings_add_the_tasks_address_to_the_allowed_hosts(metadata_url):
    values = load_settings(
        {
            "DJANGO_ALLOWED_HOSTS": "automl.example.com",
            "AUTOML_ALLOW_TASK_IP": "true",
            "ECS_CONTAINER_METADATA_URI_V4": metadata_url,
        }
    )

    assert values["ALLOWED_HOSTS"] == ["automl.example.com", "10.0.2.106"]


def test_settings_leave_the_allowed_hosts_alone_by_default():
    values = load_settings({"DJANGO_ALLOWED_HOSTS": "automl.example.com"})

    assert values["ALLOWED_HOSTS"] == ["automl.example.com"]
