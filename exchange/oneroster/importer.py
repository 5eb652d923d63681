"""Import a OneRoster 1.2 CSV set (R50): plan everything in memory, check it all, then write.

The plan reads what exists with a few set-based queries (no query per row), matches each
row first on its ``sourcedId`` and then on the natural key the models hold unique (a
school's code in its district, a calendar's school year, a course's number, a student's
state id...), and records what to add, update and end. Every row is checked by the same
rules as the API — the models' field validation (``clean_fields``) and R1-R3 computed over
the whole set — before anything is written; one bad row refuses the whole set. The writes
are ``bulk_create`` / ``bulk_update`` in batches, in one transaction.
"""

from __future__ import annotations

import datetime as dt
import gc
from collections import defaultdict
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.db.models import Q
from django.db.models.base import ModelState
from django.utils import timezone

from exchange import bulk
from exchange.models import SourcedUser
from exchange.oneroster.reader import Issue, RosterSet, Row, parse_date
from schools.models import (
    AuditEntry,
    Calendar,
    Course,
    District,
    Enrollment,
    Role,
    Roster,
    School,
    SchoolKind,
    Section,
    ServiceType,
    StaffRole,
    Student,
    Term,
)

ADDED, UPDATED, ENDED, UNCHANGED = "added", "updated", "ended", "unchanged"
CHUNK = 5000
# Large reads skip the timestamps: parsing 100,000s of them is most of a re-import's time.
STAMPS = ("created_at", "modified_at")
# The model fields a row sets, named by the OneRoster column that fed them (for the report).
COLUMNS = {
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


def _chunks(values: Iterable, size: int = CHUNK):
    values = list(values)
    for i in range(0, len(values), size):
        yield values[i : i + size]


def _fetch(queryset: models.QuerySet, lookup: str, values: Iterable) -> list:
    """``queryset.filter(<lookup>__in=values)`` in chunks (PostgreSQL takes 65,535 parameters)."""
    out: list = []
    for part in _chunks(set(values)):
        out.extend(queryset.filter(**{f"{lookup}__in": part}))
    return out


def _light(queryset: models.QuerySet) -> list:
    """The rows of ``queryset`` as model instances without their timestamps, built straight
    from ``values_list``: a re-import reads 100,000s of rows and ``Model.from_db`` (and
    parsing timestamps) was most of its time. The instances save and ``bulk_update`` as usual;
    the timestamps are deferred fields."""
    model = queryset.model
    attnames = [f.attname for f in model._meta.concrete_fields if f.name not in STAMPS]
    db = queryset.db
    out = []
    new = model.__new__
    for values in queryset.values_list(*attnames):
        obj = new(model)
        obj.__dict__.update(zip(attnames, values, strict=True))
        state = ModelState()
        state.adding, state.db = False, db
        obj._state = state
        out.append(obj)
    return out


@dataclass
class Plan:
    """What the set would change, by model, and the report."""

    creates: dict[type, list] = field(default_factory=lambda: defaultdict(list))
    updates: dict[type, dict[int, models.Model]] = field(default_factory=lambda: defaultdict(dict))
    update_fields: dict[type, set[str]] = field(default_factory=lambda: defaultdict(set))
    teacher_links: list[tuple[Section, models.Model]] = field(default_factory=list)
    teacher_unlinks: list[tuple[int, int]] = field(default_factory=list)
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
        )


