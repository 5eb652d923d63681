"""Export one school as a OneRoster 1.2 CSV set (R51): rostering files plus the gradebook.

Rows keep the ``sourcedId`` they were imported with; rows entered by hand get a stable
``<kind>-<id>`` one. Importing an export into an empty database reproduces its rosters.
Gradebook: ``categories`` = grading tasks; ``lineItems`` = one per course grading task and
term of its term mask, in each class of the course (a OneRoster line item belongs to a
class); ``results`` = one per posted grade (``score`` = percent, ``textScore`` = score label),
the exchanged tech grades at a high school included — they are the HS's own grade rows.
A few set-based queries, whatever the size of the school.
"""

from __future__ import annotations

import datetime as dt

from exchange.models import SourcedUser
from exchange.oneroster.files import set_files, zip_bytes
from grading.models import CourseTaskTerm, Grade, GradingTask
from schools.models import Calendar, Enrollment, Roster, School, Section, StaffRole, Term


def _sid(obj_sid: str | None, kind: str, pk: int) -> str:
    return obj_sid or f"{kind}-{pk}"


def _d(value: dt.date | None) -> str:
    return value.isoformat() if value else ""


# One CSV row: column -> value.
CsvRow = dict[str, object]


def export_files(school: School) -> dict[str, list[CsvRow]]:
    district = school.district
    district_sid = _sid(district.sourced_id, "district", district.pk)
    school_sid = _sid(school.sourced_id, "school", school.pk)
    files: dict[str, list[CsvRow]] = {
        "orgs": [
            {
                "sourcedId": district_sid,
                "name": district.name,
                "type": "district",
                "identifier": district.code,
            },
            {
                "sourcedId": school_sid,
                "name": school.name,
                "type": "school",
                "identifier": school.code,
                "parentSourcedId": district_sid,
                "metadata.kts.schoolKind": school.kind,
            },
        ],
        "academicSessions": [],
        "courses": [],
        "classes": [],
        "users": [],
        "roles": [],
        "enrollments": [],
        "demographics": [],
        "categories": [],
        "lineItems": [],
        "results": [],
    }
    calendars = list(Calendar.objects.filter(school=school).order_by("school_year"))
    cal_sid = {c.pk: _sid(c.sourced_id, "calendar", c.pk) for c in calendars}
    terms = list(Term.objects.filter(calendar__school=school).order_by("calendar_id", "seq"))
    term_sid = {t.pk: _sid(t.sourced_id, "term", t.pk) for t in terms}
    terms_of: dict[int, list[str]] = {}
    for c in calendars:
        files["academicSessions"].append(
            {
                "sourcedId": cal_sid[c.pk],
                "title": c.name,
                "type": "schoolYear",
                "startDate": _d(c.start_date),
                "endDate": _d(c.end_date),
                "schoolYear": c.school_year,
            }
        )
    for t in terms:
        terms_of.setdefault(t.calendar_id, []).append(term_sid[t.pk])
        files["academicSessions"].append(
            {
                "sourcedId": term_sid[t.pk],
                "title": t.name,
                "type": "term",
                "startDate": _d(t.start_date),
                "endDate": _d(t.end_date),
                "parentSourcedId": cal_sid[t.calendar_id],
                "schoolYear": next(c.school_year for c in calendars if c.pk == t.calendar_id),
            }
        )
    sections = list(
        Section.objects.filter(course__calendar__school=school)
        .select_related("course")
        .order_by("course__calendar_id", "course__number", "number")
    )
    course_sid, seen_courses = {}, set()
    for s in sections:
        course = s.course
        course_sid[course.pk] = _sid(course.sourced_id, "course", course.pk)
        if course.pk not in seen_courses:
            seen_courses.add(course.pk)
            files["courses"].append(
                {
                    "sourcedId": course_sid[course.pk],
                    "schoolYearSourcedId": cal_sid[course.calendar_id],
                    "title": course.name,
                    "courseCode": course.number,
                    "orgSourcedId": school_sid,
                    "metadata.kts.isKts": "true" if course.is_kts else "false",
                    "metadata.kts.stateCode": course.state_code,
                }
            )
    section_sid = {s.pk: _sid(s.sourced_id, "class", s.pk) for s in sections}
    for s in sections:
        files["classes"].append(
            {
                "sourcedId": section_sid[s.pk],
                "title": f"{s.course.name} ({s.number})",
                "courseSourcedId": course_sid[s.course_id],
                "classCode": s.number,
                "classType": "scheduled",
                "schoolSourcedId": school_sid,
                "termSourcedIds": ",".join(terms_of.get(s.course.calendar_id, [])),
            }
        )
    # Students: those enrolled at the school; their roles are the enrollments.
    enrollments = list(
        Enrollment.objects.filter(calendar__school=school)
        .select_related("student")
        .order_by("student_id", "calendar_id")
    )
    student_sid: dict[int, str] = {}
    for e in enrollments:
        st = e.student
        if st.pk not in student_sid:
            student_sid[st.pk] = _sid(st.sourced_id, "student", st.pk)
            files["users"].append(
                {
                    "sourcedId": student_sid[st.pk],
                    "enabledUser": "true",
                    "username": "",
                    "givenName": st.first_name,
                    "familyName": st.last_name,
                    "identifier": st.state_id,
                    "grades": e.grade_level,
                }
            )
            if st.birth_date:
                files["demographics"].append(
                    {"sourcedId": student_sid[st.pk], "birthDate": _d(st.birth_date)}
                )
        files["roles"].append(
            {
                "sourcedId": _sid(e.sourced_id, "enrollment", e.pk),
                "userSourcedId": student_sid[st.pk],
                "roleType": "primary" if e.service_type == "primary" else "secondary",
                "role": "student",
                "beginDate": _d(e.start_date),
                "endDate": _d(e.end_date),
                "orgSourcedId": school_sid,
            }
        )
    # Staff: the school's teachers and admins.
    links = {
        u: sid
        for u, sid in SourcedUser.objects.filter(district=district).values_list(
            "user_id", "sourced_id"
        )
    }
    staff_roles = list(
        StaffRole.objects.filter(school=school, role__in=["teacher", "school_admin"])
        .select_related("user")
        .order_by("user_id", "role")
    )
    Through = Section.teachers.through
    teacher_links = list(
        Through.objects.filter(section__in=sections)
        .select_related("user")
        .order_by("section_id", "user_id")
    )
    staff_users = {r.user_id: r.user for r in staff_roles}
    staff_users.update({t.user_id: t.user for t in teacher_links})
    user_sid = {pk: links.get(pk) or f"user-{pk}" for pk in staff_users}
    for pk, user in sorted(staff_users.items()):
        files["users"].append(
            {
                "sourcedId": user_sid[pk],
                "enabledUser": "true" if user.is_active else "false",
                "username": user.username,
                "givenName": user.first_name,
                "familyName": user.last_name,
                "email": user.email,
            }
        )
    for role in staff_roles:
        files["roles"].append(
            {
                "sourcedId": f"staffrole-{role.pk}",
                "userSourcedId": user_sid[role.user_id],
                "roleType": "primary",
                "role": "teacher" if role.role == "teacher" else "administrator",
                "orgSourcedId": school_sid,
            }
        )
    rosters = Roster.objects.filter(section__in=sections).order_by("section_id", "student_id", "id")
    for roster in rosters:
        if roster.student_id not in student_sid:
            continue  # rostered without an enrollment at the school: not exportable
        files["enrollments"].append(
            {
                "sourcedId": _sid(roster.sourced_id, "roster", roster.pk),
                "classSourcedId": section_sid[roster.section_id],
                "schoolSourcedId": school_sid,
                "userSourcedId": student_sid[roster.student_id],
                "role": "student",
                "primary": "false",
                "beginDate": _d(roster.start_date),
                "endDate": _d(roster.end_date),
            }
        )
    for link in teacher_links:
        files["enrollments"].append(
            {
                "sourcedId": f"teacher-{link.section_id}-{link.user_id}",
                "classSourcedId": section_sid[link.section_id],
                "schoolSourcedId": school_sid,
                "userSourcedId": user_sid[link.user_id],
                "role": "teacher",
                "primary": "true",
            }
        )
    _gradebook(files, sections, section_sid, term_sid, student_sid)
    return files


