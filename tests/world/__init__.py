"""The one test world: a high school and a technical school, each with its school year and a
KTS course set up as ``grading/shape.py`` says, their sections linked (R12), and students
added on demand. Built from ``tests/factories.py``.

Small builders, each on top of the ones before it, so a test asks only for what it needs:

    school_year(school)              -> SchoolYear   calendar + quarters (HS) or semesters (tech)
    kts_course(year, ...)            -> KtsCourse    a KTS course, its CTE tasks, one section
    letter_course(year, ...)         -> LetterCourse a district letter group, task and section
    linked(hs, hs_kts, tech, ...)    -> KtsWorld     the two KTS sections linked (R12)
    build_kts_world(...)             -> KtsWorld     all of it from scratch; optional teacher,
                                                     attendance codes, students
    attendance_world(...)            -> KtsWorld     the unknown-attendance shape (R26, R27)
    reports_world(...)               -> ReportsWorld KtsWorld + a letter course + honor tiers
    tech_class / letter_class        -> a teacher's section and students (grade posting)
    user_with_role(role, ...)        -> User         a user holding one staff role (R36)

``tests/world/fixtures.py`` wraps them as pytest fixtures (``district``, ``high_school``,
``tech_school``, ``hs_year``, ``tech_year``, ``hs_kts``, ``tech_kts``, ``kts_world``,
``user_with_role``); ``tests/world/access.py`` builds the two-district access world from them.
"""

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from attendance.models import AttendanceCode
from attendance.services.codes import attendance_codes_ensure_defaults
from exchange.models import KtsLink
from grading.models import (
    CTE_FINAL,
    CTE_TERM,
    CourseGradingTask,
    CourseTaskTerm,
    Grade,
    GradingTask,
    HonorRollTier,
    ScoreGroup,
    ScoreRow,
)
from grading.services.grades import grades_changed
from schools.models import (
    Calendar,
    Course,
    District,
    School,
    SchoolKind,
    Section,
    StaffRole,
    Student,
    Term,
)
from tests.factories import (
    CalendarFactory,
    CourseFactory,
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

AS_OF = dt.date(2026, 9, 15)  # a night in Q1/S1
MONDAY = dt.date(2026, 11, 16)
TUESDAY = dt.date(2026, 11, 17)
BEFORE_TERMS = dt.date(2026, 8, 3)  # before the calendars start: no term holds it
LETTERS = (  # score, minimum percent, passing, GPA value
    ("A", 90, True, 4),
    ("B", 80, True, 3),
    ("C", 70, True, 2),
    ("D", 60, True, 1),
    ("F", 0, False, 0),
)
HONOR_TIERS = (("High Honors", "3.80", None), ("Honor Roll", "3.50", None))


# --- parts ----------------------------------------------------------------------------------


@dataclass
class SchoolYear:
    """A school's 2026-27 calendar and its terms (quarters at a HS, semesters at a tech)."""

    school: School
    calendar: Calendar
    terms: list[Term]


@dataclass
class KtsCourse:
    """A KTS course on a school year, its CTE course tasks (empty: not set up), one section."""

    course: Course
    tasks: dict[str, CourseGradingTask]
    section: Section


@dataclass
class LetterCourse:
    """A non-KTS course on a district letter group A-F and a district task, one section."""

    group: ScoreGroup
    task: GradingTask
    course: Course
    course_task: CourseGradingTask
    section: Section


def school_year(school: School) -> SchoolYear:
    calendar = CalendarFactory(school=school)
    terms = (
        semesters(calendar) if school.kind == SchoolKind.TECHNICAL_SCHOOL else quarters(calendar)
    )
    return SchoolYear(school=school, calendar=calendar, terms=terms)


def kts_course(
    year: SchoolYear,
    *,
    cte: bool = True,
    active_term: Term | None | bool = True,
    final_active: bool = False,
    teachers: Sequence[AbstractBaseUser] = (),
    section_number: str | None = None,
    **course_fields: Any,
) -> KtsCourse:
    """A KTS course set up as the seed says (``active_term`` True: the first term active;
    ``final_active``: CTE Final Grade active in the last term), and one section taught by
    ``teachers``."""
    course = CourseFactory(calendar=year.calendar, is_kts=True, **course_fields)
    tasks = (
        setup_cte_tasks(
            course,
            active_term=year.terms[0] if active_term is True else active_term or None,
            final_active_term=year.terms[-1] if final_active else None,
        )
        if cte
        else {}
    )
    number = {} if section_number is None else {"number": section_number}
    section = SectionFactory(course=course, teachers=list(teachers), **number)
    return KtsCourse(course=course, tasks=tasks, section=section)


def letter_course(
    year: SchoolYear,
    *,
    group_name: str = "District Letter",
    task_name: str = "Term Grade",
    task_code: str = "",
    number: str = "ENG1",
    name: str = "English I",
    term_gpa_weight: Decimal | None = None,
    teachers: Sequence[AbstractBaseUser] = (),
    section_number: str | None = None,
) -> LetterCourse:
    """A district letter group (A-F), a district task active in the first term, a course on
    them and one section."""
    district = year.school.district
    group = ScoreGroup.objects.create(name=group_name, district=district)
    ScoreRow.objects.bulk_create(
        ScoreRow(
            group=group,
            score=score,
            min_percent=Decimal(minimum),
            passing=passing,
            gpa_value=Decimal(gpa),
        )
        for score, minimum, passing, gpa in LETTERS
    )
    task = GradingTask.objects.create(name=task_name, code=task_code, district=district)
    course = CourseFactory(calendar=year.calendar, number=number, name=name)
    course_task = CourseGradingTask.objects.create(
        course=course, grading_task=task, score_group=group, term_gpa_weight=term_gpa_weight
    )
    CourseTaskTerm.objects.bulk_create(
        CourseTaskTerm(course_task=course_task, term=t, active=t.pk == year.terms[0].pk)
        for t in year.terms
    )
    section_fields = {} if section_number is None else {"number": section_number}
    section = SectionFactory(course=course, teachers=list(teachers), **section_fields)
    return LetterCourse(
        group=group, task=task, course=course, course_task=course_task, section=section
    )


def user_with_role(
    role: str,
    *,
    school: School | None = None,
    district: District | None = None,
    **user_fields: Any,
) -> Any:
    """A user holding one staff role at a school or a district (R36)."""
    user = UserFactory(**user_fields)
    StaffRole.objects.create(user=user, role=role, school=school, district=district)
    return user


def enroll_and_roster(
    section: Section, *, count: int, service_type: str = "primary", **roster_fields: Any
) -> list[Student]:
    """``count`` new students enrolled in the section's calendar and rostered in it."""
    students = StudentFactory.create_batch(count)
    calendar = section.course.calendar
    for student in students:
        EnrollmentFactory(student=student, calendar=calendar, service_type=service_type)
        RosterFactory(student=student, section=section, **roster_fields)
    return students


@dataclass
class TechClass:
    """A teacher's KTS section at a tech school (CTE Term Grade active in S1, CTE Final Grade
    active in S2) with its students: the grade-posting world (R13-R19)."""

    school: School
    calendar: Calendar
    terms: list[Term]
    course: Course
    course_tasks: dict[str, CourseGradingTask]
    section: Section
    teacher: Any
    students: list[Student]

    @property
    def s1(self) -> Term:
        return self.terms[0]

    @property
    def s2(self) -> Term:
        return self.terms[1]

    @property
    def term_task(self) -> GradingTask:
        return self.course_tasks[CTE_TERM].grading_task

    @property
    def final_task(self) -> GradingTask:
        return self.course_tasks[CTE_FINAL].grading_task


def tech_class(teacher: Any, *, students: int = 3) -> TechClass:
    school = SchoolFactory(kind=SchoolKind.TECHNICAL_SCHOOL, name="Central ATC")
    year = school_year(school)
    kts = kts_course(year, final_active=True, teachers=[teacher], number="T100", name="Welding I")
    StaffRole.objects.create(user=teacher, role="teacher", school=school)
    return TechClass(
        school=school,
        calendar=year.calendar,
        terms=year.terms,
        course=kts.course,
        course_tasks=kts.tasks,
        section=kts.section,
        teacher=teacher,
        students=enroll_and_roster(kts.section, count=students, service_type="secondary"),
    )


@dataclass
class LetterClass:
    """A teacher's HS section on a district letter group (task active in Q1), its students."""

    school: School
    q: list[Term]
    course: Course
    section: Section
    task: GradingTask
    group: ScoreGroup
    teacher: Any
    students: list[Student]

    @property
    def q1(self) -> Term:
        return self.q[0]


def letter_class(teacher: Any, *, students: int = 2) -> LetterClass:
    school = SchoolFactory(kind=SchoolKind.HIGH_SCHOOL, name="North High")
    year = school_year(school)
    letters = letter_course(
        year,
        group_name="Letters",
        task_name="Quarter Grade",
        number="E101",
        teachers=[teacher],
    )
    StaffRole.objects.create(user=teacher, role="teacher", school=school)
    return LetterClass(
        school=school,
        q=year.terms,
        course=letters.course,
        section=letters.section,
        task=letters.task,
        group=letters.group,
        teacher=teacher,
        students=enroll_and_roster(letters.section, count=students),
    )


# --- the world ------------------------------------------------------------------------------


@dataclass
class KtsWorld:
    """A HS (quarters) and a tech school (semesters), a KTS section at each, linked."""

    hs_school: School
    hs_calendar: Calendar
    hs_terms: list[Term]
    hs_course: Course
    hs_tasks: dict[str, CourseGradingTask]
    hs_section: Section
    tech_school: School
    tech_calendar: Calendar
    tech_terms: list[Term]
    tech_course: Course
    tech_tasks: dict[str, CourseGradingTask]
    tech_section: Section
    link: KtsLink
    teacher: Any = None  # the tech section's teacher (a user), when asked for
    at_tech: bool = False  # new students are enrolled and rostered at the tech school too
    students: list[Student] = field(default_factory=list)

    @property
    def district(self) -> District:
        return self.hs_school.district

    @property
    def q1(self) -> Term:
        return self.hs_terms[0]

    @property
    def q4(self) -> Term:
        return self.hs_terms[-1]

    def home_sections(self) -> list[Section]:
        return [self.hs_section]

    def add_student(
        self,
        *,
        hs_roster: bool = True,
        tech_roster: bool | None = None,
        sections: Sequence[Section] | None = None,
        **student_fields: Any,
    ) -> Student:
        """A student enrolled at the HS (primary) and rostered in the HS KTS section (or in
        ``sections``); with ``at_tech`` also enrolled (secondary) and rostered at the tech
        school unless ``tech_roster`` is False."""
        student = StudentFactory(**student_fields)
        EnrollmentFactory(student=student, calendar=self.hs_calendar, service_type="primary")
        at_tech = self.at_tech if tech_roster is None else tech_roster
        if self.at_tech:
            EnrollmentFactory(
                student=student, calendar=self.tech_calendar, service_type="secondary"
            )
        for section in sections if sections is not None else self.home_sections():
            if hs_roster:
                RosterFactory(student=student, section=section)
        if at_tech:
            RosterFactory(student=student, section=self.tech_section)
        self.students.append(student)
        return student

    def add_students(self, n: int) -> list[Student]:
        return [self.add_student() for _ in range(n)]

    def code(self, school: School, code: str) -> AttendanceCode:
        return AttendanceCode.objects.get(school=school, code=code)

    def activate(self, course_task: CourseGradingTask, term: Term | None) -> None:
        """Make ``term`` the only active term of ``course_task`` (None: no active term)."""
        CourseTaskTerm.objects.filter(course_task=course_task).update(active=False)
        if term is not None:
            CourseTaskTerm.objects.filter(course_task=course_task, term=term).update(active=True)

    def post_tech_grade(
        self, student: Student, percent: str, *, term: Term | None = None, code: str = CTE_TERM
    ) -> Grade:
        """A tech teacher's grade (straight into the table: the grading work owns posting;
        the exchange only reads it)."""
        grade, _ = Grade.objects.update_or_create(
            student=student,
            section=self.tech_section,
            grading_task=cte_task(code),
            term=term or self.tech_terms[0],
            defaults={"percent": Decimal(percent), "score": ""},
        )
        return grade

    def hs_grades(self, code: str = CTE_TERM) -> Any:
        return Grade.objects.filter(section=self.hs_section, grading_task=cte_task(code))


def linked(
    hs: SchoolYear,
    hs_kts: KtsCourse,
    tech: SchoolYear,
    tech_kts: KtsCourse,
    *,
    teacher: Any = None,
    at_tech: bool = False,
) -> KtsWorld:
    """The two sides' KTS sections linked (R12): the world."""
    return KtsWorld(
        hs_school=hs.school,
        hs_calendar=hs.calendar,
        hs_terms=hs.terms,
        hs_course=hs_kts.course,
        hs_tasks=hs_kts.tasks,
        hs_section=hs_kts.section,
        tech_school=tech.school,
        tech_calendar=tech.calendar,
        tech_terms=tech.terms,
        tech_course=tech_kts.course,
        tech_tasks=tech_kts.tasks,
        tech_section=tech_kts.section,
        link=KtsLink.objects.create(hs_section=hs_kts.section, tech_section=tech_kts.section),
        teacher=teacher,
        at_tech=at_tech,
    )


def build_kts_world(
    *,
    hs_school: School | None = None,
    tech_school: School | None = None,
    tech_section: Section | None = None,
    same_district: bool = False,
    hs_fields: Mapping[str, Any] = {},
    tech_fields: Mapping[str, Any] = {},
    hs_course_fields: Mapping[str, Any] = {},
    tech_course_fields: Mapping[str, Any] = {},
    section_number: str | None = None,
    cte: bool = True,
    tech_active: bool = True,
    teacher: bool = False,
    codes: bool = False,
    at_tech: bool = False,
    students: int = 0,
) -> KtsWorld:
    """The HS side and the tech side linked. ``tech_section`` links a new HS to an existing
    tech section; ``teacher`` gives the tech section a teacher (with the R41 staff role);
    ``codes`` the default attendance codes at both schools; ``cte=False`` leaves the courses'
    tasks unset; ``tech_active=False`` leaves no tech term active."""
    hs_school = hs_school or SchoolFactory(kind=SchoolKind.HIGH_SCHOOL, **hs_fields)
    hs = school_year(hs_school)
    if tech_section is None:
        district = {"district": hs_school.district} if same_district else {}
        tech_school = tech_school or SchoolFactory(
            kind=SchoolKind.TECHNICAL_SCHOOL, **district, **tech_fields
        )
        tech = school_year(tech_school)
        tech_teacher = UserFactory() if teacher else None
        if tech_teacher is not None:
            StaffRole.objects.create(user=tech_teacher, role="teacher", school=tech_school)
        tech_kts = kts_course(
            tech,
            cte=cte,
            active_term=tech_active,
            teachers=[tech_teacher] if tech_teacher else [],
            section_number=section_number,
            **tech_course_fields,
        )
    else:
        tech_teacher = tech_section.teachers.first()
        calendar = tech_section.course.calendar
        tech = SchoolYear(
            school=calendar.school, calendar=calendar, terms=list(calendar.terms.order_by("seq"))
        )
        tech_kts = KtsCourse(
            course=tech_section.course,
            tasks={t.grading_task.code: t for t in tech_section.course.course_tasks.all()},
            section=tech_section,
        )
    hs_kts = kts_course(hs, cte=cte, section_number=section_number, **hs_course_fields)
    if codes:
        attendance_codes_ensure_defaults(schools=[hs.school, tech.school])
    world = linked(hs, hs_kts, tech, tech_kts, teacher=tech_teacher, at_tech=at_tech)
    world.add_students(students)
    return world


def attendance_world(students: int = 3, *, sync: bool = True) -> KtsWorld:
    """The unknown-attendance shape (R26, R27): the HS syncing (``sync``), the tech section
    taught, the default codes at both schools, students enrolled and rostered at both."""
    return build_kts_world(
        hs_fields={"unknown_attendance_sync": sync},
        tech_fields={"name": "Area Tech Center"},
        cte=False,
        teacher=True,
        codes=True,
        at_tech=True,
        students=students,
    )


# --- the reports world ----------------------------------------------------------------------


@dataclass
class ReportsWorld(KtsWorld):
    """KtsWorld (in one district; KTS course CTE1 on CTE Numeric, weight 1) plus an English
    course on the district letter group (weight 2) taught by ``teacher``, and honor
    roll tiers at the HS: the GPA, honor roll, report card, eligibility and transcript world
    (R30-R35). New students are rostered in English and the KTS section."""

    letter_group: ScoreGroup = None  # type: ignore[assignment]
    term_grade: GradingTask = None  # type: ignore[assignment]  # the district's "Term Grade"
    english: Section = None  # type: ignore[assignment]

    def home_sections(self) -> list[Section]:
        return [self.english, self.hs_section]

    def letter(
        self,
        student: Student,
        score: str,
        *,
        term: Term | None = None,
        section: Section | None = None,
    ) -> Grade:
        """A teacher's letter grade on the English Term Grade (no percent), the HS's grades
        version bumped as every grade writer does (the cached reports)."""
        grade = Grade.objects.create(
            student=student,
            section=section or self.english,
            grading_task=self.term_grade,
            term=term or self.q1,
            score=score,
        )
        grades_changed(section_ids=[grade.section_id])
        return grade

    def exchanged(
        self,
        student: Student,
        percent: str,
        score: str,
        *,
        code: str = CTE_TERM,
        term: Term | None = None,
    ) -> Grade:
        """An exchanged tech grade as the exchange writes it: an HS grade, source exchange,
        and the HS's grades version bumped."""
        grade = Grade.objects.create(
            student=student,
            section=self.hs_section,
            grading_task=cte_task(code),
            term=term or self.q1,
            percent=Decimal(percent),
            score=score,
            source="exchange",
        )
        grades_changed(section_ids=[grade.section_id])
        return grade

    def final(self, student: Student, percent: str, score: str) -> Grade:
        """A CTE Final Grade (credit 1) on the KTS course, Q4."""
        return self.exchanged(student, percent, score, code=CTE_FINAL, term=self.q4)


def reports_world(*, tiers: Sequence[tuple[str, str, str | None]] = HONOR_TIERS) -> ReportsWorld:
    hs_school = SchoolFactory(name="Central High")
    teacher = UserFactory(first_name="Ada", last_name="Lovelace")
    base = build_kts_world(
        hs_school=hs_school,
        same_district=True,
        tech_fields={"name": "Area Tech Center"},
        hs_course_fields={
            "number": "CTE1",
            "name": "Welding I",
            "state_code": "480501",
        },
        tech_course_fields={"number": "W100", "name": "Welding"},
        section_number="1",
        tech_active=False,
    )
    year = SchoolYear(school=base.hs_school, calendar=base.hs_calendar, terms=base.hs_terms)
    english = letter_course(
        year, task_code="TG", term_gpa_weight=Decimal("2"), teachers=[teacher], section_number="1"
    )
    HonorRollTier.objects.bulk_create(
        HonorRollTier(
            school=hs_school,
            name=name,
            min_gpa=Decimal(min_gpa),
            min_percent=None if min_pct is None else Decimal(min_pct),
        )
        for name, min_gpa, min_pct in tiers
    )
    parts = {f.name: getattr(base, f.name) for f in fields(KtsWorld)}
    parts["teacher"] = teacher  # English's teacher; the tech section has none here
    return ReportsWorld(
        **parts, letter_group=english.group, term_grade=english.task, english=english.section
    )
