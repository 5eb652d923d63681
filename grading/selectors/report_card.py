"""Report cards (R32): one student, or every student of a HS for a term.

Both read the same way, in a constant number of queries whatever the number of students
or sections: rosters, grades, sections (with the linked tech school's name), teachers,
course tasks and score rows, tiers, students.
"""

from collections import defaultdict
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import F, Q, QuerySet

from grading.models import CourseGradingTask, Grade, ScoreRow
from grading.selectors.gpa import term_standings
from schools.models import Enrollment, Roster, School, SchoolKind, Section, Student, Term


def check_report_term(*, term: Term, school: School | None = None) -> None:
    """R32/R31/R33: reports are per HS; refuse a tech term or a term of another school."""
    term_school = term.calendar.school
    if term_school.kind != SchoolKind.HIGH_SCHOOL:
        raise ValidationError(
            {
                "term": ValidationError(
                    "Choose a term of a high school; report cards and honor roll are the HS's.",
                    code="term_not_at_high_school",
                )
            }
        )
    if school is not None and term_school.pk != school.pk:
        raise ValidationError(
            {
                "term": ValidationError(
                    f"Choose a term of {school.name}; this term belongs to {term_school.name}.",
                    code="term_of_other_school",
                )
            }
        )


def check_student_in_term(*, student: Student, term: Term) -> None:
    """The student must be enrolled at the term's school in that school year."""
    if not Enrollment.objects.filter(student_id=student.pk, calendar_id=term.calendar_id).exists():
        raise ValidationError(
            {
                "term": ValidationError(
                    f"The student is not enrolled at {term.calendar.school.name} in "
                    f"{term.calendar.school_year}; choose a term of the student's own high school.",
                    code="student_not_enrolled",
                )
            }
        )


def _teachers(section_ids: list[int]) -> dict[int, list[tuple[int, str]]]:
    """(user id, display name) of each section's teachers, by name. Two queries."""
    through = Section.teachers.through
    user_model = get_user_model()
    pairs = list(
        through.objects.filter(section_id__in=section_ids).values_list("section_id", "user_id")
    )
    users = {
        u.pk: (u.get_full_name() or u.get_username())
        for u in user_model.objects.filter(pk__in={uid for _, uid in pairs})
    }
    out: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for sid, uid in pairs:
        out[sid].append((uid, users[uid]))
    return {sid: sorted(people, key=lambda p: p[1]) for sid, people in out.items()}


def _term_rosters(term: Term) -> QuerySet[Roster]:
    """The rosters of the term's school year that overlap the term."""
    return Roster.objects.filter(
        section__course__calendar_id=term.calendar_id, start_date__lte=term.end_date
    ).filter(Q(end_date__isnull=True) | Q(end_date__gte=term.start_date))


def _term_grades(term: Term) -> QuerySet[Grade]:
    return Grade.objects.filter(term_id=term.pk, section__course__calendar_id=term.calendar_id)


def report_card_student_ids(*, term: Term) -> list[int]:
    """R32: the students of ``report_cards(term=term)``, in the same order (by name), without
    building their cards: one query (a batch fixes its students and order with it)."""
    with_cards = Q(id__in=_term_rosters(term).values("student_id")) | Q(
        id__in=_term_grades(term).values("student_id")
    )
    return list(
        Student.objects.filter(with_cards)
        .order_by("last_name", "first_name", "id")
        .values_list("id", flat=True)
    )


