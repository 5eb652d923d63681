"""Non-trivial reads of attendance: the real-time tech report (R26) and the worklist (R27)."""

import datetime as dt

from django.db.models import Q, QuerySet

from attendance.models import Attendance, AttendanceCode, Excuse
from schools.models import Enrollment, Roster, School, SchoolKind, Section, ServiceType, Student


def tech_attendance_report(
    *,
    school: School,
    start: dt.date,
    end: dt.date,
    student: int | None = None,
    status: str | None = None,
    excuse: str | None = None,
    with_names: bool = False,
) -> list[dict]:
    """R26: a HS's own students' attendance recorded at any tech school, as it stands now.

    "Own students" = a primary enrollment at ``school`` in the school year of the record.
    Five queries whatever the number of students or records. Rows: ``{student, state_id,
    tech_school, section, date, code, status, excuse}`` (ids for keys), plus readable labels
    (``tech_school_name``, ``section_label``, ``code_label``) and, for pages only, the
    student's name when ``with_names``. Ordered by date, then student name.
    """
    # The big query reads only narrow keys of the attendance rows; the labels come from
    # small lookups (students, tech sections, codes), joined here. This keeps a 1,500-student
    # school over a month (90,000 rows) far from sorting wide rows in the database.
    own = set(
        Enrollment.objects.filter(
            calendar__school=school,
            service_type=ServiceType.PRIMARY,
            calendar__start_date__lte=end,
            calendar__end_date__gte=start,
        ).values_list("student_id", "school_year")
    )
    if student:
        own = {(s, y) for s, y in own if s == student}
    if not own:
        return []
    years = sorted({y for _, y in own})
    sections = {
        pk: (year, school_id, school_name, f"{number_c}-{number_s} {course_name}")
        for pk, year, school_id, school_name, number_c, number_s, course_name in Section.objects.filter(
            course__calendar__school__kind=SchoolKind.TECHNICAL_SCHOOL,
            course__calendar__school_year__in=years,
        ).values_list(
            "pk",
            "course__calendar__school_year",
            "course__calendar__school_id",
            "course__calendar__school__name",
            "course__number",
            "number",
            "course__name",
        )
    }
    if not sections:
        return []
    code_qs = AttendanceCode.objects.filter(school__kind=SchoolKind.TECHNICAL_SCHOOL)
    if status:
        code_qs = code_qs.filter(status=status)
    if excuse:
        code_qs = code_qs.filter(excuse=excuse)
    codes = {
        pk: (label, st, ex)
        for pk, label, st, ex in code_qs.values_list("pk", "code", "status", "excuse")
    }
    if not codes:
        return []
    student_ids = sorted({s for s, _ in own})
    people = {
        pk: (state_id, last, first)
        for pk, state_id, last, first in Student.objects.filter(pk__in=student_ids).values_list(
            "pk", "state_id", "last_name", "first_name"
        )
    }
    records = Attendance.objects.filter(
        student_id__in=student_ids,
        date__gte=start,
        date__lte=end,
        section_id__in=list(sections),
    )
    if status or excuse:
        records = records.filter(code_id__in=list(codes))
    # No ORDER BY: the model's default ordering would join and sort by names in SQL.
    records = records.order_by()
    found = []
    for date, student_id, section_id, code_id in records.values_list(
        "date", "student_id", "section_id", "code_id"
    ):
        section = sections[section_id]
        if (student_id, section[0]) not in own or code_id not in codes:
            continue  # enrolled at this HS in another school year only
        person = people[student_id]
        found.append((date, person[1], person[2], student_id, section_id, code_id))
    found.sort()
    rows = []
    for date, last, first, student_id, section_id, code_id in found:
        _, tech_school, tech_school_name, section_label = sections[section_id]
        code_label, code_status, code_excuse = codes[code_id]
        row = {
            "student": student_id,
            "state_id": people[student_id][0],
            "tech_school": tech_school,
            "section": section_id,
            "date": date,
            "code": code_id,
            "status": code_status,
            "excuse": code_excuse,
            "tech_school_name": tech_school_name,
            "section_label": section_label,
            "code_label": code_label,
        }
        if with_names:
            row["student_name"] = f"{last}, {first}"
        rows.append(row)
    return rows


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


def section_roster_on(*, section: Section, date: dt.date) -> QuerySet:
    """The students rostered in ``section`` on ``date`` (R25), by name."""
    return (
        Roster.objects.filter(section=section, start_date__lte=date)
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=date))
        .select_related("student")
        .order_by("student__last_name", "student__first_name", "student_id")
    )
