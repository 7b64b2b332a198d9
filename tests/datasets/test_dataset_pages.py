"""The dataset list, the configure page, its analysis and target fragments, delete."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.urls import reverse

from automl_lite import wiring
from tests.conftest import make_job
from tests.datasets.csv_files import awkward, penguins_raw_csv
from tests.datasets.factories import analyzed, analyzing, uploaded
from training_image.contract import DatasetStatus

pytestmark = pytest.mark.django_db

MALFORMED = "not-a-uuid"


def url(name: str, dataset=None, **params) -> str:
    if dataset is None:
        path = reverse(f"datasets:{name}")
    else:
        dataset_id = dataset if isinstance(dataset, str) else dataset.dataset_id
        path = reverse(f"datasets:{name}", args=[dataset_id])
    return f"{path}?{urlencode(params)}" if params else path


# --------------------------------------------------------------------------- list


def test_it_lists_the_users_datasets_with_status_rows_and_columns(alice_client, alice, bob):
    mine = analyzed(alice)
    theirs = analyzed(bob, filename="secret.csv")
    body = alice_client.get(url("list")).content.decode()
    assert reverse("datasets:detail", args=[mine.dataset_id]) in body
    assert "secret.csv" not in body and theirs.dataset_id not in body
    assert 'class="badge dot ready"' in body
    assert ">150<" in body  # rows
    assert "<code>species</code>" in body


def test_it_shows_an_empty_state_with_a_call_to_action(alice_client):
    body = alice_client.get(url("list")).content.decode()
    assert "No datasets yet" in body
    assert reverse("datasets:upload") in body


def test_it_pages_the_list_with_a_cursor(alice_client, alice, monkeypatch):
    from datasets import views

    monkeypatch.setattr(views, "PAGE_SIZE", 1)
    analyzed(alice, filename="first.csv")
    analyzed(alice, filename="second.csv")
    page = alice_client.get(url("list")).content.decode()
    assert "second.csv" in page and "first.csv" not in page
    cursor = page.split("?cursor=")[1].split('"')[0]
    more = alice_client.get(url("list") + f"?cursor={cursor}", HTTP_HX_REQUEST="true")
    assert "first.csv" in more.content.decode()
    assert "<html" not in more.content.decode()


def test_it_reports_a_bad_cursor_on_the_page(alice_client):
    response = alice_client.get(url("list") + "?cursor=garbage!")
    assert response.status_code == 200
    assert "Invalid pagination token" in response.content.decode()


def test_the_list_redirects_anonymous_users_and_refuses_posts(anon, alice_client):
    assert anon.get(url("list"))["Location"].startswith(reverse("login"))
    assert alice_client.post(url("list")).status_code == 405


# --------------------------------------------------------------------------- configure page


def test_it_shows_the_configure_page_of_a_ready_dataset(alice_client, alice):
    dataset = analyzed(alice)
    response = alice_client.get(url("detail", dataset))
    body = response.content.decode()
    assert response.status_code == 200
    assert f'action="{reverse("jobs:create")}"' in body
    assert 'name="target_column" value="species" checked' in body
    assert 'id="detected-problem-type">Multiclass classification<' in body
    assert "Start training" in body
    assert "auto: 120" in body  # < 1,000 rows
    assert 'id="columns-table"' in body
    assert body.count('name="excluded_columns"') == 5
    assert 'hx-trigger="every 2s"' not in body


def test_it_pre_excludes_ids_and_constants_with_the_reason(alice_client, alice):
    dataset = analyzed(alice, penguins_raw_csv(), "penguins_raw.csv")
    body = alice_client.get(url("detail", dataset)).content.decode()
    assert 'value="Individual ID" aria-label="Exclude Individual ID" checked' in body
    assert 'value="Region" aria-label="Exclude Region" checked' in body
    assert 'value="Culmen Length (mm)" aria-label="Exclude Culmen Length (mm)" >' in body
    assert "identifier: unique per row, carries no signal" in body
    assert "constant: a single value (or empty)" in body


def test_it_shows_numbers_written_with_a_unit_and_compact_dates_as_the_model_reads_them(
    alice_client, alice
):
    from tests.training_image.frames import house_sales, used_cars

    cars = used_cars(n=300).assign(sold=house_sales(n=300)["date"])
    dataset = analyzed(alice, cars.to_csv(index=False).encode(), "cars.csv")
    body = alice_client.get(url("detail", dataset)).content.decode()
    assert ">Numeric (unit: kmpl)<" in body
    assert ">Numeric (unit: CC)<" in body
    assert ">Numeric (unit: bhp)<" in body
    assert body.count("(unit: ") == 3 * 2  # the target list and the columns table
    assert "2014-05-0" in body  # the compact dates' range, as dates


def test_it_preselects_a_target_given_in_the_query(alice_client, alice):
    dataset = analyzed(alice)
    body = alice_client.get(url("detail", dataset, target_column="petal width (cm)")).content
    assert b'value="petal width (cm)" checked' in body
    assert b'id="detected-problem-type">Regression<' in body


def test_it_polls_while_the_dataset_is_analyzing(alice_client, alice):
    dataset = analyzing(alice)
    body = alice_client.get(url("detail", dataset)).content.decode()
    assert f'hx-get="{url("analysis", dataset)}"' in body
    assert 'hx-trigger="every 2s"' in body
    assert "jobs:create" not in body and reverse("jobs:create") not in body


@pytest.mark.parametrize(
    ("name", "phrase"),
    [
        ("header_only", "no data rows"),
        ("ragged", "Line 9 has 9 fields but the header has 8"),
    ],
)
def test_it_shows_why_a_file_was_rejected_and_what_to_do(alice_client, alice, name, phrase):
    dataset = analyzed(alice, awkward(name).content, f"{name}.csv")
    assert dataset.status == DatasetStatus.FAILED
    body = alice_client.get(url("detail", dataset)).content.decode()
    assert phrase in body
    assert "What to do" in body
    assert reverse("datasets:upload") in body
    assert 'hx-trigger="every 2s"' not in body


def test_it_offers_to_analyze_a_stored_file_that_was_not_confirmed(alice_client, alice):
    dataset = uploaded(alice)
    body = alice_client.get(url("detail", dataset)).content.decode()
    assert "Analyze now" in body
    response = alice_client.post(url("confirm", dataset))
    assert response.status_code == 302
    assert wiring.dataset_repository().get(dataset.dataset_id).status == DatasetStatus.READY


def test_the_configure_page_hides_other_users_datasets(bob_client, alice):
    dataset = analyzed(alice)
    for name in ("detail", "analysis", "target"):
        assert bob_client.get(url(name, dataset)).status_code == 404
    assert bob_client.post(url("confirm", dataset)).status_code == 404
    assert bob_client.post(url("delete", dataset)).status_code == 404


def test_staff_see_every_dataset(client, alice, django_user_model):
    dataset = analyzed(alice)
    admin = django_user_model.objects.create_user("root", is_staff=True)
    client.force_login(admin)
    assert client.get(url("detail", dataset)).status_code == 200


@pytest.mark.parametrize("name", ["detail", "analysis", "target"])
def test_the_dataset_urls_answer_404_for_a_malformed_id(alice_client, name):
    # The path converter refuses the id, so the URL cannot be reversed: the path by hand.
    path = {"detail": "", "analysis": "analysis/", "target": "target/"}[name]
    assert alice_client.get(f"/datasets/{MALFORMED}/{path}").status_code == 404


@pytest.mark.parametrize("name", ["detail", "analysis", "target", "confirm", "delete"])
def test_the_dataset_urls_redirect_anonymous_users(anon, alice, name):
    dataset = analyzed(alice)
    method = anon.post if name in ("confirm", "delete") else anon.get
    response = method(url(name, dataset))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_dataset_urls_refuse_the_wrong_method(alice_client, alice):
    dataset = analyzed(alice)
    for name in ("detail", "analysis", "target"):
        assert alice_client.post(url(name, dataset)).status_code == 405
    for name in ("confirm", "delete"):
        assert alice_client.get(url(name, dataset)).status_code == 405


# --------------------------------------------------------------------------- fragments


def test_the_analysis_fragment_keeps_polling_while_analyzing(alice_client, alice):
    dataset = analyzing(alice)
    response = alice_client.get(url("analysis", dataset), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert 'hx-trigger="every 2s"' in body
    assert 'hx-swap="outerHTML"' in body
    assert "<html" not in body
    assert response["Vary"] == "HX-Request" or "HX-Request" in response["Vary"]


def test_the_analysis_fragment_stops_polling_and_shows_the_form_when_ready(alice_client, alice):
    dataset = analyzed(alice)
    body = alice_client.get(url("analysis", dataset), HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in body.split('id="target-picker"')[0]
    assert 'hx-trigger="every 2s"' not in body
    assert "Start training" in body
    assert 'name="target_column"' in body


def test_the_analysis_fragment_stops_polling_when_the_file_is_rejected(alice_client, alice):
    dataset = analyzed(alice, awkward("empty").content + b"\n\n", "blank.csv")
    body = alice_client.get(url("analysis", dataset), HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 2s"' not in body
    assert "This file cannot be used" in body


def test_the_target_fragment_gives_type_metrics_and_auto_budget(alice_client, alice):
    dataset = analyzed(alice)
    response = alice_client.get(
        url("target", dataset, target_column="species"), HTTP_HX_REQUEST="true"
    )
    body = response.content.decode()
    assert 'id="detected-problem-type">Multiclass classification<' in body
    assert '<option value="roc_auc_ovr"' in body
    assert '<option value="rmse"' not in body
    assert "<strong>120 s</strong> for 150 rows" in body
    regression = alice_client.get(
        url("target", dataset, target_column="sepal width (cm)", metric="accuracy")
    ).content.decode()
    assert 'id="detected-problem-type">Regression<' in regression
    assert '<option value="rmse"' in regression
    assert '<option value="auto" selected' in regression  # accuracy does not apply: reset


def test_the_target_fragment_follows_a_problem_type_override(alice_client, alice):
    dataset = analyzed(alice)
    body = alice_client.get(
        url("target", dataset, target_column="species", problem_type="binary", metric="f1")
    ).content.decode()
    assert '<option value="binary" selected' in body
    assert '<option value="f1" selected' in body
    assert "Default for binary classification: ROC AUC." in body


@pytest.mark.parametrize(
    ("rows", "budget"), [(999, 120), (1_000, 300), (9_999, 300), (10_000, 600), (50_000, 1200)]
)
def test_the_target_fragment_shows_the_auto_budget_rule(alice_client, alice, rows, budget):
    dataset = wiring.dataset_repository().update(analyzed(alice).dataset_id, row_count=rows)
    body = alice_client.get(url("target", dataset, target_column="species")).content.decode()
    assert f"<strong>{budget} s</strong>" in body


# --------------------------------------------------------------------------- delete


def test_it_deletes_a_dataset_and_its_file(alice_client, alice):
    dataset = analyzed(alice)
    storage = wiring.storage("datasets")
    assert storage.exists(dataset.storage_key)
    response = alice_client.post(url("delete", dataset))
    assert response.status_code == 302
    assert response["Location"] == reverse("datasets:list")
    assert wiring.dataset_repository().get(dataset.dataset_id) is None
    assert not storage.exists(dataset.storage_key)


def test_it_refuses_to_delete_a_dataset_jobs_used_unless_forced(alice_client, alice):
    dataset = analyzed(alice)
    wiring.job_repository().add(make_job(owner_id=str(alice.pk), dataset_id=dataset.dataset_id))
    response = alice_client.post(url("delete", dataset), follow=True)
    assert "1 training job used this dataset" in response.content.decode()
    assert wiring.dataset_repository().get(dataset.dataset_id) is not None
    alice_client.post(url("delete", dataset), {"force": "1"})
    assert wiring.dataset_repository().get(dataset.dataset_id) is None


def test_it_tells_htmx_where_to_go_after_a_delete(alice_client, alice):
    dataset = analyzed(alice)
    response = alice_client.post(url("delete", dataset), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("datasets:list")