class Planner:
    """Builds the :class:`Plan` of one set. ``user`` None = the command line (state scope)."""

    def __init__(self, rs: RosterSet, *, user=None, today: dt.date | None = None):
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
        self.staff: dict[str, models.Model] = {}  # user sourcedId -> user
        self.staff_district: dict[str, District] = {}
        self.enrolled: set[tuple[int, int]] = set()  # (id(student), id(calendar)) enrolled
        self.teacher_at: set[tuple[int, int]] = set()  # (id(user), id(school)) teacher role
        self.scope_school_ids: set[int] = set()
        self.teachers_sent: set[tuple[int, int]] = set()  # (section id, user id)

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

    def count(self, file: str, action: str, n: int = 1) -> None:
        self.plan.counts[file][action] += n

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

    def _track(self, row: Row, file: str, obj: models.Model, values: dict) -> bool:
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
            obj.modified_at = self.now
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

    def build(self) -> Plan:
        if self.plan.issues:  # the files themselves are unreadable: stop here
            return self.plan
        self._duplicates()
        self.plan_orgs()
        self.check_scope()
        self.read_sessions()
        self.plan_classes()
        self.plan_users()
        self.plan_roles()
        self.plan_enrollments()
        # A session shared by several schools is checked once per school: report it once.
        self.plan.issues = list(dict.fromkeys(self.plan.issues))
        return self.plan

    def plan_orgs(self) -> None:
        rows = [r for r in self.rs["orgs"] if not r.deleted]
        district_rows = [r for r in rows if r["type"] == "district"]
        by_sid = {
            d.sourced_id: d
            for d in District.objects.filter(sourced_id__in=[r.sourced_id for r in district_rows])
        }
        by_code = {
            d.code: d
            for d in District.objects.filter(code__in=[r["identifier"] for r in district_rows])
        }
        claimed: dict[int, Row] = {}
        for row in district_rows:
            district = by_sid.get(row.sourced_id) or by_code.get(row["identifier"]) or District()
            if district.pk and district.pk in claimed:
                self.issue(
                    row,
                    "identifier",
                    f"Line {claimed[district.pk].line} already names this district.",
                )
                continue
            if district.pk:
                claimed[district.pk] = row
            values = {"code": row["identifier"], "name": row["name"], "sourced_id": row.sourced_id}
            if self._track(row, "orgs", district, values):
                self.districts[row.sourced_id] = district

        school_rows = [r for r in rows if r["type"] == "school"]
        missing = {r["parentSourcedId"] for r in school_rows} - set(self.districts)
        for district in District.objects.filter(sourced_id__in=missing):
            self.districts[district.sourced_id] = district
        existing_ids = [d.pk for d in self.districts.values() if d.pk]
        schools = list(School.objects.filter(district_id__in=existing_ids))
        by_sid = {(s.district_id, s.sourced_id): s for s in schools if s.sourced_id}
        by_code = {(s.district_id, s.code): s for s in schools}
        seen_codes: dict[tuple[int, str], Row] = {}
        claimed = {}
        for row in school_rows:
            district = self.districts.get(row["parentSourcedId"])
            if district is None:
                self.issue(
                    row,
                    "parentSourcedId",
                    "Point parentSourcedId at an org of type district in this set.",
                )
                continue
            self.school_district_sid[row.sourced_id] = row["parentSourcedId"]
            key = (id(district), row["identifier"])
            if key in seen_codes:
                self.issue(
                    row,
                    "identifier",
                    f"Line {seen_codes[key].line} already uses this identifier in the district.",
                )
                continue
            seen_codes[key] = row
            school = None
            if district.pk:
                school = by_sid.get((district.pk, row.sourced_id)) or by_code.get(
                    (district.pk, row["identifier"])
                )
            if school and school.pk in claimed:
                self.issue(
                    row, "identifier", f"Line {claimed[school.pk].line} already names this school."
                )
                continue
            kind = row["metadata.kts.schoolKind"] or (
                school.kind if school else SchoolKind.HIGH_SCHOOL
            )
            if school is None:
                school = School(district=district)
            else:
                school.district = district  # the parent in hand: no query per row later
                claimed[school.pk] = row
                if kind != school.kind and not self._state_admin:
                    self.issue(
                        row,
                        "metadata.kts.schoolKind",
                        "Only a state admin changes a school's kind (R41); ask the state or "
                        f"send {school.kind}.",
                    )
                    continue
            values = {
                "code": row["identifier"],
                "name": row["name"],
                "kind": kind,
                "sourced_id": row.sourced_id,
            }
            if self._track(row, "orgs", school, values):
                self.schools[row.sourced_id] = school
        for school in self.schools.values():
            if school.pk:
                self.scope_school_ids.add(school.pk)

    @property
    def _state_admin(self) -> bool:
        return self.user is None or self.user.is_superuser

    def _allowed_districts(self) -> set[int] | None:
        if self._state_admin:
            return None
        from schools.access import grants_for

        return set(grants_for(self.user).admin_districts)

    def check_scope(self) -> None:
        """R41: a district admin imports only orgs of their own district."""
        allowed = self._allowed_districts()
        if allowed is None:
            return
        for row in self.rs["orgs"]:
            if row["type"] == "district":
                district = self.districts.get(row.sourced_id)
            elif row["type"] == "school":
                district = self.districts.get(row["parentSourcedId"])
            else:
                continue
            if district is not None and district.pk not in allowed:
                self.issue(
                    row,
                    "sourcedId",
                    "This org is outside your district; a district admin imports only their "
                    "own district's orgs (R41).",
                )

    def _school(self, sid: str, row: Row, column: str) -> School | None:
        """A school of the set, or one imported before (a delta set without orgs.csv)."""
        school = self.schools.get(sid)
        if school is None and sid:
            allowed = self._allowed_districts()
            found = School.objects.filter(sourced_id=sid)
            if allowed is not None:
                found = found.filter(district_id__in=allowed)
            found = list(found[:2])
            if len(found) == 1:
                school = self.schools[sid] = found[0]
                self.scope_school_ids.add(school.pk)
        if school is None:
            self.issue(
                row, column, f"No org of type school has sourcedId {sid!r}; add it to orgs.csv."
            )
        return school

    def read_sessions(self) -> None:
        for row in self.rs["academicSessions"]:
            if row.deleted:
                continue
            start = self._date(row, "startDate", required=True)
            end = self._date(row, "endDate", required=True)
            if start and end:
                if start > end:
                    self.issue(row, "endDate", "Set the end date on or after the start date.")
                self.session_dates[row.sourced_id] = (start, end)
            self.sessions[row.sourced_id] = row
            if row["type"] == "schoolYear" and not (
                row["schoolYear"].isascii()
                and row["schoolYear"].isdigit()
                and len(row["schoolYear"]) == 4
            ):
                self.issue(row, "schoolYear", "Give the year the school year ends, e.g. 2027.")

    def _year_of(self, sid: str) -> str | None:
        seen = set()
        while sid and sid not in seen:
            seen.add(sid)
            row = self.sessions.get(sid)
            if row is None:
                return None
            if row["type"] == "schoolYear":
                return sid
            sid = row["parentSourcedId"]
        return None

    def plan_classes(self) -> None:
        """Classes decide which calendars, terms and courses each school gets (R50)."""
        courses = {r.sourced_id: r for r in self.rs["courses"] if not r.deleted}
        wanted: list[tuple[Row, School, str, Row, list[str]]] = []
        for row in self.rs["classes"]:
            if row.deleted:
                continue
            school = self._school(row["schoolSourcedId"], row, "schoolSourcedId")
            course_row = courses.get(row["courseSourcedId"])
            if course_row is None:
                self.issue(row, "courseSourcedId", "No course in courses.csv has this sourcedId.")
            terms = [t.strip() for t in row["termSourcedIds"].split(",") if t.strip()]
            unknown = [t for t in terms if t not in self.sessions]
            if unknown:
                self.issue(
                    row,
                    "termSourcedIds",
                    f"No academic session has sourcedId {', '.join(unknown)}; add it to "
                    "academicSessions.csv.",
                )
                continue
            if school is None or course_row is None:
                continue
            year = course_row["schoolYearSourcedId"] or (self._year_of(terms[0]) if terms else None)
            if year not in self.sessions or self.sessions[year]["type"] != "schoolYear":
                self.issue(
                    row,
                    "termSourcedIds",
                    "Name the class's terms, or the course's schoolYearSourcedId, so the "
                    "school year is known.",
                )
                continue
            off = [t for t in terms if t != year and self._year_of(t) != year]
            if off:
                self.issue(
                    row,
                    "termSourcedIds",
                    f"Term {off[0]} is not part of school year {self.sessions[year]['title']}.",
                )
                continue
            wanted.append((row, school, year, course_row, [t for t in terms if t != year]))
        school_ids = {s.pk for _, s, _, _, _ in wanted if s.pk}
        self._plan_calendars(wanted, school_ids)
        self._plan_courses_and_sections(wanted, school_ids, courses)

    def _plan_calendars(self, wanted, school_ids: set[int]) -> None:
        existing = list(Calendar.objects.filter(school_id__in=school_ids))
        self.terms_by_calendar: dict[int, list[Term]] = defaultdict(list)
        for term in Term.objects.filter(calendar__school_id__in=school_ids):
            self.terms_by_calendar[term.calendar_id].append(term)
        by_sid = {(c.school_id, c.sourced_id): c for c in existing if c.sourced_id}
        by_year = {(c.school_id, c.school_year): c for c in existing}
        terms_of: dict[tuple[str, str], set[str]] = defaultdict(set)
        for _, school, year, _, terms in wanted:
            terms_of[(school.sourced_id, year)].update(terms)
        schools = {s.sourced_id: s for _, s, _, _, _ in wanted}
        for (school_sid, year_sid), term_sids in terms_of.items():
            school, year_row = schools[school_sid], self.sessions[year_sid]
            if year_sid not in self.session_dates:
                continue
            start, end = self.session_dates[year_sid]
            school_year = int(year_row["schoolYear"]) if year_row["schoolYear"].isdigit() else None
            calendar = None
            if school.pk:
                calendar = by_sid.get((school.pk, year_sid)) or by_year.get(
                    (school.pk, school_year)
                )
            if calendar is not None:
                calendar.school = school
            calendar = calendar or Calendar(school=school)
            values = {
                "school_year": school_year,
                "name": year_row["title"][:200],
                "start_date": start,
                "end_date": end,
                "sourced_id": year_sid,
            }
            probe = Calendar(school_year=school_year, start_date=start, end_date=end)
            try:
                probe.clean()  # R2 (no query)
            except ValidationError as exc:
                for name, messages in exc.message_dict.items():
                    self.issue(year_row, COLUMNS[Calendar].get(name, name), " ".join(messages))
                continue
            if calendar.pk is None and school.pk and (school.pk, school_year) in by_year:
                continue  # unreachable: matched above
            if not self._track(year_row, "academicSessions", calendar, values):
                continue
            self.calendars[(school_sid, year_sid)] = calendar
            self._plan_terms(calendar, sorted(term_sids))

    def _plan_terms(self, calendar: Calendar, term_sids: list[str]) -> None:
        """R2: inside the calendar, no overlap, sequence = date order, names unique."""
        existing = self.terms_by_calendar.get(calendar.pk, []) if calendar.pk else []
        by_sid = {t.sourced_id: t for t in existing if t.sourced_id}
        by_name = {t.name: t for t in existing}
        rows = [self.sessions[s] for s in term_sids if s in self.session_dates]
        planned: list[tuple[Row, Term, dt.date, dt.date]] = []
        claimed = set()
        for row in rows:
            term = (
                by_sid.get(row.sourced_id) or by_name.get(row["title"]) or Term(calendar=calendar)
            )
            if term.pk:
                term.calendar = calendar
                claimed.add(term.pk)
            start, end = self.session_dates[row.sourced_id]
            if start < calendar.start_date or end > calendar.end_date:
                self.issue(
                    row,
                    "startDate",
                    f"Keep the term inside its school year ({calendar.start_date} to "
                    f"{calendar.end_date}).",
                )
                continue
            planned.append((row, term, start, end))
        others = [(None, t, t.start_date, t.end_date) for t in existing if t.pk not in claimed]
        everything = sorted(planned + others, key=lambda p: (p[2], p[3]))
        ok = True
        for before, after in zip(everything, everything[1:], strict=False):
            if after[2] <= before[3]:
                row = after[0] or before[0]
                self.issue(
                    row,
                    "startDate",
                    f"Change the dates: they overlap {before[1].name if before[0] is None else before[0]['title']} "
                    f"({before[2]} to {before[3]}).",
                )
                ok = False
        names = defaultdict(list)
        for row, term, *_ in everything:
            names[row["title"] if row else term.name].append(row)
        for name, rws in names.items():
            if len(rws) > 1:
                for row in rws:
                    if row is not None:
                        self.issue(
                            row,
                            "title",
                            f"Give each term of the school year its own title ({name!r} twice).",
                        )
                        ok = False
        if not ok:
            return
        for seq, (row, term, start, end) in enumerate(everything, start=1):
            if row is None:
                if term.seq != seq:
                    self.issue(
                        None,
                        "",
                        f"Term {term.name} entered by hand would need sequence {seq}; renumber it first.",
                        file="academicSessions.csv",
                    )
                continue
            values = {
                "name": row["title"],
                "seq": seq,
                "start_date": start,
                "end_date": end,
                "sourced_id": row.sourced_id,
            }
            self._track(row, "academicSessions", term, values)

    def _plan_courses_and_sections(self, wanted, school_ids: set[int], courses) -> None:
        cal_ids = [c.pk for c in self.calendars.values() if c.pk]
        existing = list(Course.objects.defer(*STAMPS).filter(calendar_id__in=cal_ids))
        by_sid = {(c.calendar_id, c.sourced_id): c for c in existing if c.sourced_id}
        by_number = {(c.calendar_id, c.number): c for c in existing}
        numbers: dict[tuple[int, str], Row] = {}
        for _row, school, year, course_row, _ in wanted:
            key = (school.sourced_id, course_row.sourced_id)
            calendar = self.calendars.get((school.sourced_id, year))
            if calendar is None or key in self.courses:
                continue
            nkey = (id(calendar), course_row["courseCode"])
            if nkey in numbers:
                self.issue(
                    course_row,
                    "courseCode",
                    f"Line {numbers[nkey].line} already uses this courseCode in the school year.",
                )
                continue
            numbers[nkey] = course_row
            course = None
            if calendar.pk:
                course = by_sid.get((calendar.pk, course_row.sourced_id)) or by_number.get(
                    (calendar.pk, course_row["courseCode"])
                )
            if course is not None:
                course.calendar = calendar
            course = course or Course(calendar=calendar)
            is_kts = course_row["metadata.kts.isKts"].lower()
            if is_kts not in TRUE | FALSE:
                self.issue(course_row, "metadata.kts.isKts", "Set it to true or false.")
                continue
            values = {
                "number": course_row["courseCode"],
                "name": course_row["title"],
                "state_code": course_row["metadata.kts.stateCode"],
                "is_kts": is_kts in TRUE,
                "sourced_id": course_row.sourced_id,
            }
            if self._track(course_row, "courses", course, values):
                self.courses[key] = course
        course_ids = [c.pk for c in self.courses.values() if c.pk]
        existing = list(Section.objects.defer(*STAMPS).filter(course_id__in=course_ids))
        by_sid = {(s.course_id, s.sourced_id): s for s in existing if s.sourced_id}
        by_number = {(s.course_id, s.number): s for s in existing}
        numbers = {}
        for row, school, _, course_row, _ in wanted:
            course = self.courses.get((school.sourced_id, course_row.sourced_id))
            if course is None:
                continue
            nkey = (id(course), row["classCode"])
            if nkey in numbers:
                self.issue(
                    row,
                    "classCode",
                    f"Line {numbers[nkey].line} already uses this classCode for the course.",
                )
                continue
            numbers[nkey] = row
            section = None
            if course.pk:
                section = by_sid.get((course.pk, row.sourced_id)) or by_number.get(
                    (course.pk, row["classCode"])
                )
            if section is not None:
                section.course = course
            section = section or Section(course=course)
            values = {"number": row["classCode"], "sourced_id": row.sourced_id}
            if self._track(row, "classes", section, values):
                self.sections[row.sourced_id] = section

    # --- people --------------------------------------------------------------------------

    def plan_users(self) -> None:
        roles_by_user: dict[str, list[Row]] = defaultdict(list)
        for row in self.rs["roles"]:
            roles_by_user[row["userSourcedId"]].append(row)
        self.roles_by_user = roles_by_user
        births = {}
        for row in self.rs["demographics"]:
            if not row.deleted and row["birthDate"]:
                births[row.sourced_id] = self._date(row, "birthDate")
        users = [r for r in self.rs["users"] if not r.deleted]
        user_sids = {r.sourced_id for r in users}
        for sid in {r["userSourcedId"] for r in self.rs["roles"]} - user_sids:
            if self.rs.sent("users") and self.rs.bulk("users"):
                for row in roles_by_user[sid]:
                    self.issue(row, "userSourcedId", "No user in users.csv has this sourcedId.")
        student_rows, staff_rows = [], []
        for row in users:
            kinds = {r["role"] for r in roles_by_user.get(row.sourced_id, []) if not r.deleted}
            if "student" in kinds:
                student_rows.append(row)
            elif kinds & set(STAFF_ROLES):
                staff_rows.append(row)
            elif not kinds:
                student_rows.append(row)  # matched to an existing student below, or ignored
        # Students: identified statewide by state id (R3).
        existing = {}
        for part in _chunks({r["identifier"] for r in student_rows}):
            existing.update(
                (s.state_id, s) for s in _light(Student.objects.filter(state_id__in=part))
            )
        seen: dict[str, Row] = {}
        for row in student_rows:
            has_role = bool(roles_by_user.get(row.sourced_id))
            state_id = row["identifier"]
            student = existing.get(state_id)
            if not has_role and student is None:
                continue
            if not state_id:
                self.issue(
                    row, "identifier", "Give the student's state student id in identifier (R3)."
                )
                continue
            if state_id in seen:
                self.issue(
                    row,
                    "identifier",
                    f"State id {state_id} is already used on line {seen[state_id].line}; a state "
                    "id belongs to one student (R3).",
                )
                continue
            seen[state_id] = row
            student = student or Student()
            values = {
                "state_id": state_id,
                "first_name": row["givenName"],
                "last_name": row["familyName"],
                "sourced_id": row.sourced_id,
            }
            if row.sourced_id in births or student.pk is None:
                values["birth_date"] = births.get(row.sourced_id)
            if self._track(row, "users", student, values):
                self.students[row.sourced_id] = student
        self._plan_staff(staff_rows)

    def _plan_staff(self, rows: list[Row]) -> None:
        User = get_user_model()
        wanted: list[tuple[Row, District]] = []
        for row in rows:
            district = None
            for role in self.roles_by_user[row.sourced_id]:
                org = role["orgSourcedId"]
                district = self.districts.get(org) or self.districts.get(
                    self.school_district_sid.get(org, "")
                )
                if district:
                    break
            if district is None:
                self.issue(
                    row, "sourcedId", "Give the user a role at an org of this set (roles.csv)."
                )
                continue
            wanted.append((row, district))
        district_ids = {d.pk for _, d in wanted if d.pk}
        links = {
            (s.district_id, s.sourced_id): s.user
            for s in SourcedUser.objects.filter(
                district_id__in=district_ids, sourced_id__in=[r.sourced_id for r, _ in wanted]
            ).select_related("user")
        }
        usernames = [r["username"] or r.sourced_id for r, _ in wanted]
        by_name = {u.username: u for u in _fetch(User.objects.all(), "username", usernames)}
        elsewhere = set(
            StaffRole.objects.filter(user__username__in=usernames)
            .exclude(Q(district_id__in=district_ids) | Q(school__district_id__in=district_ids))
            .values_list("user__username", flat=True)
        )
        for row, district in wanted:
            username = row["username"] or row.sourced_id
            user = links.get((district.pk, row.sourced_id)) if district.pk else None
            new_link = user is None
            if user is None and username in by_name:
                user = by_name[username]
                if user.is_superuser or username in elsewhere:
                    self.issue(
                        row,
                        "username",
                        "This username belongs to a user outside the district; give the user "
                        "another username.",
                    )
                    continue
            user = user or User(username=username, password=make_password(None), is_active=True)
            values = {
                "username": username,
                "first_name": row["givenName"][:150],
                "last_name": row["familyName"][:150],
                "email": row["email"],
                "is_active": row["enabledUser"].lower() != "false",
            }
            if not self._track(row, "users", user, values):
                continue
            self.staff[row.sourced_id] = user
            self.staff_district[row.sourced_id] = district
            if new_link:
                self.plan.sourced_users.append(
                    SourcedUser(district=district, sourced_id=row.sourced_id, user=user)
                )

    def plan_roles(self) -> None:
        """Students' enrollments at their schools (R3) and staff roles (R36)."""
        student_roles: list[tuple[Row, Student, School]] = []
        staff_ids = [u.pk for u in self.staff.values() if u.pk]
        held = set(
            StaffRole.objects.filter(user_id__in=staff_ids).values_list(
                "user_id", "role", "district_id", "school_id"
            )
        )
        new_roles: set[tuple] = set()
        for row in self.rs["roles"]:
            sid, org = row["userSourcedId"], row["orgSourcedId"]
            if row["role"] == "student":
                student = self.students.get(sid)
                if student is None:
                    if not self.rs.sent("users"):
                        self.issue(row, "userSourcedId", "Send users.csv with the student's row.")
                    continue
                school = self._school(org, row, "orgSourcedId")
                if school is not None:
                    student_roles.append((row, student, school))
                continue
            role = STAFF_ROLES.get(row["role"])
            user = self.staff.get(sid)
            if role is None or user is None or row.deleted:
                continue
            if role == Role.SCHOOL_ADMIN and org in self.districts:
                role = Role.DISTRICT_ADMIN
            if role == Role.DISTRICT_ADMIN:
                district = self.districts.get(org)
                if district is None:
                    self.issue(
                        row,
                        "orgSourcedId",
                        "Give a district admin's role at an org of type district.",
                    )
                    continue
                key = (id(user), role, id(district), None)
                obj = StaffRole(user=user, role=role, district=district)
                exists = user.pk and district.pk and (user.pk, role, district.pk, None) in held
            else:
                school = self._school(org, row, "orgSourcedId")
                if school is None:
                    continue
                key = (id(user), role, None, id(school))
                obj = StaffRole(user=user, role=role, school=school)
                exists = user.pk and school.pk and (user.pk, role, None, school.pk) in held
                if role == Role.TEACHER:
                    self.teacher_at.add((id(user), id(school)))
            if key in new_roles:
                continue
            new_roles.add(key)
            if exists:
                self.count("roles", UNCHANGED)
            else:
                self.plan.creates[StaffRole].append(obj)
                self.count("roles", ADDED)
        self._plan_enrollments_of(student_roles)

    def _plan_enrollments_of(self, student_roles) -> None:
        school_cals: dict[str, list[Calendar]] = defaultdict(list)
        for (school_sid, _), calendar in self.calendars.items():
            school_cals[school_sid].append(calendar)
        # A delta may enroll a student at a school whose classes it does not send: use the
        # school's calendars already in the database.
        schools = {s.pk: s for _, _, s in student_roles if s.pk and s.sourced_id not in school_cals}
        for calendar in Calendar.objects.filter(school_id__in=schools):
            calendar.school = schools[calendar.school_id]
            school_cals[calendar.school.sourced_id].append(calendar)
        cal_ids = {c.pk for cals in school_cals.values() for c in cals if c.pk}
        existing = _light(Enrollment.objects.filter(calendar_id__in=cal_ids))
        by_sid = {(e.calendar_id, e.sourced_id): e for e in existing if e.sourced_id}
        by_student = {(e.calendar_id, e.student_id): e for e in existing}
        for e in existing:
            self.enrolled.add((e.student_id, e.calendar_id))
        primaries: dict[tuple[int, int], Row] = {}
        planned_primary: list[tuple[Row, Student, Calendar]] = []
        sent: set[tuple[int, str]] = set()
        for row, student, school in student_roles:
            begin = self._date(row, "beginDate")
            end = self._date(row, "endDate")
            cals = school_cals.get(school.sourced_id, [])
            if len(cals) > 1:
                day = begin or self.today
                cals = [c for c in cals if c.start_date <= day <= c.end_date]
            if len(cals) != 1:
                self.issue(
                    row,
                    "orgSourcedId",
                    "The school has no single school year in this set for this role; send its "
                    "classes and give beginDate inside the school year.",
                )
                continue
            calendar = cals[0]
            enrollment = None
            if calendar.pk:
                enrollment = by_sid.get((calendar.pk, row.sourced_id))
                if enrollment is None and student.pk:
                    enrollment = by_student.get((calendar.pk, student.pk))
            sent.add((calendar.pk, row.sourced_id))
            if row.deleted:
                self._end(row, "roles", enrollment, end)
                continue
            enrollment = enrollment or Enrollment(student=student, calendar=calendar)
            primary = (
                not school.kind == SchoolKind.TECHNICAL_SCHOOL and row["roleType"] != "secondary"
            )
            start = begin or calendar.start_date
            if end and start > end:
                self.issue(row, "endDate", "Set the end date on or after the start date.")
                continue
            values = {
                "service_type": ServiceType.PRIMARY if primary else ServiceType.SECONDARY,
                "school_year": calendar.school_year,
                "start_date": start,
                "end_date": end,
                "sourced_id": row.sourced_id,
            }
            if enrollment.pk is None:
                values["grade_level"] = ""
            if primary:
                key = (id(student), calendar.school_year)
                if key in primaries:
                    self.issue(
                        row,
                        "orgSourcedId",
                        f"The student already has a primary enrollment this school year (line "
                        f"{primaries[key].line}); make one of them secondary (R3).",
                    )
                    continue
                primaries[key] = row
                planned_primary.append((row, student, calendar))
            if self._track(row, "roles", enrollment, values):
                self.enrolled.add((id(student), id(calendar)))
                if calendar.pk:  # the same calendar read again through a class
                    self.enrolled.add((id(student), calendar.pk))
                if student.pk and calendar.pk:
                    self.enrolled.add((student.pk, calendar.pk))
        # R3 across the database: a primary enrollment at a school outside this set.
        # Two narrow columns of every primary enrollment of those years elsewhere: cheaper
        # than tens of thousands of student ids sent as parameters.
        years = {c.school_year for _, _, c in planned_primary}
        elsewhere = (
            Enrollment.objects.filter(service_type=ServiceType.PRIMARY, school_year__in=years)
            .exclude(calendar_id__in=cal_ids)
            .values_list("student_id", "school_year", "calendar__school__name")
        )
        clash = {(s, y): name for s, y, name in elsewhere.iterator(chunk_size=CHUNK)}
        for row, student, calendar in planned_primary:
            other = clash.get((student.pk, calendar.school_year))
            if other is not None:
                self.issue(
                    row,
                    "orgSourcedId",
                    f"The student already has a primary enrollment at {other} "
                    "this school year; make this one secondary (R3).",
                )
        if self.rs.bulk("roles"):
            for e in existing:
                if e.sourced_id and (e.calendar_id, e.sourced_id) not in sent:
                    self._end(None, "roles", e, None)

    def _end(self, row: Row | None, file: str, obj, end: dt.date | None) -> None:
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

    def plan_enrollments(self) -> None:
        """enrollments.csv: students -> rosters, teachers -> section teachers (R50)."""
        rows = self.rs["enrollments"]
        if not rows and not self.rs.bulk("enrollments"):
            return
        missing = {r["classSourcedId"] for r in rows} - set(self.sections)
        if missing:
            self._sections_from_db(missing)
        missing = {r["userSourcedId"] for r in rows if r["role"] == "student"} - set(self.students)
        if missing:
            self._students_from_db(missing)
        missing = {r["userSourcedId"] for r in rows if r["role"] == "teacher"} - set(self.staff)
        if missing:
            self._staff_from_db(missing)
        section_ids = {s.pk for s in self.sections.values() if s.pk}
        scope = Q(section_id__in=section_ids)
        if self.rs.bulk("enrollments"):  # rosters absent from the file end: read the schools'
            scope |= Q(section__course__calendar__school_id__in=self.scope_school_ids)
        scope = Roster.objects.filter(scope)
        existing = _light(scope)
        by_sid = {(r.section_id, r.sourced_id): r for r in existing if r.sourced_id}
        by_pair: dict[tuple[int, int], list[Roster]] = defaultdict(list)
        for r in existing:
            by_pair[(r.student_id, r.section_id)].append(r)
        teachers = set(
            Section.teachers.through.objects.filter(section_id__in=section_ids).values_list(
                "section_id", "user_id"
            )
        )
        sent_classes = {r.sourced_id for r in self.rs["classes"]}
        sent_users = {r.sourced_id for r in self.rs["users"]}
        sent: set[tuple[int, str]] = set()
        planned: dict[tuple[int, int], list[tuple[Row, dt.date, dt.date | None]]] = defaultdict(
            list
        )
        claimed: set[int] = set()
        bulk = self.rs.bulk("enrollments")
        for row in rows:
            section = self.sections.get(row["classSourcedId"])
            if section is None:
                if row["classSourcedId"] not in sent_classes:  # else its own line is reported
                    self.issue(row, "classSourcedId", "No class in classes.csv has this sourcedId.")
                continue
            begin = self._date(row, "beginDate")
            end = self._date(row, "endDate")
            if row["role"] == "teacher":
                self._plan_teacher(row, section, teachers)
                continue
            if row["role"] != "student":
                continue
            student = self.students.get(row["userSourcedId"])
            if student is None:
                if row["userSourcedId"] not in sent_users:
                    self.issue(row, "userSourcedId", "No student in users.csv has this sourcedId.")
                continue
            calendar = section.course.calendar
            roster = by_sid.get((section.id, row.sourced_id)) if section.id else None
            if roster is None and section.id and student.id:
                # Adopt a roster entered by hand (no sourcedId) for the same student and section.
                for r in by_pair.get((student.id, section.id), []):
                    if (
                        r.id not in claimed
                        and not r.sourced_id
                        and (r.end_date is None or r.start_date == begin)
                    ):
                        roster = r
                        break
            if roster is not None:
                claimed.add(roster.id)
            sent.add((section.id, row.sourced_id))
            if row.deleted:
                self._end(row, "enrollments", roster, end)
                continue
            start = begin or calendar.start_date
            if end and start > end:
                self.issue(row, "endDate", "Set the end date on or after the start date.")
                continue
            if not (calendar.start_date <= start <= calendar.end_date):
                self.issue(
                    row,
                    "beginDate",
                    f"Start the roster inside the school year ({calendar.start_date} to "
                    f"{calendar.end_date}).",
                )
                continue
            if (
                (id(student), id(calendar)) not in self.enrolled
                and (id(student), calendar.id) not in self.enrolled
                and (student.id is None or (student.id, calendar.id) not in self.enrolled)
            ):
                self.issue(
                    row,
                    "userSourcedId",
                    f"Enroll the student at {calendar.school} (a student role in roles.csv) "
                    "before rostering them.",
                )
                continue
            pair = (id(student), id(section))
            clash = [
                p
                for p in planned.get(pair, ())
                if p[1] <= (end or dt.date.max) and start <= (p[2] or dt.date.max)
            ]
            if clash:
                self.issue(
                    row,
                    "sourcedId",
                    f"The student is already rostered in this class for these dates (line "
                    f"{clash[0][0].line}).",
                )
                continue
            if student.id and section.id:
                # One open roster per student and section (R48): a roster kept outside this
                # set may not overlap (in bulk mode imported ones absent from the file end).
                other = next(
                    (
                        r
                        for r in by_pair.get((student.id, section.id), [])
                        if r is not roster
                        and not (bulk and r.sourced_id)
                        and r.start_date <= (end or dt.date.max)
                        and start <= (r.end_date or dt.date.max)
                    ),
                    None,
                )
                if other is not None:
                    self.issue(
                        row,
                        "beginDate",
                        f"The student is already rostered in this class from {other.start_date}; "
                        "end that roster first.",
                    )
                    continue
            planned[pair].append((row, start, end))
            roster = roster or Roster(student=student, section=section)
            values = {"start_date": start, "end_date": end, "sourced_id": row.sourced_id}
            self._track(row, "enrollments", roster, values)
        if bulk:
            self._unlink_absent_teachers(teachers)
            for r in existing:
                if (
                    r.sourced_id
                    and (r.section_id, r.sourced_id) not in sent
                    and r.id not in claimed
                ):
                    self._end(None, "enrollments", r, None)

    def _unlink_absent_teachers(self, teachers: set) -> None:
        """Bulk mode: an imported teacher no longer sent for a class of the set leaves it
        (teachers assigned by hand stay)."""
        district_ids = {d.pk for d in self.districts.values() if d.pk}
        imported = set(
            SourcedUser.objects.filter(district_id__in=district_ids).values_list(
                "user_id", flat=True
            )
        )
        for section_id, user_id in sorted(teachers - self.teachers_sent):
            if user_id in imported:
                self.plan.teacher_unlinks.append((section_id, user_id))
                self.count("enrollments", ENDED)

    def _plan_teacher(self, row: Row, section: Section, teachers: set) -> None:
        user = self.staff.get(row["userSourcedId"])
        if user is None:
            self.issue(row, "userSourcedId", "No teacher in users.csv has this sourcedId.")
            return
        school = section.course.calendar.school
        if row.deleted:
            if section.pk and user.pk and (section.pk, user.pk) in teachers:
                self.plan.teacher_unlinks.append((section.pk, user.pk))
                self.count("enrollments", ENDED)
            else:
                self.count("enrollments", UNCHANGED)
            return
        if (id(user), id(school)) not in self.teacher_at and not (
            user.pk
            and StaffRole.objects.filter(user=user, role=Role.TEACHER, school=school).exists()
        ):
            self.issue(
                row,
                "userSourcedId",
                f"Give the teacher a teacher role at {school} in roles.csv (R41).",
            )
            return
        if section.pk and user.pk:
            self.teachers_sent.add((section.pk, user.pk))
        if section.pk and user.pk and (section.pk, user.pk) in teachers:
            self.count("enrollments", UNCHANGED)
        else:
            self.plan.teacher_links.append((section, user))
            self.count("enrollments", ADDED)

    def _sections_from_db(self, sids: set[str]) -> None:
        allowed = self._allowed_districts()
        qs = Section.objects.select_related("course__calendar__school")
        if allowed is not None:
            qs = qs.filter(course__calendar__school__district_id__in=allowed)
        found = defaultdict(list)
        for s in _fetch(qs, "sourced_id", sids):
            found[s.sourced_id].append(s)
        for sid, sections in found.items():
            if len(sections) == 1:
                self.sections[sid] = sections[0]
                self.scope_school_ids.add(sections[0].course.calendar.school_id)

    def _students_from_db(self, sids: set[str]) -> None:
        found = defaultdict(list)
        for s in _fetch(Student.objects.defer(*STAMPS), "sourced_id", sids):
            found[s.sourced_id].append(s)
        for sid, students in found.items():
            if len(students) == 1:
                self.students[sid] = students[0]
        ids = [s.pk for s in self.students.values() if s.pk]
        for student_id, calendar_id in _fetch(
            Enrollment.objects.values_list("student_id", "calendar_id"), "student_id", ids
        ):
            self.enrolled.add((student_id, calendar_id))

    def _staff_from_db(self, sids: set[str]) -> None:
        allowed = self._allowed_districts()
        qs = SourcedUser.objects.select_related("user")
        if allowed is not None:
            qs = qs.filter(district_id__in=allowed)
        for link in _fetch(qs, "sourced_id", sids):
            self.staff.setdefault(link.sourced_id, link.user)


