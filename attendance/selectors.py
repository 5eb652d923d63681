"""Non-trivial reads of attendance: the real-time tech report (R26) and the worklist (R27)."""

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet

from attendance.models import Attendance, AttendanceCode, Excuse
from schools.models import (
    Calendar,
    Course,
    Enrollment,
    Roster,
    School,
    SchoolKind,
    Section,
    ServiceType,
)


class TechAttendanceReport:
    """R26: a HS's own students' attendance recorded at any tech school, as it stands now.

    "Own students" = a primary enrollment at the school in the school year of the record
    (at most one, R3). Rows are dicts ``{student, state_id, tech_school, section, date, code,
    status, excuse}`` (ids for keys) with readable labels (``tech_school_name``,
    ``section_label``, ``code_label``) and, for pages only, ``student_name``; ordered by
    date, student name, student, then section (a total order, so pages never overlap).

    Lazy and sliceable like a queryset, so Django's and DRF's paginators page it: one query
    for the school's own students (made once), then one for ``count()`` and one per slice or
    per full pass (``iter_rows``, read in chunks for a streamed download) - whatever the
    number of students, days or tech sections in the state. The SQL starts from the school's
    own students (a VALUES list per school year carrying each student's place in name
    order) and reads their rows through the (student, date) index, so it costs what the
    school has, not what the state has; names come from that first query, not a join.
    """

    def __init__(
        self,
        *,
        school: School,
        start: dt.date,
        end: dt.date,
        student: int | None = None,
        status: str | None = None,
        excuse: str | None = None,
        with_names: bool = False,
    ) -> None:
        self.school, self.start, self.end = school, start, end
        self.student, self.status, self.excuse = student, status, excuse
        self.with_names = with_names
        self._own: dict[int, tuple[str, str]] = {}  # student id -> (state id, name)
        self._own_loaded = False
        self._years: dict[int, str] = {}
        self._count: int | None = None

    # -- the school's own students ------------------------------------------------------
    def _load_own(self) -> dict[int, tuple[str, str]]:
        if not self._own_loaded:
            enrolled = Enrollment.objects.filter(
                calendar__school=self.school,
                service_type=ServiceType.PRIMARY,
                calendar__start_date__lte=self.end,
                calendar__end_date__gte=self.start,
            )
            if self.student:
                enrolled = enrolled.filter(student_id=self.student)
            found = sorted(
                enrolled.order_by().values_list(
                    "student__last_name",
                    "student__first_name",
                    "student_id",
                    "school_year",
                    "student__state_id",
                )
            )
            rank: dict[int, int] = {}
            by_year: dict[int, list[int]] = {}
            for _, _, student_id, year, _ in found:
                rank.setdefault(student_id, len(rank))
                by_year.setdefault(year, []).append(student_id)
            # Plain integers from the database, written into the SQL as VALUES lists (no
            # parameter limit to meet, and the planner sees the real number of students).
            self._years = {
                year: ", ".join(f"({int(i)}, {rank[i]})" for i in ids)
                for year, ids in sorted(by_year.items())
            }
            self._own = {
                student_id: (state_id, f"{last}, {first}")
                for last, first, student_id, _, state_id in found
            }
            self._own_loaded = True
        return self._own

    def _keys(self) -> tuple[str, str, list[Any]]:
        """The report's rows as narrow keys: ``(WITH clause, SELECT ..., params)``.

        One block per school year of the students (a range across the summer has two), each
        with its year as a constant, so the planner never pairs every student with every
        tech calendar; the students come first and their rows are read through the
        (student, date) index. Only ids here: the labels are joined to the page alone."""
        att, code = Attendance._meta.db_table, AttendanceCode._meta.db_table
        section, course = Section._meta.db_table, Course._meta.db_table
        calendar, school = Calendar._meta.db_table, School._meta.db_table
        where = "ts.kind = %s AND tc.school_year = %s"
        if connection.vendor == "postgresql":
            # LATERAL (kept apart by OFFSET 0): each student's rows, read through the
            # (student, date) index; the planner may not start from the tech sections
            # instead (every tech record of the state in the range), whatever it estimates.
            records = (
                "CROSS JOIN LATERAL (SELECT a.student_id, a.date, a.section_id, a.code_id "
                f"FROM {att} a WHERE a.student_id = o.student_id "
                "AND a.date >= %s AND a.date <= %s OFFSET 0) a"
            )
        else:
            records = (
                f"JOIN {att} a ON a.student_id = o.student_id AND a.date >= %s AND a.date <= %s"
            )
        codes = ""
        if self.status or self.excuse:
            codes = f"JOIN {code} c ON c.id = a.code_id "
            where += "".join(
                f" AND c.{name} = %s" for name in ("status", "excuse") if getattr(self, name)
            )
        ctes: list[str] = []
        blocks: list[str] = []
        params: list[Any] = []
        for year, values in self._years.items():
            ctes.append(f"own_{int(year)} (student_id, name_rank) AS (VALUES {values})")
            blocks.append(
                "SELECT a.date AS date, a.student_id AS student_id, "
                "a.section_id AS section_id, a.code_id AS code_id, "
                "tc.school_id AS tech_school, o.name_rank AS name_rank "
                f"FROM own_{int(year)} o {records} "
                f"JOIN {section} s ON s.id = a.section_id "
                f"JOIN {course} co ON co.id = s.course_id "
                f"JOIN {calendar} tc ON tc.id = co.calendar_id "
                f"JOIN {school} ts ON ts.id = tc.school_id "
                f"{codes}WHERE {where}"
            )
            params += [
                self.start,
                self.end,
                SchoolKind.TECHNICAL_SCHOOL.value,
                year,
            ]  # FROM, then WHERE
            params += [v for v in (self.status, self.excuse) if v]
        return f"WITH {', '.join(ctes)}", " UNION ALL ".join(blocks), params

    def _rows_sql(self, *, limit: int | None = None, offset: int = 0) -> tuple[str, list[Any]]:
        """The labelled rows in report order; with ``limit``, one page of them (the page is
        cut from the narrow keys, then labelled)."""
        with_, keys, params = self._keys()
        order = "ORDER BY k.date, k.name_rank, k.section_id"
        if limit is not None:
            keys = f"SELECT * FROM ({keys}) k {order} LIMIT {int(limit)} OFFSET {int(offset)}"
        return (
            f"{with_} SELECT k.date, k.student_id, k.section_id, k.code_id, k.tech_school, "
            "ts.name, co.number, s.number, co.name, c.code, c.status, c.excuse "
            f"FROM ({keys}) k "
            f"JOIN {Section._meta.db_table} s ON s.id = k.section_id "
            f"JOIN {Course._meta.db_table} co ON co.id = s.course_id "
            f"JOIN {School._meta.db_table} ts ON ts.id = k.tech_school "
            f"JOIN {AttendanceCode._meta.db_table} c ON c.id = k.code_id "
            f"{order}",
            params,
        )

    def _row(self, raw: Sequence[Any]) -> dict[str, Any]:
        day, student_id, section_id, code_id, tech, tech_name, c_no, s_no, c_name = raw[:9]
        code_label, status, excuse = raw[9:]
        state_id, name = self._own[student_id]
        row = {
            "student": student_id,
            "state_id": state_id,
            "tech_school": tech,
            "section": section_id,
            "date": day if isinstance(day, dt.date) else dt.date.fromisoformat(day),
            "code": code_id,
            "status": status,
            "excuse": excuse,
            "tech_school_name": tech_name,
            "section_label": f"{c_no}-{s_no} {c_name}",
            "code_label": code_label,
        }
        if self.with_names:
            row["student_name"] = name
        return row

    # -- what the paginators use --------------------------------------------------------
    def count(self) -> int:
        if self._count is None:
            if not self._load_own():
                self._count = 0
            else:
                with connection.cursor() as cursor:
                    with_, keys, params = self._keys()
                    cursor.execute(f"{with_} SELECT COUNT(*) FROM ({keys}) k", params)
                    self._count = cursor.fetchone()[0]
        return self._count

    def __getitem__(self, index: slice) -> list[dict[str, Any]]:
        if not isinstance(index, slice) or index.step not in (None, 1):
            raise TypeError("Slice the report (report[a:b]).")
        first = index.start or 0
        if not self._load_own() or (index.stop is not None and index.stop <= first):
            return []
        if index.stop is None:
            return list(self.iter_rows())[first:]
        with connection.cursor() as cursor:
            cursor.execute(*self._rows_sql(limit=index.stop - first, offset=first))
            return [self._row(raw) for raw in cursor.fetchall()]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self.iter_rows()

    def iter_rows(self, *, chunk_size: int = 2000) -> Iterator[dict[str, Any]]:
        """Every row in order, fetched ``chunk_size`` at a time from one query."""
        if not self._load_own():
            return
        with connection.chunked_cursor() as cursor:
            cursor.execute(*self._rows_sql())
            while chunk := cursor.fetchmany(chunk_size):
                yield from (self._row(raw) for raw in chunk)

    def disclosed(self) -> list[dict[str, int]]:
        """R37: what the whole report discloses, summed in the database: one ``{tech_school,
        student, records}`` per tech school and student. One query."""
        if not self._load_own():
            return []
        with connection.cursor() as cursor:
            with_, keys, params = self._keys()
            cursor.execute(
                f"{with_} SELECT k.tech_school, k.student_id, COUNT(*) FROM ({keys}) k "
                "GROUP BY k.tech_school, k.student_id ORDER BY k.tech_school, k.student_id",
                params,
            )
            return [
                {"tech_school": tech, "student": student_id, "records": n}
                for tech, student_id, n in cursor.fetchall()
            ]


