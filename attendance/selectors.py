"""Non-trivial reads of attendance: the real-time tech report (R26) and the worklist (R27)."""

import datetime as dt

from django.db.models import CharField, Count, Exists, F, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Concat

from attendance.models import Attendance, Excuse
from schools.models import Enrollment, Roster, School, SchoolKind, Section, ServiceType


def _tech_records(
    *,
    school: School,
    start: dt.date,
    end: dt.date,
    student: int | None,
    status: str | None,
    excuse: str | None,
) -> QuerySet[Attendance]:
    """The tech attendance records of the R26 report (unordered)."""
    enrolled = Enrollment.objects.filter(
        calendar__school=school,
        service_type=ServiceType.PRIMARY,
        calendar__start_date__lte=end,
        calendar__end_date__gte=start,
    )
    if student:
        enrolled = enrolled.filter(student_id=student)
    records = Attendance.objects.filter(
        student_id__in=enrolled.values("student_id"),
        date__gte=start,
        date__lte=end,
        section__course__calendar__school__kind=SchoolKind.TECHNICAL_SCHOOL,
    ).filter(
        # enrolled at this HS in the school year of the record, not in another one only
        Exists(
            enrolled.filter(
                student_id=OuterRef("student_id"),
                school_year=OuterRef("section__course__calendar__school_year"),
            )
        )
    )
    if status:
        records = records.filter(code__status=status)
    if excuse:
        records = records.filter(code__excuse=excuse)
    return records


def tech_attendance_report(
    *,
    school: School,
    start: dt.date,
    end: dt.date,
    student: int | None = None,
    status: str | None = None,
    excuse: str | None = None,
    with_names: bool = False,
) -> QuerySet:
    """R26: a HS's own students' attendance recorded at any tech school, as it stands now.

    "Own students" = a primary enrollment at ``school`` in the school year of the record.
    A lazy queryset of row dicts ``{student, state_id, tech_school, section, date, code,
    status, excuse}`` (ids for keys) with readable labels (``tech_school_name``,
    ``section_label``, ``code_label``) and, for pages only, ``student_name`` when
    ``with_names``; ordered by date, student name, then student and section (a total
    order, so pages never overlap). One query per page or per pass, whatever the number of
    students, days or tech sections: callers paginate it (API, page) or iterate it in chunks
    (CSV).

    The plan starts from the HS's own enrollments and reads each student's rows through the
    (student, section, date) index, so it costs what the school has, not what the state has.
    """
    records = _tech_records(
        school=school, start=start, end=end, student=student, status=status, excuse=excuse
    )
    labels = {
        "state_id": F("student__state_id"),
        "tech_school": F("section__course__calendar__school_id"),
        "status": F("code__status"),
        "excuse": F("code__excuse"),
        "tech_school_name": F("section__course__calendar__school__name"),
        "section_label": Concat(
            "section__course__number",
            Value("-"),
            "section__number",
            Value(" "),
            "section__course__name",
            output_field=CharField(),
        ),
        "code_label": F("code__code"),
    }
    if with_names:
        labels["student_name"] = Concat(
            "student__last_name", Value(", "), "student__first_name", output_field=CharField()
        )
    return records.values("student", "section", "date", "code", **labels).order_by(
        "date", "student__last_name", "student__first_name", "student_id", "section_id"
    )


def tech_attendance_disclosed(
    *,
    school: School,
    start: dt.date,
    end: dt.date,
    student: int | None = None,
    status: str | None = None,
    excuse: str | None = None,
) -> list[dict]:
    """R37: what a whole :func:`tech_attendance_report` discloses, summed in the database:
    one ``{tech_school, student, records}`` per tech school and student. One query."""
    return list(
        _tech_records(
            school=school, start=start, end=end, student=student, status=status, excuse=excuse
        )
        .values("student", tech_school=F("section__course__calendar__school_id"))
        .annotate(records=Count("id"))
        .order_by("tech_school", "student")
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


def section_roster_on(*, section: Section, date: dt.date) -> QuerySet:
    """The students rostered in ``section`` on ``date`` (R25), by name."""
    return (
        Roster.objects.filter(section=section, start_date__lte=date)
        .filter(Q(end_date__isnull=True) | Q(end_date__gte=date))
        .select_related("student")
        .order_by("student__last_name", "student__first_name", "student_id")
    )