# --- writing -------------------------------------------------------------------------------

WRITE_ORDER = [District, School, Calendar, Term, Course, Section, Student, Enrollment]


def _batch() -> int:
    return getattr(settings, "EXCHANGE_BATCH_SIZE", 2000)


# Rows nothing else points at: written with COPY on PostgreSQL (``exchange.bulk.insert``),
# the fastest path the server has; their ids are not needed afterwards.
COPIED = (Enrollment, StaffRole, Roster)


def write(plan: Plan) -> None:
    """Apply ``plan`` in one transaction (the caller holds it)."""
    User = get_user_model()
    batch = _batch()
    now = timezone.now()
    for model in [*WRITE_ORDER, User, StaffRole, Roster]:
        creates = plan.creates.get(model, [])
        relations = [f for f in model._meta.concrete_fields if f.is_relation]
        for obj in creates:
            # An unsaved parent got its id when it was written just before: copy it over.
            for f in relations:
                if f.is_cached(obj):
                    parent = getattr(obj, f.name)
                    if parent is not None and parent.pk is not None:
                        setattr(obj, f.attname, parent.pk)
        if creates and model in COPIED:
            for obj in creates:
                obj.created_at = obj.modified_at = now  # COPY runs no pre_save()
            bulk.insert(creates)
        elif creates:
            model.objects.bulk_create(creates, batch_size=batch)
        updates = plan.updates.get(model)
        if updates:
            model.objects.bulk_update(
                list(updates.values()), sorted(plan.update_fields[model]), batch_size=batch
            )
        if model is User and plan.sourced_users:
            for link in plan.sourced_users:
                link.district_id = link.district.pk
                link.user_id = link.user.pk
            SourcedUser.objects.bulk_create(plan.sourced_users, batch_size=batch)
    Through = Section.teachers.through
    if plan.teacher_links:
        Through.objects.bulk_create(
            [Through(section_id=s.pk, user_id=u.pk) for s, u in plan.teacher_links],
            batch_size=batch,
            ignore_conflicts=True,
        )
    if plan.teacher_unlinks:
        q = Q()
        for section_id, user_id in plan.teacher_unlinks:
            q |= Q(section_id=section_id, user_id=user_id)
        Through.objects.filter(q).delete()


