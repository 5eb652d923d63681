"""The access table (R36, R41, R42): one registry every form asks - API, pages, CSV, PDF, admin.

Each app declares, next to its models (``<app>/access.py``; ``schools.rules`` for this app),
who may read and write what, and registers it from its ``AppConfig.ready()``:

* ``declare(Model, Rule(...), writes={role: actions})``: how rows of a model are scoped (ORM
  paths from the model to its School, District, Section, Student) and which role may create /
  update / delete / run a named action on them, inside the role's own scope;
* ``register_report(name, Report(...))``: who reads a school report, in which forms.

Nothing here names another app's models: keys are the labels the apps register. A system
check (``schools.E101``...) resolves every declared ORM path against the models.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.apps import apps
from django.core import checks
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model

from schools.access.roles import ALL_ROLES, DISTRICT_ADMIN, SCHOOL_ROLES


@dataclass(frozen=True)
class Rule:
    """How one model is scoped. Paths are ORM lookups; ``""`` means the model itself."""

    # Paths to a School: a row is in scope when one of them is one of the user's schools.
    schools: tuple[str, ...] = ()
    # Paths to a District: rows owned by a district (score groups, credit types...).
    districts: tuple[str, ...] = ()
    # When this path is null the row is the state's: every staff user may read it (R4).
    state_when_null: str | None = None
    # Path to the Section: teachers see only rows of sections they teach.
    section: str | None = None
    # Roles at a HS that may also read their own students' rows at technical schools.
    cross_school: frozenset[str] = frozenset()
    student: str = "student"
    # Roles that may read this model at all (within scope).
    read_roles: frozenset[str] = ALL_ROLES
    # Roles that see every row (no school to scope by), e.g. exchange runs.
    global_roles: frozenset[str] = frozenset()
    # Foreign keys a write may point outside the user's scope (a KTS link's other side).
    open_fks: frozenset[str] = frozenset()
    # A new row may be created before it has a path to a school (a student before enrolling).
    orphan_create: bool = False
    # Foreign keys that may also point at a student nobody has enrolled yet (just created).
    fk_new_students: frozenset[str] = frozenset()
    # R41: path to a user whose account the row manages (a staff role's user): a district
    # admin reaches the row only when that user is one they manage (``managed_users``).
    managed_user: str | None = None
    # R41: foreign keys to users and who may be named there: "managed" (staff a district
    # admin manages) or "teacher" (holders of a teacher role at a school in scope).
    user_fks: tuple[tuple[str, str], ...] = ()
    # R37: the model's rows name a student (the admin log shows "<Model> #<pk>" instead).
    student_data: bool = False


SCHOOL = "school"
SECTION_SCHOOL = "section__course__calendar__school"

# Model label -> Rule, and the role-action table: label -> role -> actions. Superusers (state
# admins) may do everything; a role not listed for a model may not write it (403).
REGISTRY: dict[str, Rule] = {}
WRITES: dict[str, dict[str, frozenset[str]]] = {}


@dataclass(frozen=True)
class Report:
    """Who reads one school report, and in which forms (page, csv, pdf, api). Roles are held
    at the report's school; a district admin holds every school of their district and a state
    admin every school. Anyone else: 404 on every form (R42)."""

    roles: frozenset[str]
    forms: frozenset[str]
    # The kinds of school the report exists for (e.g. report cards: the home high school).
    kinds: frozenset[str] = frozenset({"high_school"})
    # What a user who works at the school without one of ``roles`` hears: 404 (the report
    # does not exist for them, R42's school reports) or 403 (a page that says whom to ask).
    in_scope_refusal: int = 404


# Report name -> Report, added by each app (``register_report``).
REPORTS: dict[str, Report] = {}


def declare(
    model: type[Model],
    rule: Rule | None = None,
    *,
    writes: Mapping[str, Iterable[str]] | None = None,
) -> None:
    """Register how ``model`` is scoped (``rule``) and who writes it (``writes``)."""
    label = _label(model)
    if rule is not None:
        REGISTRY[label] = rule
    if writes:
        WRITES[label] = {role: frozenset(actions) for role, actions in writes.items()}


def register_report(name: str, report: Report) -> None:
    REPORTS[name] = report


def _label(model: type[Model]) -> str:
    return str(model._meta.label)


@cache
def _model(label: str) -> type[Model]:
    return apps.get_model(label)


# --- the system check: every declared path resolves ----------------------------------------


def resolve_path(model: type[Model], path: str) -> type[Model]:
    """The model at the end of ORM path ``path`` from ``model`` ("" = the model itself)."""
    for part in path.split("__") if path else ():
        field = model._meta.get_field(part)
        if not field.is_relation or field.related_model is None:
            raise FieldDoesNotExist(f"{model._meta.label}.{part} is not a relation")
        model = field.related_model
    return model


def _expect(
    label: str, what: str, path: str | None, target: str, errors: list[checks.CheckMessage]
) -> None:
    if path is None:
        return
    try:
        found = resolve_path(_model(label), path)
    except (FieldDoesNotExist, LookupError) as exc:
        errors.append(
            checks.Error(
                f"{label}: {what} path {path!r} does not resolve ({exc}).",
                hint="Fix the ORM path in the app's access declarations.",
                obj=label,
                id="schools.E101",
            )
        )
        return
    if target and found._meta.label != target:
        errors.append(
            checks.Error(
                f"{label}: {what} path {path!r} ends at {found._meta.label}, not {target}.",
                obj=label,
                id="schools.E102",
            )
        )


def check_access_table(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Every declared ORM path resolves to the model it must reach; every role is known."""
    from django.conf import settings

    errors: list[checks.CheckMessage] = []
    user_label = settings.AUTH_USER_MODEL
    for label, rule in REGISTRY.items():
        try:
            _model(label)
        except LookupError:
            errors.append(checks.Error(f"{label} is not a model.", obj=label, id="schools.E100"))
            continue
        for path in rule.schools:
            _expect(label, "school", path, "schools.School", errors)
        for path in rule.districts:
            _expect(label, "district", path, "schools.District", errors)
        _expect(label, "section", rule.section, "schools.Section", errors)
        _expect(label, "state", rule.state_when_null, "", errors)
        if rule.cross_school:
            _expect(label, "student", rule.student, "schools.Student", errors)
        _expect(label, "managed user", rule.managed_user, user_label, errors)
        for name, _kind in rule.user_fks:
            _expect(label, "user", name, user_label, errors)
        for name in rule.open_fks | rule.fk_new_students:
            _expect(label, "foreign key", name, "", errors)
        for roles in (rule.read_roles, rule.global_roles, rule.cross_school):
            for role in roles - ALL_ROLES:
                errors.append(
                    checks.Error(f"{label}: unknown role {role!r}.", obj=label, id="schools.E103")
                )
    for label, table in WRITES.items():
        try:
            _model(label)
        except LookupError:
            errors.append(checks.Error(f"{label} is not a model.", obj=label, id="schools.E100"))
        for role in set(table) - ALL_ROLES:
            errors.append(
                checks.Error(f"{label}: unknown role {role!r}.", obj=label, id="schools.E103")
            )
    for name, report in REPORTS.items():
        for role in report.roles - (SCHOOL_ROLES | {DISTRICT_ADMIN}):
            errors.append(
                checks.Error(f"report {name}: unknown role {role!r}.", obj=name, id="schools.E103")
            )
    return errors
