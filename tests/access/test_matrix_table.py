"""R36/R41/R42: the access matrix generated from the access table.

Every role x every declared resource x every form - API list / detail / write, admin
changelist / change / delete, and every declared report form (page, CSV, PDF, API) - in
scope (HS1 / D1) and out of scope (HS2 / D2), asserting allowed or denied, and that a denied
write wrote nothing. Expectations come from the table the apps declare (``schools.access``);
``test_r42_table_matches_the_spec_table`` ties that table to the one written from the SPEC
in ``test_matrix.py``, so the generated expectations are not the code grading itself.

``plan()`` lists every cell; its size is the matrix size reported in the README.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib import admin
from django.test import Client
from rest_framework.test import APIClient

from kts_project.api_urls import router
from schools import access
from schools.models import AuditEntry, DisclosureLog
from tests.access.test_matrix import TABLE

ROLES = ["district_admin", "school_admin", "teacher", "attendance_clerk", "registrar"]
USERS = [*ROLES, "superuser", "no_role"]
SCOPES = ["in", "out"]
MODEL_FORMS = [
    "api-list",
    "api-detail",
    "api-write",
    "admin-changelist",
    "admin-change",
    "admin-delete",
]
CUD = {"create", "update", "delete"}


@dataclass(frozen=True)
class Cell:
    user: str
    resource: str  # a model label or a report name
    form: str
    scope: str


def _api_prefixes() -> dict[str, str]:
    prefixes: dict[str, str] = {}
    for prefix, viewset, _ in router.registry:
        queryset = getattr(viewset, "queryset", None)
        if queryset is not None:
            prefixes.setdefault(queryset.model._meta.label, prefix)
    return prefixes


def _admin_labels() -> set[str]:
    return {model._meta.label for model in admin.site._registry}


def plan() -> list[Cell]:
    """Every cell of the matrix, generated from the access table."""
    cells = []
    api, admin_labels = _api_prefixes(), _admin_labels()
    for label in access.REGISTRY:
        forms = [f for f in MODEL_FORMS if f.startswith("api") and label in api]
        forms += [f for f in MODEL_FORMS if f.startswith("admin") and label in admin_labels]
        cells += [Cell(u, label, f, s) for u in USERS for f in forms for s in SCOPES]
    for name, report in access.REPORTS.items():
        cells += [Cell(u, name, f, s) for u in USERS for f in sorted(report.forms) for s in SCOPES]
    return cells


# --- expectations from the table -----------------------------------------------------------


def may_read(user: str, label: str, scope: str) -> bool:
    if user == "superuser":
        return True
    rule = access.REGISTRY[label]
    return scope == "in" and user in rule.read_roles


def may_write(user: str, label: str, action: str, scope: str) -> bool:
    if user == "superuser":
        return True
    return scope == "in" and action in access.WRITES.get(label, {}).get(user, ())


def in_admin(user: str) -> bool:
    return user == "superuser" or user in access.ADMINS


def may_report(user: str, name: str, form: str, scope: str) -> bool:
    report = access.REPORTS[name]
    if form not in report.forms:
        return False
    return user == "superuser" or (scope == "in" and user in report.roles)


# --- the forms ------------------------------------------------------------------------------


def _row(world, label, scope):
    return (world.home if scope == "in" else world.away).get(label)


def _snapshot(row):
    return list(type(row)._base_manager.filter(pk=row.pk).values())


class Clients:
    def __init__(self, world):
        self.world, self._api, self._web = world, {}, {}

    def api(self, user):
        if user not in self._api:
            client = APIClient()
            client.force_authenticate(self.world.users[user])
            self._api[user] = client
        return self._api[user]

    def web(self, user):
        if user not in self._web:
            client = Client()
            client.force_login(self.world.users[user])
            self._web[user] = client
        return self._web[user]


def _rows(response):
    body = response.json()
    rows = body["results"] if isinstance(body, dict) and "results" in body else body
    return {r.get("id") for r in rows if isinstance(r, dict)}


def check_model_cell(world, clients, cell: Cell) -> None:
    row = _row(world, cell.resource, cell.scope)
    if row is None:
        return
    label, user = cell.resource, cell.user
    readable = may_read(user, label, cell.scope)
    prefix = _api_prefixes().get(label)
    where = (user, label, cell.form, cell.scope)
    if cell.form == "api-list":
        response = clients.api(user).get(f"/api/v1/{prefix}/", {"page_size": 1000})
        if user == "no_role":
            assert response.status_code == 403, where
        else:
            assert response.status_code == 200, where
            assert (row.pk in _rows(response)) is readable, where
    elif cell.form == "api-detail":
        response = clients.api(user).get(f"/api/v1/{prefix}/{row.pk}/")
        expected = 200 if readable else (403 if user == "no_role" else 404)
        assert response.status_code == expected, where
    elif cell.form == "api-write":
        before, audits = _snapshot(row), AuditEntry.objects.count()
        allowed = may_write(user, label, "update", cell.scope)
        patch = clients.api(user).patch(f"/api/v1/{prefix}/{row.pk}/", {}, format="json")
        if allowed:
            assert patch.status_code not in (403, 404), (*where, patch.content[:200])
        else:
            assert patch.status_code in (403, 404, 405), (*where, patch.status_code)
            # a denied delete is the strongest "wrote nothing" probe: the row stays
            if not may_write(user, label, "delete", cell.scope):
                gone = clients.api(user).delete(f"/api/v1/{prefix}/{row.pk}/")
                assert gone.status_code in (403, 404, 405), (*where, gone.status_code)
            assert _snapshot(row) == before, where
            assert AuditEntry.objects.count() == audits, where
    else:
        check_admin_cell(world, clients, cell, row, readable)


def _admin_url(row, view):
    meta = row._meta
    return f"/admin/{meta.app_label}/{meta.model_name}/" + (
        "" if view == "changelist" else f"{row.pk}/{view}/"
    )


def _read_only_by_design(model_admin) -> bool:
    """An admin that shows rows only (grades, logs): stricter than the table, never looser."""
    from schools.admin_scoping import ScopedAdminMixin

    return any(
        "has_delete_permission" in vars(k)
        for k in type(model_admin).__mro__
        if issubclass(k, ScopedAdminMixin) and k is not ScopedAdminMixin
    )


def check_admin_cell(world, clients, cell: Cell, row, readable: bool) -> None:
    user, label = cell.user, cell.resource
    client = clients.web(user)
    where = (user, label, cell.form, cell.scope)
    view = cell.form.removeprefix("admin-")
    response = client.get(_admin_url(row, view))
    if not in_admin(user):
        # R42: the admin site is for admins; is_staff or not, others go to its sign-in page
        assert response.status_code == 302 and "/admin/login/" in response.url, where
    elif view == "changelist":
        rule_reads = user == "superuser" or user in access.REGISTRY[label].read_roles
        assert response.status_code == (200 if rule_reads else 403), where
        if rule_reads:
            shown = {o.pk for o in response.context["cl"].queryset}
            assert (row.pk in shown) is readable, where
    elif view == "change":
        if readable:
            assert response.status_code == 200, where
        else:
            assert response.status_code in (302, 403), where
    if view != "delete":
        return
    admin_class = admin.site._registry[type(row)]
    allowed = in_admin(user) and may_write(user, label, "delete", cell.scope)
    if allowed and not _read_only_by_design(admin_class):
        assert response.status_code == 200, where
        return
    if in_admin(user) and not allowed:
        assert response.status_code in (302, 403), where
    before = _snapshot(row)
    client.post(_admin_url(row, "delete"), {"post": "yes"})
    assert _snapshot(row) == before, where


# --- report forms: pages, CSV, PDF, API -----------------------------------------------------


def report_url(world, name: str, form: str, scope: str) -> tuple[str, dict]:
    hs = world.hs1 if scope == "in" else world.hs2
    term = world.home["schools.Term"] if scope == "in" else world.away["schools.Term"]
    student = world.student_a if scope == "in" else world.student_b
    school_term = {"school": hs.pk, "term": term.pk}
    urls = {
        ("report-card", "page"): (f"/students/{student.pk}/report-card/{term.pk}/", {}),
        ("report-card", "pdf"): (f"/students/{student.pk}/report-card/{term.pk}.pdf", {}),
        ("report-card", "api"): (
            "/api/v1/reports/report-card/",
            {"student": student.pk, "term": term.pk},
        ),
        ("report-cards-batch", "pdf"): (
            f"/school/{hs.pk}/honor-roll/report-cards.pdf",
            {"term": term.pk},
        ),
        ("honor-roll", "page"): (f"/school/{hs.pk}/honor-roll/", {"term": term.pk}),
        ("honor-roll", "csv"): (
            f"/school/{hs.pk}/honor-roll/",
            {"term": term.pk, "download": "csv"},
        ),
        ("honor-roll", "api"): ("/api/v1/reports/honor-roll/", school_term),
        ("eligibility", "page"): (f"/school/{hs.pk}/eligibility/", {"term": term.pk}),
        ("eligibility", "api"): ("/api/v1/reports/eligibility/", school_term),
        ("transcripts", "page"): (f"/school/{hs.pk}/transcripts/", {}),
        ("tech-attendance", "page"): (f"/school/{hs.pk}/tech-attendance/", {}),
        ("tech-attendance", "csv"): (f"/school/{hs.pk}/tech-attendance/", {"format": "csv"}),
        ("tech-attendance", "api"): (
            "/api/v1/reports/tech-attendance/",
            {"school": hs.pk, "start": "2026-09-01", "end": "2026-09-30"},
        ),
        ("unknown-attendance", "page"): (f"/school/{hs.pk}/unknown-attendance/", {}),
        ("unknown-attendance", "api"): ("/api/v1/attendance/unknown/", {"school": hs.pk}),
        ("readiness", "page"): ("/exchange/readiness/", {"school": hs.pk}),
        ("readiness", "api"): ("/api/v1/reports/readiness/", {"school": hs.pk}),
    }
    return urls[(name, form)]


def check_report_cell(world, clients, cell: Cell) -> None:
    user, name, form = cell.user, cell.resource, cell.form
    url, params = report_url(world, name, form, cell.scope)
    client = clients.api(user) if form == "api" else clients.web(user)
    response = client.get(url, params)
    where = (user, name, form, cell.scope, response.status_code)
    if may_report(user, name, form, cell.scope):
        assert response.status_code == 200, where
        return
    report = access.REPORTS[name]
    works_here = cell.scope == "in" and user in ROLES
    if form == "api" and user == "no_role":
        expected = {403}  # the API's deny-by-default for a user without any role
    elif name == "readiness" and form == "page" and user != "superuser":
        # the page itself is refused (403) to roles without any school to report on
        expected = {403, 404}
    elif report.in_scope_refusal == 403 and works_here and form != "api":
        expected = {403}
    else:
        expected = {404}
    assert response.status_code in expected, where


# --- the tests ------------------------------------------------------------------------------

CELLS = plan()


def test_r42_matrix_covers_every_declared_resource_form_and_role():
    # given the plan; then every registered model and report appears for every user and scope
    resources = {c.resource for c in CELLS}
    formless = set(access.REGISTRY) - resources  # shown only inline (a grade's history...)
    assert resources | formless == set(access.REGISTRY) | set(access.REPORTS)
    assert not formless & (set(_api_prefixes()) | _admin_labels())
    assert {c.user for c in CELLS} == set(USERS)
    assert len(CELLS) == len(set(CELLS)) > 1000


def test_r42_table_matches_the_spec_table():
    # given the table written from the SPEC (test_matrix.TABLE) and the declared table
    for label, spec in TABLE.items():
        declared = {
            role: set(actions) & CUD
            for role, actions in access.WRITES.get(label, {}).items()
            if set(actions) & CUD
        }
        # then the writes agree, and so do the readers of HS1's row
        assert declared == {r: set(a) for r, a in spec["write"].items()}, label
        readers = set(access.REGISTRY[label].read_roles)
        assert spec["read"] <= readers, label


@pytest.fixture
def matrix_world(world):
    """The access world plus an audit entry and a disclosure row at each school."""
    for rows, school in ((world.home, world.hs1), (world.away, world.hs2)):
        rows["schools.AuditEntry"] = AuditEntry.objects.create(
            action="update", model="schools.Course", object_id=1, school=school
        )
        rows["schools.DisclosureLog"] = DisclosureLog.objects.create(
            reader_school=school, resource="matrix", student_ids=[1], record_count=1
        )
    return world


@pytest.mark.parametrize("user", USERS)
def test_r42_matrix_models(matrix_world, user):
    """One user: every declared model x API list/detail/write x admin changelist/change/
    delete, in and out of scope."""
    world = matrix_world
    clients = Clients(world)
    # a denied cell first, so that an allowed write never changes what a later cell sees
    cells = [c for c in CELLS if c.user == user and c.resource in access.REGISTRY]
    for cell in sorted(cells, key=lambda c: (c.resource, c.form == "api-write", c.scope)):
        check_model_cell(world, clients, cell)


@pytest.mark.parametrize("user", USERS)
def test_r42_matrix_reports(world, user):
    """One user: every declared report x every form (page, CSV, PDF, API), in and out of
    scope."""
    clients = Clients(world)
    for cell in [c for c in CELLS if c.user == user and c.resource in access.REPORTS]:
        check_report_cell(world, clients, cell)