@contextmanager
def _no_cyclic_gc():
    """The plan allocates a few hundred thousand objects with no reference cycles; the
    cyclic collector would walk them all again and again (most of a large import's time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def import_set(
    rs: RosterSet, *, dry_run: bool = False, user=None, import_id: int | None = None
) -> Plan:
    """R50: check the whole set, then write it in one transaction, or write nothing. The
    write is attributed (R37) by one audit entry naming the import and the files changed."""
    with _no_cyclic_gc(), transaction.atomic():
        plan = Planner(rs, user=user).build()
        if not plan.issues and not dry_run:
            write(plan)
            if plan.rows_written:
                AuditEntry.objects.create(
                    user=user if user is not None and user.is_authenticated else None,
                    action="import",
                    model="exchange.Import",
                    object_id=import_id,
                    changes=sorted(
                        f"{name}.csv"
                        for name, c in plan.counts.items()
                        if c[ADDED] or c[UPDATED] or c[ENDED]
                    ),
                )
    if not dry_run and plan.rows_written >= ANALYZE_AFTER and connection.vendor == "postgresql":
        _analyze(plan)
    return plan


ANALYZE_AFTER = 10_000  # rows: a district's first load changes the tables' shape


def _analyze(plan: Plan) -> None:
    """Refresh the planner's statistics of the tables a large import filled, so the next
    reads (the exchange tonight, a re-import) are not planned for empty tables while
    autovacuum has not come round yet."""
    models_written = {m for m, objs in plan.creates.items() if objs}
    tables = ", ".join(connection.ops.quote_name(m._meta.db_table) for m in models_written)
    if tables:
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {tables}")
