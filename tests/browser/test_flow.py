"""The whole local flow in Debian's Chromium: upload → configure → train → results → download.

Runs the real `manage.py runlocal` (web + embedded-broker workers) on a free port.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.browser.live import free_port, launch_chromium, require_chromium, serving

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def server(tmp_path):
    require_chromium()
    port = free_port()
    env = {
        **os.environ,
        "AUTOML_VAR_DIR": str(tmp_path / "var"),
        "AUTOML_LOCAL_AUTO_LOGIN": "true",
        "AUTOML_MIN_TIME_BUDGET": "5",
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    base = f"http://127.0.0.1:{port}"
    with serving(
        [sys.executable, "manage.py", "runlocal", "--addr", f"127.0.0.1:{port}"],
        ready_url=f"{base}/api/health",
        log=tmp_path / "server.log",
        interval=0.5,
        cwd=ROOT,
        env=env,
    ):
        yield base


def test_it_trains_penguins_from_the_browser(server, tmp_path):
    from palmerpenguins import penguins as penguins_module
    from playwright.sync_api import sync_playwright

    csv = Path(penguins_module.__file__).parent / "data" / "penguins.csv"
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(accept_downloads=True)
        page.goto(f"{server}/datasets/upload/")
        page.set_input_files("input[type=file]", str(csv))
        page.click("#upload-button")
        page.wait_for_selector("#start-training", timeout=120_000)
        page.check("input[name=target_column][value=species]")
        page.wait_for_timeout(1000)
        page.fill("#id_time_budget", "10")
        page.click("#start-training")
        page.wait_for_url("**/jobs/*/", timeout=60_000)

        seen = set()
        deadline = time.time() + 300
        while time.time() < deadline:
            text = page.inner_text("main")
            seen.add(text)
            if page.locator("a[download]").count():
                break
            page.wait_for_timeout(1000)
        assert len(seen) > 2, "the progress card never changed"
        body = page.inner_text("main")
        assert "Accuracy" in body or "accuracy" in body

        with page.expect_download() as info:
            page.click("a[download]:has-text('model.pkl')")
        path = tmp_path / "model.pkl"
        info.value.save_as(path)
        page.screenshot(path=str(tmp_path / "results.png"), full_page=True)
        browser.close()

    import pandas as pd

    model = pickle.loads(path.read_bytes())
    rows = pd.read_csv(csv).drop(columns=["species"]).head(20)
    predicted = list(model.predict(rows))
    assert set(predicted) <= {"Adelie", "Gentoo", "Chinstrap"}
    assert sum(p == "Adelie" for p in predicted) >= 15  # the first 20 rows are Adelie
