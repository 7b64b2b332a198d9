"""Experiment management in Debian's Chromium, one test per flow: history filters and paging,
compare, tags with a refused value, delete, cancel, train again, an admin action.

The records are seeded into the server's own files; the server is `runserver` (no worker:
a new run stays queued, which is all these flows need).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser.live import free_port, launch_chromium, require_chromium, serving

ROOT = Path(__file__).resolve().parents[2]

# One server and one seed for the module: keep its tests on one xdist worker.
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser-experiments")]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    require_chromium()
    var = tmp_path_factory.mktemp("experiments")
    env = {**os.environ, "AUTOML_VAR_DIR": str(var / "var"), "AUTOML_LOCAL_AUTO_LOGIN": "true"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    seeded = subprocess.run(
        [sys.executable, "-m", "tests.browser.experiments_seed"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    ids = json.loads(seeded.stdout.strip().splitlines()[-1])
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with serving(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        ready_url=f"{base}/api/health",
        log=var / "server.log",
        interval=0.5,
        cwd=ROOT,
        env=env,
    ):
        yield base, ids


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = launch_chromium(p)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    yield context.new_page()
    context.close()


def rows(page) -> int:
    return page.locator("#job-rows tr[id^=job-row-]").count()


def test_history_filters_search_and_pages(site, page):
    base, ids = site
    page.goto(f"{base}/jobs/")
    page.select_option("#history-status", "completed")
    page.wait_for_url(re.compile(r"status=completed"))
    page.wait_for_function("document.querySelectorAll('#job-rows tr[id^=job-row-]').length == 20")
    page.click("#load-more a")
    page.wait_for_function("document.querySelectorAll('#job-rows tr[id^=job-row-]').length == 24")
    page.fill("#history-tag", "baseline")
    page.wait_for_url(re.compile(r"tag=baseline"))
    page.wait_for_function("document.querySelectorAll('#job-rows tr[id^=job-row-]').length == 12")
    page.reload()  # the filters live in the URL
    assert page.input_value("#history-tag") == "baseline" and rows(page) == 12
    page.fill("#history-q", "no such run")
    page.wait_for_selector("text=No jobs match these filters")


def test_compare_two_runs_from_the_picker(site, page):
    base, ids = site
    page.goto(f"{base}/jobs/compare/")
    page.check(f"#pick-{ids['completed'][0]}")
    page.check(f"#pick-{ids['completed'][1]}")
    page.click("#compare-pick button[type=submit]")
    page.wait_for_selector("#compare-importance")
    assert page.locator("#compare-importance .feature-group").count() == 2
    assert page.locator("#compare-leaderboards section").count() == 2
    assert "best" in page.locator("#compare-table").inner_text()


def test_history_tags_show_a_refusal_then_save(site, page):
    base, ids = site
    page.goto(f"{base}/jobs/{ids['completed'][2]}/")
    page.fill("#meta-card input[name=tags]", ", ".join(f"t{i}" for i in range(12)))
    page.click("#meta-card button[type=submit]")
    page.wait_for_selector("#meta-card .alert.error")
    card = page.locator("#meta-card").inner_text()
    assert "Maximum 10 tags allowed per job" in card and "Saved" not in card
    page.fill("#meta-card input[name=tags]", "keep, v2")
    page.click("#meta-card button[type=submit]")
    page.wait_for_selector("#meta-card .badge.ok")
    assert "Maximum" not in page.locator("#meta-card").inner_text()


def test_history_delete_a_row_after_confirming(site, page):
    base, ids = site
    job_id = ids["failed"][0]
    page.goto(f"{base}/jobs/?status=failed")
    failed_tile = page.locator("#history-stats .stat").nth(2).locator(".value")
    before = int(failed_tile.inner_text())
    messages = []
    page.on("dialog", lambda dialog: (messages.append(dialog.message), dialog.accept()))
    page.click(f"#job-row-{job_id} button.danger")
    page.wait_for_selector(f"#job-row-{job_id}.deleted-row")
    assert "cannot be undone" in messages[0]
    page.wait_for_function(
        f"document.querySelectorAll('#history-stats .stat .value')[2].textContent == '{before - 1}'"
    )
    assert page.goto(f"{base}/jobs/{job_id}/").status == 404


def test_history_cancel_a_running_job(site, page):
    base, ids = site
    page.goto(f"{base}/jobs/{ids['running']}/")
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("#progress-card form button")
    page.wait_for_selector("#failure-card")
    assert "cancelled" in page.locator(".page-head").inner_text()


def test_history_train_again_from_a_finished_run(site, page):
    base, ids = site
    page.goto(f"{base}/jobs/{ids['completed'][3]}/")
    page.click("#train-again")
    page.wait_for_selector("#train-again-note")
    page.fill("#id_time_budget", "45")
    page.click("#start-training")
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]{36}/$"))
    assert ids["completed"][3] not in page.url
    assert page.locator("#progress-card").count() == 1  # a new, live run


def test_admin_bulk_delete_asks_before_deleting(site, page):
    base, ids = site
    doomed = ids["failed"][1:]
    page.goto(f"{base}/admin/jobs/jobrecord/?status=failed")
    for job_id in doomed:
        page.check(f"input.action-select[value='{job_id}']")
    page.select_option("#record-action", "delete")
    page.click("#run-action")
    page.wait_for_selector("#confirm-delete")
    assert page.locator("#confirm-records li").count() == 2
    page.click("#confirm-delete")
    page.wait_for_selector(".messagelist")
    for job_id in doomed:
        assert page.goto(f"{base}/jobs/{job_id}/").status == 404
