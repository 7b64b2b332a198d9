"""The ECS task's own addresses, from the container metadata endpoint (v4).

An Application Load Balancer's health check sends the target's own address as its Host
header (`10.0.1.23:8000`), which no `DJANGO_ALLOWED_HOSTS` entry can name in advance: a
Fargate task learns it at start-up from `ECS_CONTAINER_METADATA_URI_V4`, which ECS sets in
every container. The template turns this on for the web tasks (`AUTOML_ALLOW_TASK_IP`).
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Mapping

from django.core.exceptions import ImproperlyConfigured

METADATA_VARIABLE = "ECS_CONTAINER_METADATA_URI_V4"
TIMEOUT_SECONDS = 2.0


def task_addresses(environ: Mapping[str, str] | None = None) -> list[str]:
    """The IPv4 addresses of this container's task network (awsvpc: the task's ENI).

    Raises:
        ImproperlyConfigured: not on ECS (no metadata endpoint), or the endpoint does not
            answer with the container's networks.
    """
    environ = os.environ if environ is None else environ
    url = environ.get(METADATA_VARIABLE, "").strip()
    if not url:
        raise ImproperlyConfigured(
            f"AUTOML_ALLOW_TASK_IP is on but {METADATA_VARIABLE} is not set: it is meant for "
            "ECS tasks only (ECS sets that variable); unset AUTOML_ALLOW_TASK_IP elsewhere"
        )
    if not url.startswith(("http://", "https://")):
        raise ImproperlyConfigured(f"{METADATA_VARIABLE} is not an http URL: {url!r}")
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 - checked above
            metadata = json.load(response)
    except (OSError, ValueError) as exc:
        raise ImproperlyConfigured(f"cannot read the task's address from {url}: {exc}") from exc
    networks = metadata.get("Networks") if isinstance(metadata, dict) else None
    addresses = [
        address
        for network in networks or []
        if isinstance(network, dict)
        for address in network.get("IPv4Addresses") or []
        if isinstance(address, str) and address
    ]
    if not addresses:
        raise ImproperlyConfigured(f"the container metadata at {url} names no IPv4 address")
    return addresses