def _line_item_sid(section_id: int, task_id: int, term_id: int) -> str:
    return f"lineitem-{section_id}-{task_id}-{term_id}"


def _gradebook(
    files: dict[str, list[CsvRow]],
    sections: list[Section],
    section_sid: dict[int, str],
    term_sid: dict[int, str],
    student_sid: dict[int, str],
) -> None:
    course_ids = {s.course_id for s in sections}
    mask = list(
        CourseTaskTerm.objects.filter(course_task__course_id__in=course_ids)
        .select_related("course_task", "term")
        .order_by("course_task__course_id", "course_task__grading_task_id", "term__seq")
    )
    grades = list(
        Grade.objects.filter(section__in=sections)
        .select_related("term")
        .order_by("section_id", "grading_task_id", "term_id", "student_id")
    )
    task_ids = {m.course_task.grading_task_id for m in mask} | {g.grading_task_id for g in grades}
    tasks = {t.pk: t for t in GradingTask.objects.filter(pk__in=task_ids)}
    for pk in sorted(tasks):
        files["categories"].append({"sourcedId": f"category-{pk}", "title": tasks[pk].name})
    by_course: dict[int, list[CourseTaskTerm]] = {}
    for m in mask:
        by_course.setdefault(m.course_task.course_id, []).append(m)
    items: dict[tuple[int, int, int], CsvRow] = {}

    def line_item(section_id: int, task_id: int, term: Term) -> None:
        key = (section_id, task_id, term.pk)
        if key not in items:
            items[key] = {
                "sourcedId": _line_item_sid(*key),
                "title": f"{tasks[task_id].name} {term.name}",
                "assignDate": _d(term.start_date),
                "dueDate": _d(term.end_date),
                "classSourcedId": section_sid[section_id],
                "categorySourcedId": f"category-{task_id}",
                "gradingPeriodSourcedId": term_sid.get(term.pk, f"term-{term.pk}"),
                "resultValueMin": "0.00",
                "resultValueMax": "100.00",
            }

    for s in sections:
        for m in by_course.get(s.course_id, []):
            line_item(s.pk, m.course_task.grading_task_id, m.term)
    for g in grades:
        line_item(g.section_id, g.grading_task_id, g.term)
        if g.student_id not in student_sid:
            continue
        files["results"].append(
            {
                "sourcedId": f"grade-{g.pk}",
                "lineItemSourcedId": _line_item_sid(g.section_id, g.grading_task_id, g.term_id),
                "studentSourcedId": student_sid[g.student_id],
                "scoreStatus": "fully graded",
                "score": "" if g.percent is None else f"{g.percent:.2f}",
                "textScore": g.score,
                "scoreDate": _d(g.modified_at.date()),
                "comment": g.comments,
            }
        )
    files["lineItems"] = list(items.values())


def export_zip(school: School) -> bytes:
    """R51: the school's OneRoster 1.2 CSV set as a zip (every file bulk)."""
    return zip_bytes(set_files(export_files(school)))
