"""Django admin pages for records that live in a repository, not in the ORM.

`RecordAdmin` is a ModelAdmin over an unmanaged, table-less model (jobs.models.JobRecord,
datasets.models.DatasetRecord) whose URLs are replaced: the list and detail pages read the
repository, and actions call the services. So staff get the admin's index entry, login,
permissions, look and action log, while the records stay where the product keeps them.
The list never scans: it reads the owner index when an owner is chosen, otherwise the
status index; date and text filters narrow what those index reads return.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from typing import Any, ClassVar
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from core.exceptions import ApplicationError
from core.pagination import Page

DATE_CHOICES = (
    ("", "Any date"),
    ("1", "Past 24 hours"),
    ("7", "Past 7 days"),
    ("30", "Past 30 days"),
)


@dataclass(frozen=True)
class RecordAction:
    """One admin action on records.

    Attributes:
        name: Form value.
        label: Button / menu text.
        permission: "change" or "delete": the model permission it needs.
        run: Does it for one record; returns the success message, raises
            ApplicationError with a message for the user.
        applies: Whether the detail page offers it for a record in this state.
    """

    name: str
    label: str
    permission: str
    run: Callable[[HttpRequest, Any], str]
    applies: Callable[[Any], bool] = lambda record: True


@dataclass
class Filters:
    status: str = ""
    owner: str = ""
    days: str = ""
    q: str = ""
    cursor: str = ""

    def query(self, **changes: str) -> str:
        values = {**self.__dict__, **changes}
        return "?" + urlencode({k: v for k, v in values.items() if v})


class RecordAdmin(admin.ModelAdmin):
    """List, detail and actions for repository records inside the Django admin."""

    noun: ClassVar[str]
    id_field: ClassVar[str]
    statuses: ClassVar[tuple[str, ...]]
    # (heading, attribute) shown in the list after the id and owner.
    columns: ClassVar[tuple[tuple[str, str], ...]]
    # Attributes the search box matches as substrings (ids match exactly, see `lookup`).
    search_attributes: ClassVar[tuple[str, ...]]
    date_attribute: ClassVar[str] = "created_at"
    page_size: ClassVar[int] = 50
    # At most this many records are read to fill one page of a narrowed list.
    max_examined: ClassVar[int] = 1000

    # ------------------------------------------------------------------ per record type

    def repository(self) -> Any:
        raise NotImplementedError

    def record_actions(self) -> list[RecordAction]:
        raise NotImplementedError

    def lookup(self, text: str) -> list[Any] | None:
        """Records whose id is exactly `text`, or None when it names none."""
        record = self.repository().get(text)
        return None if record is None else [record]

    def related(self, record: Any) -> list[tuple[str, list[tuple[str, str]]]]:
        """Extra sections for the detail page: (title, [(link text, url)])."""
        return []

    def user_page(self, record: Any) -> str | None:
        """URL of the record's page in the product, if there is one."""
        return None

    # ------------------------------------------------------------------ ModelAdmin

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # records are created by the product (uploads, training), not by hand

    def get_urls(self) -> list:
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        wrap = self.admin_site.admin_view
        return [
            path("", wrap(self.record_list_view), name=f"{prefix}_changelist"),
            path(
                "<str:object_id>/change/",
                wrap(self.record_detail_view),
                name=f"{prefix}_change",
            ),
            path("<str:object_id>/", wrap(self.record_redirect_view)),
        ]

    def _url(self, view: str, *args: str) -> str:
        return reverse(
            f"admin:{self.opts.app_label}_{self.opts.model_name}_{view}",
            args=args,
            current_app=self.admin_site.name,
        )

    # ------------------------------------------------------------------ views

    def record_redirect_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return redirect(self._url("change", object_id))

    def record_list_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        filters = Filters(
            **{name: request.GET.get(name, "").strip() for name in Filters.__dataclass_fields__}
        )
        if request.method == "POST":
            ids = request.POST.getlist("_selected_action")
            if not ids:
                messages.warning(request, f"Select at least one {self.noun} first.")
            elif confirm := self._confirmation(request, request.POST.get("action", ""), ids):
                return confirm
            else:
                self._run_action(request, request.POST.get("action", ""), ids)
            return HttpResponseRedirect(request.get_full_path())
        try:
            rows, next_cursor, note = self._find(filters)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            rows, next_cursor, note = [], None, ""
        usernames = self._usernames(r.owner_id for r in rows)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Select {self.noun} to change",
            "noun": self.noun,
            "filters": filters,
            "sidebar": self._sidebar(filters),
            "headings": [heading for heading, _ in self.columns],
            "rows": [
                {
                    "id": getattr(r, self.id_field),
                    "url": self._url("change", getattr(r, self.id_field)),
                    "owner": usernames.get(r.owner_id, r.owner_id),
                    "owner_url": filters.query(
                        owner=usernames.get(r.owner_id, r.owner_id), cursor=""
                    ),
                    "cells": [_display(getattr(r, a)) for _, a in self.columns],
                }
                for r in rows
            ],
            "actions": [a for a in self.record_actions() if self._may(request, a)],
            "next_url": filters.query(cursor=next_cursor) if next_cursor else None,
            "first_url": filters.query(cursor="") if filters.cursor else None,
            "note": note,
        }
        return TemplateResponse(request, "admin/records/record_list.html", context)

    def record_detail_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            if confirm := self._confirmation(request, request.POST.get("action", ""), [object_id]):
                return confirm
            self._run_action(request, request.POST.get("action", ""), [object_id])
            if self.repository().get(object_id) is None:
                return redirect(self._url("changelist"))
            return redirect(self._url("change", object_id))
        record = self.repository().get(object_id)
        if record is None:
            messages.warning(
                request,
                f"{self.noun.capitalize()} with ID “{object_id}” doesn’t exist. "
                "Perhaps it was deleted?",
            )
            return redirect(self._url("changelist"))
        usernames = self._usernames([record.owner_id])
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{self.noun.capitalize()} {object_id}",
            "object_id": object_id,
            "noun": self.noun,
            "owner": usernames.get(record.owner_id, record.owner_id),
            "fields": [(f.name, *_detail(getattr(record, f.name))) for f in fields(record)],
            "actions": [
                a for a in self.record_actions() if self._may(request, a) and a.applies(record)
            ],
            "related": self.related(record),
            "user_page": self.user_page(record),
            "changelist_url": self._url("changelist"),
        }
        return TemplateResponse(request, "admin/records/record_detail.html", context)

    # ------------------------------------------------------------------ helpers

    def _may(self, request: HttpRequest, action: RecordAction) -> bool:
        if action.permission == "delete":
            return self.has_delete_permission(request)
        return self.has_change_permission(request)

    def _confirmation(self, request: HttpRequest, name: str, ids: list[str]) -> HttpResponse | None:
        """For a delete action not yet confirmed, the page that asks; None to go ahead."""
        action = next((a for a in self.record_actions() if a.name == name), None)
        if (
            action is None
            or action.permission != "delete"
            or request.POST.get("confirmed") == "yes"
        ):
            return None
        if not self._may(request, action):
            raise PermissionDenied
        records = [r for r in (self.repository().get(i) for i in ids) if r is not None]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Are you sure?",
            "noun": self.noun,
            "action": action,
            "records": [
                {
                    "id": getattr(r, self.id_field),
                    "url": self._url("change", getattr(r, self.id_field)),
                }
                for r in records
            ],
            "missing": len(ids) - len(records),
            "back_url": request.get_full_path(),
        }
        return TemplateResponse(request, "admin/records/record_confirm.html", context)

    def _run_action(self, request: HttpRequest, name: str, ids: Iterable[str]) -> None:
        action = next((a for a in self.record_actions() if a.name == name), None)
        if action is None:
            messages.error(request, f"Unknown action “{name}”.")
            return
        if not self._may(request, action):
            raise PermissionDenied
        for record_id in ids:
            record = self.repository().get(record_id)
            if record is None:
                messages.error(request, f"{self.noun.capitalize()} {record_id} no longer exists.")
                continue
            try:
                done = action.run(request, record)
            except ApplicationError as exc:
                messages.error(request, f"{self.noun.capitalize()} {record_id}: {exc.message}")
                continue
            messages.success(request, done)
            flag = DELETION if action.permission == "delete" else CHANGE
            LogEntry.objects.log_actions(
                user_id=request.user.pk,
                queryset=[self.model(pk=record_id)],
                action_flag=flag,
                change_message=f"{action.label}: {done}",
                single_object=True,
            )

    def _owner_id(self, owner: str) -> str | None:
        user = get_user_model().objects.filter(username=owner).first()
        if user is not None:
            return str(user.pk)
        return owner if owner.isdigit() else None

    def _find(self, filters: Filters) -> tuple[list[Any], str | None, str]:
        """The page of records the filters ask for, read through an index."""
        repository = self.repository()
        if filters.status and filters.status not in self.statuses:
            return [], None, f"Unknown status “{filters.status}”."
        owner_id = None
        if filters.owner:
            owner_id = self._owner_id(filters.owner)
            if owner_id is None:
                return [], None, f"No user is called “{filters.owner}”."
        if filters.q and not filters.cursor:
            exact = self.lookup(filters.q)
            if exact is not None:  # an id names its records whatever the other filters say
                return exact, None, ""
        keep = self._predicate(filters)

        def read(cursor: str | None) -> Page:
            if owner_id is not None:
                return repository.list_for_owner(owner_id, limit=self.page_size, cursor=cursor)
            statuses = [filters.status] if filters.status else None
            return repository.list_recent(statuses=statuses, limit=self.page_size, cursor=cursor)

        rows: list[Any] = []
        examined = 0
        cursor = filters.cursor or None
        while True:
            page = read(cursor)
            examined += len(page.items)
            rows += [r for r in page.items if keep(r)]
            cursor = page.next_cursor
            if cursor is None or len(rows) >= self.page_size or examined >= self.max_examined:
                break
        note = ""
        if cursor is not None and len(rows) < self.page_size:
            note = f"Read {examined} {self.noun}s for this page; use “Next” to read further."
        return rows, cursor, note

    def _predicate(self, filters: Filters) -> Callable[[Any], bool]:
        since = None
        if filters.days.isdigit():
            moment = dt.datetime.now(dt.UTC) - dt.timedelta(days=int(filters.days))
            since = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # the records' own time format
        text = filters.q.lower()

        def keep(record: Any) -> bool:
            # Reading by owner does not filter by status; reading by status already has.
            if filters.status and record.status != filters.status:
                return False
            if since and getattr(record, self.date_attribute) < since:
                return False
            if text:
                haystack = " ".join(str(getattr(record, a) or "") for a in self.search_attributes)
                return text in haystack.lower()
            return True

        return keep

    def _sidebar(self, filters: Filters) -> list[dict[str, Any]]:
        status_choices = [("", "All")] + [(s, s.capitalize()) for s in self.statuses]
        return [
            {
                "title": "status",
                "choices": [
                    {
                        "label": label,
                        "url": filters.query(status=v, cursor=""),
                        "selected": filters.status == v,
                    }
                    for v, label in status_choices
                ],
            },
            {
                "title": "created",
                "choices": [
                    {
                        "label": label,
                        "url": filters.query(days=v, cursor=""),
                        "selected": filters.days == v,
                    }
                    for v, label in DATE_CHOICES
                ],
            },
        ]

    def _usernames(self, owner_ids: Iterable[str]) -> dict[str, str]:
        pks = {int(o) for o in owner_ids if str(o).isdigit()}
        users = get_user_model().objects.filter(pk__in=pks)
        return {str(u.pk): u.get_username() for u in users}


def _display(value: Any) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _detail(value: Any) -> tuple[str, bool]:
    """The text of a field for the detail page, and whether it is a block (pretty JSON)."""
    if isinstance(value, dict | list) and value:
        return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True), True
    return _display(value), False
