"""Non-trivial reads of attendance: the real-time tech report (R26) and the worklist (R27)."""

import datetime as dt

from django.db.models import F, Q, QuerySet

from attendance.models import Attendance, Excuse
from schools.models import Enrollment, Roster, School, SchoolKind, Section, ServiceType


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
    Two queries whatever the number of students. Rows: ``{student, state_id, tech_school,
    section, date, code, status, excuse}`` (ids for keys), plus readable labels
    (``tech_school_name``, ``section_label``, ``code_label``) and, for pages only, the
    student's name when ``with_names``.
    """
    # Two steps keep the plan index-bound whatever the statistics say: the HS's students
    # (per school year), then their records at technical schools by student.
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
    qs = Attendance.objects.filter(
        student_id__in=sorted({s for s, _ in own}),
        date__gte=start,
        date__lte=end,
        section__course__calendar__school__kind=SchoolKind.TECHNICAL_SCHOOL,
        section__course__calendar__school_year__in=sorted({y for _, y in own}),
    ).order_by("date", "student__last_name", "student__first_name", "student_id", "section_id")
    if status:
        qs = qs.filter(code__status=status)
    if excuse:
        qs = qs.filter(code__excuse=excuse)
    fields = {
        "student_id": F("student_id"),
        "state_id": F("student__state_id"),
        "tech_school": F("section__course__calendar__school_id"),
        "tech_school_name": F("section__course__calendar__school__name"),
        "section_id": F("section_id"),
        "course_number": F("section__course__number"),
        "section_number": F("section__number"),
        "course_name": F("section__course__name"),
        "code_id": F("code_id"),
        "code_label": F("code__code"),
        "status": F("code__status"),
        "excuse": F("code__excuse"),
    }
    if with_names:
        fields["first_name"] = F("student__first_name")
        fields["last_name"] = F("student__last_name")
    fields["school_year"] = F("section__course__calendar__school_year")
    rows = []
    for r in qs.values("id", "date", **{f"r_{k}": v for k, v in fields.items()}):
        if (r["r_student_id"], r["r_school_year"]) not in own:
            continue  # enrolled at this HS in another school year only
        row = {
            "student": r["r_student_id"],
            "state_id": r["r_state_id"],
            "tech_school": r["r_tech_school"],
            "section": r["r_section_id"],
            "date": r["date"],
            "code": r["r_code_id"],
            "status": r["r_status"],
            "excuse": r["r_excuse"],
            "tech_school_name": r["r_tech_school_name"],
            "section_label": f"{r['r_course_number']}-{r['r_section_number']} {r['r_course_name']}",
            "code_label": r["r_code_label"],
        }
        if with_names:
            row["student_name"] = f"{r['r_last_name']}, {r['r_first_name']}"
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