def tech_attendance_report(
    *,
    school: School,
    start: dt.date,
    end: dt.date,
    student: int | None = None,
    status: str | None = None,
    excuse: str | None = None,
    with_names: bool = False,
) -> TechAttendanceReport:
    """R26: the real-time tech attendance report of ``school`` (see
    :class:`TechAttendanceReport`); nothing is read until it is counted, sliced or iterated."""
    return TechAttendanceReport(
        school=school,
        start=start,
        end=end,
        student=student,
        status=status,
        excuse=excuse,
        with_names=with_names,
    )


def unknown_worklist(*, school: School) -> QuerySet[Attendance]:
    """R27: the clerks' worklist - the school's records whose code's excuse is unknown and
    that no clerk has resolved yet, oldest first."""
    return (
        Attendance.objects.filter(
            section__course__calendar__school=school,
            code__excuse=Excuse.UNKNOWN,
            resolved_at__isnull=True,
        )
        .select_related("student", "section__course", "code")
        .order_by("date", "created_at", "id")
    )


def section_roster_on(*, section: Section, date: dt.date) -> QuerySet[Roster]:
    """The students rostered in ``section`` on ``date`` (R25), by name."""
    return (
        Roster.objects.filter(section=section, start_date__lte=date)
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=date))
        .select_related("student")
        .order_by("student__last_name", "student__first_name", "student_id")
    )
