"""The access tests' two-district world (R36), built from the one test world's parts.

District D1 has high school HS1 (every role is held there by one user); district D2 has HS2
(the "away" school nobody in D1 may see); the KTS district has technical school TECH, whose
section T1 is linked to HS1's S1 and HS2's S2. Student A (HS1, rostered in S1 and T1) and
student B (HS2, rostered in S2 and T1) each have a grade and an attendance record at both
their HS and TECH. ``home[label]`` is a row of HS1/D1, ``away[label]`` one of HS2/D2.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Model

from attendance.models import Attendance, AttendanceCode
from exchange.models import ExchangeRun, KtsLink
from grading.models import (
    CTE_TERM,
    CreditType,
    Grade,
    GradingTask,
    GradingWindow,
    HonorRollTier,
    ScoreGroup,
    ScoreRow,
    TranscriptLine,
)
from schools.models import (
    Calendar,
    District,
    Enrollment,
    Roster,
    School,
    SchoolKind,
    Section,
    StaffRole,
    Student,
    Term,
    Tombstone,
)
from tests.factories import (
    YEAR,
    DistrictFactory,
    EnrollmentFactory,
    RosterFactory,
    SchoolFactory,
    SectionFactory,
    StudentFactory,
    UserFactory,
    cte_task,
)
from tests.world import kts_course, school_year, user_with_role

DAY = dt.date(2026, 9, 15)
ROLES = ["district_admin", "school_admin", "teacher", "attendance_clerk", "registrar"]


Rows = dict[str, Model]  # a model label ("schools.Section") -> one row of that model


@dataclass
class AccessWorld:
    users: dict[str, Any]  # role name (and "superuser", "no_role", ...) -> user
    home: Rows  # rows of HS1 / D1
    away: Rows  # rows of HS2 / D2
    tech: Rows  # TECH's grade, attendance and section of student A
    d1: District
    d2: District
    hs1: School
    hs2: School
    tech_school: School
    s1: Section
    s1b: Section  # a colleague's section at HS1
    s2: Section
    t1: Section
    cal2: Calendar
    student_a: Student
    student_b: Student
    only_tech: Student
    tech_grade_b: Grade
    tech_attendance_b: Attendance
    q1: list[Term] = field(default_factory=list)  # HS1's quarters


def _school_side(*, prefix: str, district, kind=SchoolKind.HIGH_SCHOOL, teacher=None):
    school = SchoolFactory(district=district, kind=kind, name=f"{prefix} school")
    year = school_year(school)
    kts = kts_course(year, teachers=[teacher] if teacher else [])
    code = AttendanceCode.objects.create(school=school, code="A", status="absent", excuse="unknown")
    return school, year.calendar, year.terms, kts.course, kts.section, code


def _records(student, section, term, code, percent="91.00"):
    grade = Grade.objects.create(
        student=student,
        section=section,
        grading_task=cte_task(CTE_TERM),
        term=term,
        percent=Decimal(percent),
        score="A",
    )
    attendance = Attendance.objects.create(student=student, section=section, date=DAY, code=code)
    return grade, attendance


def _district_rows(district, name):
    group = ScoreGroup.objects.create(name=f"{name} letters", district=district)
    ScoreRow.objects.create(group=group, score="P", min_percent=Decimal("0"))
    task = GradingTask.objects.create(
        name=f"{name} semester", code=f"{name}_SEM", district=district
    )
    credit = CreditType.objects.create(name=f"{name} elective", district=district)
    return group, task, credit


def build_access_world() -> AccessWorld:
    d1, d2 = DistrictFactory(name="D1"), DistrictFactory(name="D2")
    kts = DistrictFactory(name="KTS")
    teacher = UserFactory(username="teacher")
    other_teacher = UserFactory(username="other-teacher")
    hs1, cal1, q1, c1, s1, code1 = _school_side(prefix="HS1", district=d1, teacher=teacher)
    s1b = SectionFactory(course=c1, teachers=[other_teacher])  # a colleague's section
    hs2, cal2, q2, c2, s2, code2 = _school_side(prefix="HS2", district=d2)
    tech, calt, st, ct, t1, codet = _school_side(
        prefix="TECH", district=kts, kind=SchoolKind.TECHNICAL_SCHOOL
    )
    a, b = StudentFactory(first_name="Annabelle", last_name="Zzyzx"), StudentFactory()
    only_tech = StudentFactory()
    for student, cal, section in ((a, cal1, s1), (b, cal2, s2)):
        EnrollmentFactory(student=student, calendar=cal, service_type="primary")
        EnrollmentFactory(student=student, calendar=calt, service_type="secondary")
        RosterFactory(student=student, section=section)
        RosterFactory(student=student, section=t1)
    EnrollmentFactory(student=only_tech, calendar=calt, service_type="secondary")
    link1 = KtsLink.objects.create(hs_section=s1, tech_section=t1)
    link2 = KtsLink.objects.create(hs_section=s2, tech_section=t1)
    g1, at1 = _records(a, s1, q1[0], code1)
    g2, at2 = _records(b, s2, q2[0], code2)
    gta, ata = _records(a, t1, st[0], codet)
    gtb, atb = _records(b, t1, st[0], codet)
    grp1, task1, cred1 = _district_rows(d1, "D1")
    grp2, task2, cred2 = _district_rows(d2, "D2")

    users = {"superuser": UserFactory(username="state", is_superuser=True, is_staff=True)}
    users["teacher"] = teacher
    StaffRole.objects.create(user=teacher, role="teacher", school=hs1)
    StaffRole.objects.create(user=other_teacher, role="teacher", school=hs1)
    for role in ROLES:
        if role == "teacher":
            continue
        where = {"district": d1} if role == "district_admin" else {"school": hs1}
        users[role] = user_with_role(role, username=role.replace("_", "-"), **where)
    users["no_role"] = UserFactory(username="no-role")
    tech_admin = user_with_role("school_admin", school=tech, username="tech-admin")
    hs2_admin = UserFactory(username="hs2-admin")
    away_role = StaffRole.objects.create(user=hs2_admin, role="school_admin", school=hs2)
    users["tech_admin"], users["hs2_admin"] = tech_admin, hs2_admin

    def per_school(school, cal, terms, course, section, code, grade, attendance, student, link):
        return {
            "schools.School": school,
            "schools.Calendar": cal,
            "schools.Term": terms[0],
            "schools.Course": course,
            "schools.Section": section,
            "schools.Student": student,
            "schools.Enrollment": Enrollment.objects.get(student=student, calendar=cal),
            "schools.Roster": Roster.objects.get(student=student, section=section),
            "grading.CourseGradingTask": course.course_tasks.first(),
            "grading.GradingWindow": GradingWindow.objects.create(
                school=school,
                term=terms[1],
                opens_on=terms[1].end_date,
                closes_on=terms[1].end_date,
            ),
            "grading.Grade": grade,
            "grading.HonorRollTier": HonorRollTier.objects.create(
                school=school, name="Honors", min_gpa=Decimal("3.50")
            ),
            "grading.TranscriptLine": TranscriptLine.objects.create(
                student=student,
                school=school,
                school_year=YEAR,
                course_number=course.number,
                course_name=course.name,
            ),
            "attendance.AttendanceCode": code,
            "attendance.Attendance": attendance,
            "exchange.KtsLink": link,
            "schools.Tombstone": Tombstone.objects.create(
                model="schools.Roster", object_id=999999, school=school
            ),
        }

    home = per_school(hs1, cal1, q1, c1, s1, code1, g1, at1, a, link1)
    home.update(
        {
            "schools.District": d1,
            "schools.StaffRole": StaffRole.objects.get(user=teacher),
            "grading.ScoreGroup": grp1,
            "grading.GradingTask": task1,
            "grading.CreditType": cred1,
            "exchange.ExchangeRun": ExchangeRun.objects.create(as_of=DAY),
        }
    )
    away = per_school(hs2, cal2, q2, c2, s2, code2, g2, at2, b, link2)
    away.update(
        {
            "schools.District": d2,
            "schools.StaffRole": away_role,
            "grading.ScoreGroup": grp2,
            "grading.GradingTask": task2,
            "grading.CreditType": cred2,
        }
    )
    return AccessWorld(
        users=users,
        home=home,
        away=away,
        tech={"grading.Grade": gta, "attendance.Attendance": ata, "schools.Section": t1},
        d1=d1,
        d2=d2,
        hs1=hs1,
        hs2=hs2,
        tech_school=tech,
        s1=s1,
        s1b=s1b,
        s2=s2,
        t1=t1,
        cal2=cal2,
        student_a=a,
        student_b=b,
        only_tech=only_tech,
        tech_grade_b=gtb,
        tech_attendance_b=atb,
        q1=q1,
    )
