"""What the browser tests share: Debian's Chromium, free ports and servers run as processes."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REQUIRE_SERVICES

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def require_chromium() -> None:
    """Skip with a reason when Debian's Chromium is absent; CI (AUTOML_REQUIRE_SERVICES=1) fails."""
    if Path(CHROMIUM).exists():
        return
    if REQUIRE_SERVICES:
        pytest.fail("Debian's chromium is not installed (AUTOML_REQUIRE_SERVICES=1)")
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)")


def launch_chromium(playwright: Any) -> Any:
    """A headless Debian Chromium browser from a `sync_playwright()` handle."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(
    command: Sequence[str],
    *,
    ready_url: str,
    log: Path,
    interval: float,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen]:
    """Run `command` until the block ends, once `ready_url` answers (120 tries `interval` apart).

    Args:
        command: The server's command line.
        ready_url: A URL the server answers once it is up.
        log: The file that gets the server's stdout and stderr.
        interval: Seconds between two tries of `ready_url`.
        cwd: The server's working folder.
        env: The server's environment.

    Yields:
        The running server process; it is terminated (killed after 30 s) when the block ends.
    """
    with open(log, "w") as out:
        proc = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            for _ in range(120):
                try:
                    urllib.request.urlopen(ready_url, timeout=1)
                    break
                except OSError:
                    time.sleep(interval)
            else:
                pytest.fail(log.read_text()[-3000:])
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
