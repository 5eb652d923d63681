"""The plan of a OneRoster import (R50): what would be added, updated and ended, the
report, and the helpers the planning steps share. See ``exchange.oneroster.importer``."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.base import ModelState
from django.utils import timezone

from exchange.models import SourcedUser
from exchange.oneroster.reader import Issue, RosterSet, Row, parse_date
from schools.actors import Actor
from schools.models import (
    Calendar,
    Course,
    District,
    Enrollment,
    Role,
    Roster,
    School,
    Section,
    StaffRole,
    Student,
    Term,
)

ADDED, UPDATED, ENDED, UNCHANGED = "added", "updated", "ended", "unchanged"
# Delta ``tobedeleted`` and bulk absence for staff (R50): ``users`` counts accounts
# deactivated, ``roles`` staff roles removed.
DEACTIVATED, REMOVED = "deactivated", "removed"
CHUNK = 5000
# Large reads skip the timestamps: parsing 100,000s of them is most of a re-import's time.
STAMPS = ("created_at", "modified_at")
# The model fields a row sets, named by the OneRoster column that fed them (for the report).
COLUMNS: dict[type[models.Model], dict[str, str]] = {
    District: {"code": "identifier", "name": "name", "sourced_id": "sourcedId"},
    School: {"code": "identifier", "name": "name", "kind": "metadata.kts.schoolKind"},
    Calendar: {"school_year": "schoolYear", "name": "title", "start_date": "startDate"},
    Term: {"name": "title", "start_date": "startDate", "end_date": "endDate"},
    Course: {"number": "courseCode", "name": "title", "state_code": "metadata.kts.stateCode"},
    Section: {"number": "classCode"},
    Student: {"state_id": "identifier", "first_name": "givenName", "last_name": "familyName"},
    Enrollment: {"start_date": "beginDate", "end_date": "endDate"},
    Roster: {"start_date": "beginDate", "end_date": "endDate"},
}
STAFF_ROLES = {
    "teacher": Role.TEACHER,
    "administrator": Role.SCHOOL_ADMIN,
    "siteAdministrator": Role.SCHOOL_ADMIN,
    "principal": Role.SCHOOL_ADMIN,
    "districtAdministrator": Role.DISTRICT_ADMIN,
}
TRUE = {"true", "1", "yes", "y", "t"}
FALSE = {"false", "0", "no", "n", "f", ""}

T = TypeVar("T")
M = TypeVar("M", bound=models.Model)
R = TypeVar("R")  # a row of a queryset: an instance, or a tuple of ``values_list``


def in_chunks(values: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    values = list(values)
    for i in range(0, len(values), size):
        yield values[i : i + size]


def fetch_in(queryset: models.QuerySet[Any, R], lookup: str, values: Iterable[Any]) -> list[R]:
    """``queryset.filter(<lookup>__in=values)`` in chunks (PostgreSQL takes 65,535 parameters)."""
    out: list[R] = []
    for part in in_chunks(set(values)):
        out.extend(queryset.filter(**{f"{lookup}__in": part}))
    return out


def light_rows(queryset: models.QuerySet[M]) -> list[M]:
    """The rows of ``queryset`` as model instances without their timestamps, built straight
    from ``values_list``: a re-import reads 100,000s of rows and ``Model.from_db`` (and
    parsing timestamps) was most of its time. The instances save and ``bulk_update`` as usual;
    the timestamps are deferred fields."""
    model = queryset.model
    attnames = [f.attname for f in model._meta.concrete_fields if f.name not in STAMPS]
    db = queryset.db
    out: list[M] = []
    new = model.__new__
    for values in queryset.values_list(*attnames):
        obj = new(model)
        obj.__dict__.update(zip(attnames, values, strict=True))
        state = ModelState()
        state.adding, state.db = False, db
        obj._state = state
        out.append(obj)
    return out


class SavedChildren(Generic[M]):
    """The saved rows under some parents (a district's schools, a calendar's courses, a
    course's sections), found as a row of the set names them: by sourcedId first, then by
    the natural key the parent holds unique (a school's code, a course's or section's number)."""

    def __init__(self, model: type[M], parent: str, number: str, rows: Iterable[M]) -> None:
        """``rows`` of ``model``, whose ``parent`` foreign key holds ``number`` unique."""
        self.model, self.parent = model, parent
        self.by_sid: dict[tuple[int, str], M] = {}
        self.by_number: dict[tuple[int, str], M] = {}
        for row in rows:
            parent_id = getattr(row, f"{parent}_id")
            sid = getattr(row, "sourced_id", None)
            if sid:
                self.by_sid[(parent_id, sid)] = row
            self.by_number[(parent_id, getattr(row, number))] = row

    def find(self, parent: models.Model, sid: str, number: str) -> M | None:
        """None under a parent not saved yet."""
        if not parent.pk:
            return None
        return self.by_sid.get((parent.pk, sid)) or self.by_number.get((parent.pk, number))

    def find_or_new(self, parent: models.Model, sid: str, number: str) -> M:
        """The saved row with ``parent`` set to the object in hand (no query for it later),
        or a new row under ``parent``."""
        child = self.find(parent, sid, number)
        if child is None:
            return self.model(**{self.parent: parent})
        setattr(child, self.parent, parent)
        return child


@dataclass
class Plan:
    """What the set would change, by model, and the report."""

    creates: dict[type[models.Model], list[models.Model]] = field(
        default_factory=lambda: defaultdict(list)
    )
    updates: dict[type[models.Model], dict[int, models.Model]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    update_fields: dict[type[models.Model], set[str]] = field(
        default_factory=lambda: defaultdict(set)
    )
    teacher_links: list[tuple[Section, User]] = field(default_factory=list)
    teacher_unlinks: list[tuple[int, int]] = field(default_factory=list)
    deactivations: list[int] = field(default_factory=list)  # user ids
    role_removals: list[StaffRole] = field(default_factory=list)
    sourced_users: list[SourcedUser] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: {ADDED: 0, UPDATED: 0, ENDED: 0, UNCHANGED: 0})
    )
    issues: list[Issue] = field(default_factory=list)

    @property
    def rows_written(self) -> int:
        return (
            sum(len(v) for v in self.creates.values())
            + sum(len(v) for v in self.updates.values())
            + len(self.teacher_links)
            + len(self.teacher_unlinks)
            + len(self.deactivations)
            + len(self.role_removals)
        )


class PlannerBase:
    """State and helpers shared by the planning steps."""

    def __init__(self, rs: RosterSet, *, user: Actor = None, today: dt.date | None = None):
        self.rs = rs
        self.user = user
        self.today = today or timezone.localdate()
        self.now = timezone.now()
        self.plan = Plan(issues=list(rs.issues))
        self.districts: dict[str, District] = {}  # org sourcedId -> district
        self.schools: dict[str, School] = {}  # org sourcedId -> school
        self.school_district_sid: dict[str, str] = {}
        self.sessions: dict[str, Row] = {}
        self.session_dates: dict[str, tuple[dt.date, dt.date]] = {}
        self.calendars: dict[tuple[str, str], Calendar] = {}  # (school sid, year sid)
        self.courses: dict[tuple[str, str], Course] = {}  # (school sid, course sid)
        self.sections: dict[str, Section] = {}  # class sourcedId -> section
        self.students: dict[str, Student] = {}  # user sourcedId -> student
        self.staff: dict[str, User] = {}  # user sourcedId -> user
        self.staff_district: dict[str, District] = {}
        self.enrolled: set[tuple[int, int]] = set()  # (id(student), id(calendar)) enrolled
        self.teacher_at: set[tuple[int, int]] = set()  # (id(user), id(school)) teacher role
        self.scope_school_ids: set[int] = set()
        self.teachers_sent: set[tuple[int, int]] = set()  # (section id, user id)
        self.roles_by_user: dict[str, list[Row]] = {}  # user sourcedId -> roles.csv rows
        # Saved staff roles an active roles.csv row names: (user, role, district, school) ids.
        self.roles_sent: set[tuple[int, str, int | None, int | None]] = set()

    # --- scope -------------------------------------------------------------------------

    @property
    def _state_admin(self) -> bool:
        return self.user is None or self.user.is_superuser

    def _allowed_districts(self) -> set[int] | None:
        if self._state_admin:
            return None
        from schools.access import grants_for

        return set(grants_for(self.user).admin_districts)

    def _school(self, sid: str, row: Row, column: str) -> School | None:
        """A school of the set, or one imported before (a delta set without orgs.csv)."""
        school = self.schools.get(sid)
        if school is None and sid:
            allowed = self._allowed_districts()
            found = School.objects.filter(sourced_id=sid)
            if allowed is not None:
                found = found.filter(district_id__in=allowed)
            hits = list(found[:2])
            if len(hits) == 1:
                school = self.schools[sid] = hits[0]
                self.scope_school_ids.add(school.pk)
        if school is None:
            self.issue(
                row, column, f"No org of type school has sourcedId {sid!r}; add it to orgs.csv."
            )
        return school

    # --- report helpers ----------------------------------------------------------------

    def issue(self, row: Row | None, column: str, message: str, *, file: str = "") -> None:
        self.plan.issues.append(
            Issue(
                row.file if row else file,
                row.line if row else None,
                row.sourced_id if row else "",
                column,
                message,
            )
        )

    def _first_use(
        self,
        seen: dict[tuple[int, str], Row],
        key: tuple[int, str],
        row: Row,
        column: str,
        where: str,
    ) -> bool:
        """A natural key (``key``: the parent's id() and a code or number) is used by one row
        of the set: False, with an issue naming the first line, when ``row`` uses it again."""
        if key in seen:
            self.issue(row, column, f"Line {seen[key].line} already uses this {column} {where}.")
            return False
        seen[key] = row
        return True

    def count(self, file: str, action: str, n: int = 1) -> None:
        counts = self.plan.counts[file]
        counts[action] = counts.get(action, 0) + n

    def _date(self, row: Row, column: str, *, required: bool = False) -> dt.date | None:
        value = row[column]
        if not value:
            if required:
                self.issue(row, column, f"Give {column} (YYYY-MM-DD).")
            return None
        try:
            return parse_date(value)
        except ValueError:
            self.issue(row, column, f"Give {column} as a date YYYY-MM-DD (not {value!r}).")
            return None

    def _valid(self, row: Row, obj: models.Model) -> bool:
        """The model's own field rules (lengths, choices, required), as the API applies them."""
        exclude = [f.name for f in obj._meta.fields if f.is_relation]
        exclude += obj.get_deferred_fields()  # timestamps not loaded: nothing to check
        try:
            obj.clean_fields(exclude=exclude)
        except ValidationError as exc:
            names = COLUMNS.get(type(obj), {})
            for name, messages in exc.message_dict.items():
                self.issue(row, names.get(name, name), " ".join(messages))
            return False
        return True

    def _track(self, row: Row, file: str, obj: models.Model, values: dict[str, Any]) -> bool:
        """Set ``values`` on ``obj``; record it as added, updated or unchanged. False when the
        row breaks a field rule."""
        if obj.pk is None:
            for name, value in values.items():
                setattr(obj, name, value)
            if not self._valid(row, obj):
                return False
            self.plan.creates[type(obj)].append(obj)
            self.count(file, ADDED)
            return True
        changed = [n for n, v in values.items() if getattr(obj, n) != v]
        if not changed:
            self.count(file, UNCHANGED)
            return True
        for name in changed:
            setattr(obj, name, values[name])
        if not self._valid(row, obj):
            return False
        self._update(obj, changed)
        self.count(file, UPDATED)
        return True

    def _update(self, obj: models.Model, fields: Iterable[str]) -> None:
        model = type(obj)
        if obj.pk in self.plan.updates[model] or not hasattr(model, "modified_at"):
            pass
        else:
            setattr(obj, "modified_at", self.now)  # noqa: B010 (not every model has it)
            self.plan.update_fields[model].add("modified_at")
        self.plan.updates[model][obj.pk] = obj
        self.plan.update_fields[model].update(fields)

    def _duplicates(self) -> None:
        for _name, rows in self.rs.rows.items():
            seen: dict[str, int] = {}
            for row in rows:
                if row.sourced_id in seen:
                    self.issue(
                        row,
                        "sourcedId",
                        f"This sourcedId is already used on line {seen[row.sourced_id]}; give "
                        "each record its own.",
                    )
                else:
                    seen[row.sourced_id] = row.line

    # --- the plan ------------------------------------------------------------------------

    def _end(
        self, row: Row | None, file: str, obj: Enrollment | Roster | None, end: dt.date | None
    ) -> None:
        """Ends a roster or enrollment (``tobedeleted``, or absent from a bulk file)."""
        if obj is None or obj.pk is None:
            self.count(file, UNCHANGED)
            return
        day = end or self.today
        day = max(day, obj.start_date)
        if obj.end_date is not None and obj.end_date <= day:
            self.count(file, UNCHANGED)
            return
        obj.end_date = day
        self._update(obj, ["end_date"])
        self.count(file, ENDED)
