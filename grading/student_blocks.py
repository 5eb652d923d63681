"""Grading's blocks on the student page (R52): grades by term, report cards, transcript -
each only for the roles of R42; HS staff reading tech grades is disclosure-logged (R37)."""

from __future__ import annotations

from collections import OrderedDict

from grading.models import Grade, TranscriptLine
from schools import access
from schools.models import Enrollment, SchoolKind, Term
from schools.student_page import Block, reads, register_block, register_home_panel

# R42: who reads what on the student page.
REPORT_ROLES = {access.REGISTRAR, access.SCHOOL_ADMIN, access.DISTRICT_ADMIN}
GRADE_ROLES = REPORT_ROLES | {access.TEACHER}


@register_block(30)
def grades_block(*, user, student) -> Block | None:
    """Grades by term: teachers their own sections, the registrar's roles every section of
    their school and the student's tech grades (logged); attendance clerks none."""
    if not reads(user, GRADE_ROLES):
        return None
    grades = list(
        access.scope_queryset(user, Grade.objects.filter(student=student))
        .select_related("term__calendar", "section__course__calendar__school", "grading_task")
        .order_by(
            "-term__calendar__school_year",
            "term__start_date",
            "section__course__number",
            "grading_task__name",
        )
        .distinct()
    )
    access.log_cross_school_reads(user, grades, resource="student-page-grades")
    by_term: OrderedDict[tuple, list] = OrderedDict()
    for g in grades:
        school = g.section.course.calendar.school
        key = (g.term.calendar.school_year, school.name, g.term.name)
        by_term.setdefault(key, []).append(
            {
                "grade": g,
                "tech": school.kind == SchoolKind.TECHNICAL_SCHOOL,
                "exchanged": g.source == "exchange",
            }
        )
    terms = [
        {"school_year": year, "school": school, "term": term, "rows": rows}
        for (year, school, term), rows in by_term.items()
    ]
    return Block("grades", "Grades by term", "grading/student_grades.html", {"terms": terms})


@register_block(40)
def report_cards_block(*, user, student) -> Block | None:
    """Report cards: the school's registrar, school admin, district admin, state admin."""
    school_ids = {
        e.calendar.school_id
        for e in Enrollment.objects.filter(
            student=student, calendar__school__kind=SchoolKind.HIGH_SCHOOL
        ).select_related("calendar")
    }
    allowed = school_ids & access.user_school_ids(user, REPORT_ROLES)
    if not allowed:
        return None
    terms = list(
        Term.objects.filter(calendar__school_id__in=allowed, calendar__enrollments__student=student)
        .select_related("calendar__school")
        .order_by("-calendar__school_year", "start_date")
        .distinct()
    )
    return Block(
        "report-cards",
        "Report cards",
        "grading/student_report_cards.html",
        {"terms": terms, "student": student},
    )


@register_block(50)
def transcript_block(*, user, student) -> Block | None:
    """Transcript lines: the registrar's roles (R36)."""
    if not reads(user, REPORT_ROLES):
        return None
    lines = list(
        access.scope_queryset(user, TranscriptLine.objects.filter(student=student))
        .select_related("school")
        .order_by("-school_year", "course_number")
    )
    if not lines and not (
        access.is_state_admin(user) or access.user_school_ids(user, REPORT_ROLES)
    ):
        return None
    return Block(
        "transcript",
        "Transcript",
        "grading/student_transcript.html",
        {"lines": lines, "student": student},
    )


# --- the registrar's home (issue 12) ------------------------------------------------------


def current_term(school_id: int, today) -> Term | None:
    """The term holding ``today`` at the school, else the latest term that has started."""
    terms = Term.objects.filter(calendar__school_id=school_id)
    return (
        terms.filter(start_date__lte=today, end_date__gte=today).first()
        or terms.filter(start_date__lte=today).order_by("-end_date").first()
    )


@register_home_panel(20)
def registrar_panel(*, user) -> Block | None:
    """For the registrar's roles at a HS (not the state admin's every school): transcript
    lines awaiting review (R34) and the current term's honor roll and eligibility links."""
    from django.utils import timezone

    from schools.models import School

    if access.is_state_admin(user):
        return None
    school_ids = access.user_school_ids(user, {access.REGISTRAR, access.SCHOOL_ADMIN})
    school_ids = set(
        School.objects.filter(pk__in=school_ids, kind="high_school").values_list("pk", flat=True)
    )
    if not school_ids:
        return None
    today = timezone.localdate()
    schools = []
    for school in School.objects.filter(pk__in=school_ids).order_by("name"):
        review = list(
            TranscriptLine.objects.filter(school=school, needs_review=True)
            .select_related("student")
            .order_by("school_year", "student__last_name", "course_number")[:10]
        )
        schools.append(
            {
                "school": school,
                "term": current_term(school.pk, today),
                "review": review,
                "review_count": TranscriptLine.objects.filter(
                    school=school, needs_review=True
                ).count(),
            }
        )
    return Block("registrar", "Registrar", "grading/home_registrar.html", {"schools": schools})
