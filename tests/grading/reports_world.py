"""A small HS + tech school world for the GPA, honor roll, report card, eligibility and
transcript tests (R30-R35): an English course on a district letter group (weight 2) and a
KTS course on CTE Numeric (weight 1) linked to a tech section."""

from dataclasses import dataclass, field
from decimal import Decimal

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
from schools.models import Term
from tests.factories import (
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


@dataclass
class World:
    district: object
    hs: object
    calendar: object
    terms: list
    tech: object
    tech_calendar: object
    letter_group: object
    term_grade: object  # the district's "Term Grade" task
    english: object  # section
    kts: object  # HS section of the KTS course
    kts_tasks: dict
    tech_section: object
    teacher: object
    students: list = field(default_factory=list)

    @property
    def q1(self) -> Term:
        return self.terms[0]

    @property
    def q4(self) -> Term:
        return self.terms[-1]


def letter_group(district) -> ScoreGroup:
    group = ScoreGroup.objects.create(name="District Letter", district=district)
    for score, pct, passing, gpa in [
        ("A", 90, True, 4),
        ("B", 80, True, 3),
        ("C", 70, True, 2),
        ("D", 60, True, 1),
        ("F", 0, False, 0),
    ]:
        ScoreRow.objects.create(
            group=group,
            score=score,
            min_percent=Decimal(pct),
            passing=passing,
            gpa_value=Decimal(gpa),
        )
    return group


def build_world(*, tiers=(("High Honors", "3.80", None), ("Honor Roll", "3.50", None))) -> World:
    district = DistrictFactory()
    hs = SchoolFactory(district=district, name="Central High")
    calendar = CalendarFactory(school=hs)
    terms = quarters(calendar)
    tech = SchoolFactory(district=district, name="Area Tech Center", kind="technical_school")
    tech_calendar = CalendarFactory(school=tech)
    semesters(tech_calendar)
    group = letter_group(district)
    term_grade = GradingTask.objects.create(name="Term Grade", code="TG", district=district)
    teacher = UserFactory(first_name="Ada", last_name="Lovelace")

    english_course = CourseFactory(calendar=calendar, number="ENG1", name="English I")
    english_task = CourseGradingTask.objects.create(
        course=english_course,
        grading_task=term_grade,
        score_group=group,
        term_gpa_weight=Decimal("2"),
    )
    CourseTaskTerm.objects.bulk_create(
        CourseTaskTerm(course_task=english_task, term=t, active=t == terms[0]) for t in terms
    )
    english = SectionFactory(course=english_course, number="1", teachers=[teacher])

    kts_course = CourseFactory(
        calendar=calendar, number="CTE1", name="Welding I", is_kts=True, state_code="480501"
    )
    kts_tasks = setup_cte_tasks(kts_course, active_term=terms[0], term_gpa_weight=Decimal("1"))
    kts = SectionFactory(course=kts_course, number="1")
    tech_course = CourseFactory(calendar=tech_calendar, number="W100", name="Welding", is_kts=True)
    setup_cte_tasks(tech_course, active_term=None)
    tech_section = SectionFactory(course=tech_course, number="1")
    KtsLink.objects.create(hs_section=kts, tech_section=tech_section)

    for name, min_gpa, min_pct in tiers:
        HonorRollTier.objects.create(
            school=hs,
            name=name,
            min_gpa=Decimal(min_gpa),
            min_percent=None if min_pct is None else Decimal(min_pct),
        )
    return World(
        district=district,
        hs=hs,
        calendar=calendar,
        terms=terms,
        tech=tech,
        tech_calendar=tech_calendar,
        letter_group=group,
        term_grade=term_grade,
        english=english,
        kts=kts,
        kts_tasks=kts_tasks,
        tech_section=tech_section,
        teacher=teacher,
    )


def add_student(w: World, *, sections=None, **kwargs):
    student = StudentFactory(**kwargs)
    EnrollmentFactory(student=student, calendar=w.calendar)
    for section in sections if sections is not None else (w.english, w.kts):
        RosterFactory(student=student, section=section)
    w.students.append(student)
    return student


def letter(w: World, student, score: str, *, term=None, section=None) -> Grade:
    """A teacher's letter grade on the English Term Grade (no percent)."""
    grade = Grade.objects.create(
        student=student,
        section=section or w.english,
        grading_task=w.term_grade,
        term=term or w.q1,
        score=score,
    )
    grades_changed(section_ids=[grade.section_id])  # as every grade writer does (issue 13)
    return grade


def exchanged(w: World, student, percent: str, score: str, *, code=CTE_TERM, term=None) -> Grade:
    """An exchanged tech grade as the exchange writes it: an HS grade with source exchange,
    and the HS's grades version bumped (issue 13)."""
    grade = Grade.objects.create(
        student=student,
        section=w.kts,
        grading_task=cte_task(code),
        term=term or w.q1,
        percent=Decimal(percent),
        score=score,
        source="exchange",
    )
    grades_changed(section_ids=[grade.section_id], writer="x0")
    return grade


def final(w: World, student, percent: str, score: str) -> Grade:
    """A CTE Final Grade (credit 1) on the KTS course, Q4."""
    return exchanged(w, student, percent, score, code=CTE_FINAL, term=w.q4)
