"""Planning orgs, sessions, courses and classes of a OneRoster set (R1, R2, R41, R50)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import NamedTuple

from django.core.exceptions import ValidationError

from exchange.oneroster.plan import COLUMNS, FALSE, STAMPS, TRUE, PlannerBase, SavedChildren
from exchange.oneroster.reader import Row
from schools.models import (
    Calendar,
    Course,
    District,
    School,
    SchoolKind,
    Section,
    Term,
)


class WantedClass(NamedTuple):
    """A class of the set whose school, course and school year are known."""

    row: Row
    school: School
    year: str  # the school year's sourcedId
    course_row: Row
    terms: list[str]  # the sourcedIds of its terms, the school year left out

    @property
    def school_sid(self) -> str:
        """The school's sourcedId (the school was found by it)."""
        return self.row["schoolSourcedId"]


# A term of a calendar, in date order: (its academicSessions row or None when entered by hand,
# the term, start, end).
TermSlot = tuple[Row | None, Term, dt.date, dt.date]


class OrgsMixin(PlannerBase):
    def plan_orgs(self) -> None:
        rows = [r for r in self.rs["orgs"] if not r.deleted]
        self._plan_districts([r for r in rows if r["type"] == "district"])
        self._plan_schools([r for r in rows if r["type"] == "school"])

    def _plan_districts(self, district_rows: list[Row]) -> None:
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

    def _plan_schools(self, school_rows: list[Row]) -> None:
        missing = {r["parentSourcedId"] for r in school_rows} - set(self.districts)
        for parent in District.objects.filter(sourced_id__in=missing):
            if parent.sourced_id is not None:  # always: found by its sourcedId
                self.districts[parent.sourced_id] = parent
        existing_ids = [d.pk for d in self.districts.values() if d.pk]
        schools = list(School.objects.filter(district_id__in=existing_ids))
        saved = SavedChildren(School, "district", "code", schools)
        seen_codes: dict[tuple[int, str], Row] = {}
        claimed: dict[int, Row] = {}
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
            if not self._first_use(seen_codes, key, row, "identifier", "in the district"):
                continue
            school = saved.find(district, row.sourced_id, row["identifier"])
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
        wanted: list[WantedClass] = []
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
            wanted.append(
                WantedClass(row, school, year, course_row, [t for t in terms if t != year])
            )
        school_ids = {w.school.pk for w in wanted if w.school.pk}
        self._plan_calendars(wanted, school_ids)
        self._plan_courses(wanted)
        self._plan_sections(wanted)

    def _plan_calendars(self, wanted: list[WantedClass], school_ids: set[int]) -> None:
        existing = list(Calendar.objects.filter(school_id__in=school_ids))
        self.terms_by_calendar: dict[int, list[Term]] = defaultdict(list)
        for term in Term.objects.filter(calendar__school_id__in=school_ids):
            self.terms_by_calendar[term.calendar_id].append(term)
        by_sid = {(c.school_id, c.sourced_id): c for c in existing if c.sourced_id}
        by_year: dict[tuple[int, int | None], Calendar] = {
            (c.school_id, c.school_year): c for c in existing
        }
        terms_of: dict[tuple[str, str], set[str]] = defaultdict(set)
        for w in wanted:
            terms_of[(w.school_sid, w.year)].update(w.terms)
        schools = {w.school_sid: w.school for w in wanted}
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
            # school_year None (not a number, already reported) leaves R2's year check out.
            probe = Calendar(school_year=school_year, start_date=start, end_date=end)  # type: ignore[misc]
            try:
                probe.clean()  # R2 (no query)
            except ValidationError as exc:
                for name, messages in exc.message_dict.items():
                    self.issue(year_row, COLUMNS[Calendar].get(name, name), " ".join(messages))
                continue
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
        planned: list[TermSlot] = []
        claimed = set()
        for session in rows:
            term = (
                by_sid.get(session.sourced_id)
                or by_name.get(session["title"])
                or Term(calendar=calendar)
            )
            if term.pk:
                term.calendar = calendar
                claimed.add(term.pk)
            start, end = self.session_dates[session.sourced_id]
            if start < calendar.start_date or end > calendar.end_date:
                self.issue(
                    session,
                    "startDate",
                    f"Keep the term inside its school year ({calendar.start_date} to "
                    f"{calendar.end_date}).",
                )
                continue
            planned.append((session, term, start, end))
        others: list[TermSlot] = [
            (None, t, t.start_date, t.end_date) for t in existing if t.pk not in claimed
        ]
        everything = sorted(planned + others, key=lambda p: (p[2], p[3]))
        ok = True
        for before, after in zip(everything, everything[1:], strict=False):
            if after[2] <= before[3]:
                self.issue(
                    after[0] or before[0],
                    "startDate",
                    f"Change the dates: they overlap {before[1].name if before[0] is None else before[0]['title']} "
                    f"({before[2]} to {before[3]}).",
                )
                ok = False
        names: dict[str, list[Row | None]] = defaultdict(list)
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

    def _plan_courses(self, wanted: list[WantedClass]) -> None:
        cal_ids = [c.pk for c in self.calendars.values() if c.pk]
        saved = SavedChildren(
            Course,
            "calendar",
            "number",
            Course.objects.defer(*STAMPS).filter(calendar_id__in=cal_ids),
        )
        numbers: dict[tuple[int, str], Row] = {}
        for w in wanted:
            course_row = w.course_row
            key = (w.school_sid, course_row.sourced_id)
            calendar = self.calendars.get((w.school_sid, w.year))
            if calendar is None or key in self.courses:
                continue
            nkey = (id(calendar), course_row["courseCode"])
            if not self._first_use(numbers, nkey, course_row, "courseCode", "in the school year"):
                continue
            course = saved.find_or_new(calendar, course_row.sourced_id, course_row["courseCode"])
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

    def _plan_sections(self, wanted: list[WantedClass]) -> None:
        course_ids = [c.pk for c in self.courses.values() if c.pk]
        saved = SavedChildren(
            Section,
            "course",
            "number",
            Section.objects.defer(*STAMPS).filter(course_id__in=course_ids),
        )
        numbers: dict[tuple[int, str], Row] = {}
        for w in wanted:
            row = w.row
            course = self.courses.get((w.school_sid, w.course_row.sourced_id))
            if course is None:
                continue
            nkey = (id(course), row["classCode"])
            if not self._first_use(numbers, nkey, row, "classCode", "for the course"):
                continue
            section = saved.find_or_new(course, row.sourced_id, row["classCode"])
            values = {"number": row["classCode"], "sourced_id": row.sourced_id}
            if self._track(row, "classes", section, values):
                self.sections[row.sourced_id] = section

    # --- people --------------------------------------------------------------------------
