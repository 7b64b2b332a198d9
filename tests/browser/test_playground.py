"""The prediction playground in Debian's Chromium: deploy, predict with an explanation, and a
refused row whose errors show at their fields (the old prediction goes away).

A real model (a few seconds of training, `tests.browser.seed`) is stored as a job of the
local user; `manage.py runserver` serves it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser.live import free_port, launch_chromium, require_chromium, serving

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def server(tmp_path):
    require_chromium()
    var = tmp_path / "var"
    env = {**os.environ, "AUTOML_VAR_DIR": str(var), "AUTOML_LOCAL_AUTO_LOGIN": "true"}
    seeded = subprocess.run(
        [sys.executable, "-m", "tests.browser.seed", str(var)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    job_id = seeded.stdout.strip().splitlines()[-1]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with serving(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        ready_url=f"{base}/api/health",
        log=tmp_path / "server.log",
        interval=0.5,
        cwd=ROOT,
        env=env,
    ):
        yield base, job_id


def test_playground_predicts_with_an_explanation_and_shows_refused_values_at_their_fields(
    server,
):
    from playwright.sync_api import sync_playwright

    base, job_id = server
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page()
        page.goto(f"{base}/jobs/{job_id}/")
        page.click("#deploy-card button:has-text('Deploy model')")
        page.wait_for_selector("#playground form")

        # Nothing is invented: every field starts empty.
        assert page.input_value("[name='f:amount']") == ""
        assert page.input_value("[name='f:plan']") == ""
        page.fill("[name='f:amount']", "180")
        page.select_option("[name='f:plan']", "basic")
        page.select_option("[name='f:member']", "no")
        page.fill("[name='f:comment']", "refund refund slow")
        page.fill("[name='f:signup']", "2023-03-01")
        page.click("#playground button[type=submit]")
        page.wait_for_selector("[data-testid=explanation]")
        assert page.inner_text("[data-testid=prediction]") in ("yes", "no")
        assert page.locator(".contrib-fill").count() == 5
        assert "Tree SHAP" in page.inner_text("[data-testid=explanation]")

        # Two bad values: both refused at once, next to their fields, and no prediction left.
        page.fill("[name='f:amount']", "12,5 kg")
        page.fill("[name='f:signup']", "31/31/2023")
        page.click("#playground button[type=submit]")
        page.wait_for_selector(".field.has-error")
        assert page.locator("[data-testid=prediction]").count() == 0
        assert "the row was refused" in page.inner_text("#prediction-result").lower()
        amount = page.locator(".field[data-feature='amount']")
        assert "Cannot convert '12,5 kg' to number" in amount.inner_text()
        assert amount.locator("input").get_attribute("aria-invalid") == "true"
        assert "to a date" in page.locator(".field[data-feature='signup']").inner_text()
        assert page.locator(".field.has-error").count() == 2
        assert page.input_value("[name='f:comment']") == "refund refund slow"  # kept as typed

        # Fixed, it predicts again.
        page.fill("[name='f:amount']", "")
        page.fill("[name='f:signup']", "")
        page.click("#playground button[type=submit]")
        page.wait_for_selector("[data-testid=prediction]")
        assert page.locator(".field.has-error").count() == 0
        browser.close()