def report_cards(*, term: Term, student_ids: Iterable[int] | None = None) -> list[dict]:
    """R32: the report cards of ``term`` for ``student_ids`` (default: every student with a
    roster or a grade in the term at its school), ordered by student name.

    Each card: ``{student, term, school, sections: [{section, course, teachers,
    tech_school, grades: [{grading_task, score, percent}]}], gpa, honor_roll}``
    (``teachers`` are user ids, ``teacher_names`` their names); ``gpa`` is
    a Decimal or None, ``honor_roll`` a tier name or None.
    """
    school = term.calendar.school
    ids = None if student_ids is None else list(student_ids)

    rosters = _term_rosters(term)
    grades = _term_grades(term)
    if ids is not None:
        rosters = rosters.filter(student_id__in=ids)
        grades = grades.filter(student_id__in=ids)

    sections_of: dict[int, set[int]] = defaultdict(set)
    for student_id, section_id in rosters.values_list("student_id", "section_id"):
        sections_of[student_id].add(section_id)
    grades_of: dict[tuple[int, int], list[dict]] = defaultdict(list)
    for g in grades.values(
        "student_id", "section_id", "grading_task_id", "grading_task__name", "score", "percent"
    ).order_by("grading_task__name"):
        sections_of[g["student_id"]].add(g["section_id"])
        grades_of[(g["student_id"], g["section_id"])].append(g)

    all_sections = set().union(*sections_of.values()) if sections_of else set()
    sections = {
        s["id"]: s
        for s in Section.objects.filter(id__in=all_sections)
        .annotate(tech_school=F("kts_link__tech_section__course__calendar__school__name"))
        .values("id", "number", "course_id", "course__number", "course__name", "tech_school")
    }
    teachers = _teachers(list(all_sections))
    standings = term_standings(term=term, student_ids=ids)
    wanted = sections_of.keys() if ids is None else ids
    students = Student.objects.filter(id__in=list(wanted)).order_by("last_name", "first_name", "id")
    grade_levels = dict(
        Enrollment.objects.filter(calendar_id=term.calendar_id, student_id__in=list(wanted))
        .order_by("service_type", "start_date")
        .values_list("student_id", "grade_level")
        .reverse()
    )
    scales, scales_of_course = _scales(course_ids={s["course_id"] for s in sections.values()})

    cards = []
    for student in students:
        rows = []
        for sid in sorted(
            sections_of.get(student.pk, ()),
            key=lambda i: (sections[i]["course__number"], sections[i]["number"]),
        ):
            s = sections[sid]
            rows.append(
                {
                    "section": sid,
                    "section_name": f"{s['course__number']}-{s['number']}",
                    "course": s["course_id"],
                    "course_number": s["course__number"],
                    "course_name": s["course__name"],
                    "teachers": [uid for uid, _ in teachers.get(sid, [])],
                    "teacher_names": [name for _, name in teachers.get(sid, [])],
                    "tech_school": s["tech_school"],
                    "grades": [
                        {
                            "grading_task": g["grading_task_id"],
                            "grading_task_name": g["grading_task__name"],
                            "score": g["score"],
                            "percent": g["percent"],
                        }
                        for g in grades_of.get((student.pk, sid), [])
                    ],
                }
            )
        standing = standings.get(student.pk)
        cards.append(
            {
                "student": student,
                "term": term,
                "school": school,
                "sections": rows,
                "gpa": standing.gpa if standing else None,
                "honor_roll": standing.tier if standing else None,
                "incomplete": bool(standing and standing.incomplete),
                "grade_level": grade_levels.get(student.pk, ""),
                "scales": [
                    scales[group_id]
                    for group_id in sorted(
                        {g for r in rows for g in scales_of_course.get(r["course"], ())}
                    )
                    if group_id in scales
                ],
            }
        )
    return cards


def _scales(*, course_ids: set[int]) -> tuple[dict[int, dict], dict[int, set[int]]]:
    """R32: the grading scale (rows, highest first) of every score group used by the
    courses' tasks, and the score groups of each course. Two queries."""
    scales_of_course: dict[int, set[int]] = {}
    names: dict[int, str] = {}
    for course_id, group_id, name in CourseGradingTask.objects.filter(
        course_id__in=course_ids
    ).values_list("course_id", "score_group_id", "score_group__name"):
        scales_of_course.setdefault(course_id, set()).add(group_id)
        names[group_id] = name
    out: dict[int, dict] = {gid: {"name": name, "rows": []} for gid, name in sorted(names.items())}
    for row in ScoreRow.objects.filter(group_id__in=list(names)).order_by(
        "group_id", "-min_percent"
    ):
        out[row.group_id]["rows"].append(row)
    return out, scales_of_course


def report_card(*, student: Student, term: Term) -> dict:
    """R32: one student's report card for ``term`` (refuses a term the student has no
    enrollment in, with code ``student_not_enrolled``)."""
    check_report_term(term=term)
    check_student_in_term(student=student, term=term)
    return report_cards(term=term, student_ids=[student.pk])[0]
