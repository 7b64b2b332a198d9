"""AWS mode under moto: fake credentials, in-process mocks and a moto server on 127.0.0.1.

In-process `mock_aws` serves the unit tests. Tests whose subprocess (the training
container) must reach AWS use `moto_server`: a ThreadedMotoServer on a free loopback
port, reset before each test, with Batch in its no-Docker mode (jobs turn SUCCEEDED at
once; the test's Batch emulator runs the container).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from tests.aws.records import Records

REGION = "us-east-1"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


def use_fake_aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Never reach a real account: fake keys, fixed region, no profile or endpoint leaks."""
    for name in (
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in FAKE_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    # boto3 must not find a config or credentials file of the machine either.
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")


@pytest.fixture(autouse=True)
def _fake_aws_credentials(monkeypatch):
    use_fake_aws_credentials(monkeypatch)


@pytest.fixture
def moto_batch() -> Iterator[None]:
    """In-process moto for every service, Batch without Docker."""
    from moto import mock_aws

    with mock_aws(config={"batch": {"use_docker": False}}):
        yield


@pytest.fixture
def batch(moto_batch: None) -> Any:
    """A Batch client on in-process moto."""
    from tests.aws.aws_resources import client

    return client("batch")


@pytest.fixture
def records(moto_batch: None) -> Records:
    """The datasets and jobs tables in in-process moto, with a repository on each."""
    from tests.aws.records import create_records

    return create_records()


@pytest.fixture(scope="session")
def _moto_server_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def moto_server(_moto_server_url: str) -> str:
    """The URL of a clean moto server on 127.0.0.1 (Batch in no-Docker mode)."""
    import requests

    requests.post(f"{_moto_server_url}/moto-api/reset", timeout=10).raise_for_status()
    requests.post(
        f"{_moto_server_url}/moto-api/config",
        json={"batch": {"use_docker": False}},
        timeout=10,
    ).raise_for_status()
    return _moto_server_url
