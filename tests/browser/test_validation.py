"""Validating a model from the results page, in Debian's Chromium: score a file that holds the
target, open its validation, read the metrics beside training's and the drifted features.

A real model (a few seconds of the container's pipeline on `tests.jobs.trained.mixed_frame`)
is stored as a job; the file is new rows of the same kind with prices tripled, so `amount`
must show as drifted. Celery is eager in the live server's thread.
"""

from __future__ import annotations

import pytest

from jobs.inference import model_cache
from tests.browser.live import launch_chromium, require_chromium
from tests.jobs.factories import store_dataset
from tests.jobs.trained import mixed_frame, store_trained_job, train

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_validation_shows_metrics_beside_training_and_flags_drifted_features(
    live_server, client, alice, tmp_path
):
    from playwright.sync_api import sync_playwright

    require_chromium()
    model_cache.clear()
    frame = mixed_frame(1500, seed=3)
    result = train(frame, "churn", tmp_path / "model")
    dataset = store_dataset(alice, content=frame.to_csv(index=False).encode(), filename="churn.csv")
    job = store_trained_job(alice, dataset, result, tmp_path / "model")
    rows = mixed_frame(800, seed=11)
    rows["amount"] = rows["amount"] * 3
    path = tmp_path / "march.csv"
    rows.to_csv(path, index=False)
    client.force_login(alice)  # before Playwright's event loop: the ORM is sync-only
    session = client.cookies["sessionid"].value

    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = _signed_in(browser, live_server.url, session, "light")
        page.goto(f"{live_server.url}/jobs/{job.job_id}/")
        hint = page.inner_text("#predict-file-card")
        page.set_input_files("#predict-file", str(path))
        page.click("#predict-file-button")
        page.wait_for_selector("#batch-history .batch-row[data-status=completed]", timeout=120_000)
        row = page.inner_text("#batch-history .batch-row")
        page.click("#batch-history .batch-row a:has-text('Validation')")
        page.wait_for_selector("#validation-metrics")
        validation_url = page.url
        page.screenshot(path=str(tmp_path / "validation-light.png"), full_page=True)
        metrics = page.inner_text("#validation-metrics")
        summary = page.inner_text("#validation-summary")
        bands = {
            name: page.get_attribute(f"#drift-table tr[data-feature={name}]", "data-band")
            for name in ("amount", "member")
        }
        opened = page.is_visible("#drift-table tr[data-feature=amount] .drift-bin")
        dark = _signed_in(browser, live_server.url, session, "dark")
        dark.goto(validation_url)
        dark.screenshot(path=str(tmp_path / "validation-dark.png"), full_page=True)
        background = dark.evaluate("getComputedStyle(document.body).backgroundColor")
        browser.close()

    assert "include the actual churn" in hint
    assert "march.csv" in row and "800 rows" in row and "validated" in row
    assert validation_url.startswith(f"{live_server.url}/jobs/{job.job_id}/batches/")
    assert validation_url.endswith("/validation/")
    # The optimised metric leads, with training's test value beside it.
    assert (
        "ROC AUC" in metrics and "training test rows" in metrics.lower() and "optimised" in metrics
    )
    assert f"{job.metrics['roc_auc']:.4f}" in metrics
    assert "800" in summary and "drifted features\n1\n" in summary.lower()
    assert bands == {"amount": "major", "member": "stable"}
    assert opened  # the most drifted feature's bins are shown open
    assert background != "rgb(255, 255, 255)"  # the page follows the dark colour scheme


def _signed_in(browser, base: str, session: str, scheme: str):
    context = browser.new_context(color_scheme=scheme, viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": "sessionid", "value": session, "url": base}])
    return context.new_page()
