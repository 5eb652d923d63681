"""A small two-district world for the access tests (R36).

District D1 has high school HS1 (every role is held there by one user); district D2 has HS2
(the "away" school nobody in D1 may see); the KTS district has technical school TECH, whose
section T1 is linked to HS1's S1 and HS2's S2. Student A (HS1, rostered in S1 and T1) and
student B (HS2, rostered in S2 and T1) each have a grade and an attendance record at both
their HS and TECH. ``home[label]`` is a row of HS1/D1, ``away[label]`` one of HS2/D2.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

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
from schools.models import Enrollment, Roster, SchoolKind, StaffRole, Tombstone
from tests.factories import (
    YEAR,
    CalendarFactory,
    CourseFactory,
    DistrictFactory,
    EnrollmentFactory,
    RosterFactory,
    SchoolFactory,
    SectionFactory,
    StudentFactory,
    UserFactory,
    cte_task,
    quarters,
    semesters,
    setup_cte_tasks,
)

DAY = dt.date(2026, 9, 15)
ROLES = ["district_admin", "school_admin", "teacher", "attendance_clerk", "registrar"]


@dataclass
class World:
    users: dict = field(default_factory=dict)
    home: dict = field(default_factory=dict)
    away: dict = field(default_factory=dict)
    tech: dict = field(default_factory=dict)
    objs: dict = field(default_factory=dict)

    def __getattr__(self, name):
        try:
            return self.__dict__["objs"][name]
        except KeyError as exc:
            raise AttributeError(name) from exc


def _school_side(w: World, *, prefix: str, district, kind=SchoolKind.HIGH_SCHOOL, teacher=None):
    school = SchoolFactory(district=district, kind=kind, name=f"{prefix} school")
    calendar = CalendarFactory(school=school)
    terms = quarters(calendar) if kind == SchoolKind.HIGH_SCHOOL else semesters(calendar)
    course = CourseFactory(calendar=calendar, is_kts=True)
    section = SectionFactory(course=course, teachers=[teacher] if teacher else [])
    setup_cte_tasks(course, active_term=terms[0])
    code = AttendanceCode.objects.create(school=school, code="A", status="absent", excuse="unknown")
    return school, calendar, terms, course, section, code


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


def build_world() -> World:
    w = World()
    d1, d2 = DistrictFactory(name="D1"), DistrictFactory(name="D2")
    kts = DistrictFactory(name="KTS")
    teacher = UserFactory(username="teacher")
    other_teacher = UserFactory(username="other-teacher")
    hs1, cal1, q1, c1, s1, code1 = _school_side(w, prefix="HS1", district=d1, teacher=teacher)
    s1b = SectionFactory(course=c1, teachers=[other_teacher])  # a colleague's section
    hs2, cal2, q2, c2, s2, code2 = _school_side(w, prefix="HS2", district=d2)
    tech, calt, st, ct, t1, codet = _school_side(
        w, prefix="TECH", district=kts, kind=SchoolKind.TECHNICAL_SCHOOL
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
        user = UserFactory(username=role.replace("_", "-"))
        if role == "district_admin":
            StaffRole.objects.create(user=user, role=role, district=d1)
        else:
            StaffRole.objects.create(user=user, role=role, school=hs1)
        users[role] = user
    users["no_role"] = UserFactory(username="no-role")
    tech_admin = UserFactory(username="tech-admin")
    StaffRole.objects.create(user=tech_admin, role="school_admin", school=tech)
    hs2_admin = UserFactory(username="hs2-admin")
    away_role = StaffRole.objects.create(user=hs2_admin, role="school_admin", school=hs2)
    users["tech_admin"], users["hs2_admin"] = tech_admin, hs2_admin
    w.users = users

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

    w.home = per_school(hs1, cal1, q1, c1, s1, code1, g1, at1, a, link1)
    w.home.update(
        {
            "schools.District": d1,
            "schools.StaffRole": StaffRole.objects.get(user=teacher),
            "grading.ScoreGroup": grp1,
            "grading.GradingTask": task1,
            "grading.CreditType": cred1,
            "exchange.ExchangeRun": ExchangeRun.objects.create(as_of=DAY),
        }
    )
    w.away = per_school(hs2, cal2, q2, c2, s2, code2, g2, at2, b, link2)
    w.away.update(
        {
            "schools.District": d2,
            "schools.StaffRole": away_role,
            "grading.ScoreGroup": grp2,
            "grading.GradingTask": task2,
            "grading.CreditType": cred2,
        }
    )
    w.tech = {"grading.Grade": gta, "attendance.Attendance": ata, "schools.Section": t1}
    w.objs = {
        "d1": d1,
        "d2": d2,
        "hs1": hs1,
        "hs2": hs2,
        "tech_school": tech,
        "s1": s1,
        "s1b": s1b,
        "s2": s2,
        "t1": t1,
        "cal2": cal2,
        "student_a": a,
        "student_b": b,
        "only_tech": only_tech,
        "tech_grade_b": gtb,
        "tech_attendance_b": atb,
        "q1": q1,
    }
    return w
