"""Tasks that belong to no app."""

from __future__ import annotations

from celery import shared_task


@shared_task(ignore_result=False)
def ping(token: str) -> str:
    """Round trip through the broker: proves a worker is consuming (health checks, tests)."""
    return f"pong:{token}"
