"""factory_boy factories that keep related objects consistent (same school, same year)."""

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from grading import shape
from grading.models import (
    CTE_NUMERIC,
    CourseGradingTask,
    CreditType,
    GradingTask,
    ScoreGroup,
)
from schools.models import (
    Calendar,
    Course,
    District,
    Enrollment,
    Roster,
    School,
    SchoolKind,
    Section,
    Student,
    Term,
)

YEAR, YEAR_START, YEAR_END = shape.YEAR, shape.YEAR_START, shape.YEAR_END


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.org")
    password = factory.django.Password("pw-for-tests-1")


class DistrictFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = District

    code = factory.Sequence(lambda n: f"D{n:03d}")
    name = factory.Sequence(lambda n: f"District {n}")


class SchoolFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = School

    district = factory.SubFactory(DistrictFactory)
    code = factory.Sequence(lambda n: f"S{n:03d}")
    name = factory.Sequence(lambda n: f"School {n}")
    kind = SchoolKind.HIGH_SCHOOL


class CalendarFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Calendar

    school = factory.SubFactory(SchoolFactory)
    school_year = YEAR
    name = factory.LazyAttribute(lambda o: f"{o.school.name} 2026-27")
    start_date = YEAR_START
    end_date = YEAR_END


class TermFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Term

    calendar = factory.SubFactory(CalendarFactory)
    name = factory.Sequence(lambda n: f"T{n}")
    seq = factory.Sequence(lambda n: n + 1)
    start_date = YEAR_START
    end_date = YEAR_END


class CourseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Course

    calendar = factory.SubFactory(CalendarFactory)
    number = factory.Sequence(lambda n: f"C{n:04d}")
    name = factory.Sequence(lambda n: f"Course {n}")
    is_kts = False


class SectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Section
        skip_postgeneration_save = True

    course = factory.SubFactory(CourseFactory)
    number = factory.Sequence(lambda n: f"{n + 1}")

    @factory.post_generation
    def teachers(self, create, extracted, **kwargs):
        if create and extracted:
            self.teachers.set(extracted)


class StudentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Student

    state_id = factory.Sequence(lambda n: f"{9000000000 + n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    birth_date = dt.date(2009, 5, 1)


class EnrollmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Enrollment

    student = factory.SubFactory(StudentFactory)
    calendar = factory.SubFactory(CalendarFactory)
    service_type = "primary"
    grade_level = "11"
    start_date = factory.LazyAttribute(lambda o: o.calendar.start_date)


class RosterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Roster

    student = factory.SubFactory(StudentFactory)
    section = factory.SubFactory(SectionFactory)
    start_date = factory.LazyAttribute(lambda o: o.section.course.calendar.start_date)


class CreditTypeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CreditType

    name = factory.Sequence(lambda n: f"Credit type {n}")
    district = None


def cte_task(code: str) -> GradingTask:
    return GradingTask.objects.get(code=code)


# Rows that migrations create (the state push-down, R4, and the django-q2 schedules).
SEED_MIGRATIONS = [
    ("grading.migrations.0002_state_push_down", "push_down"),
    ("grading.migrations.0003_schedules", "create_schedules"),
    ("grading.migrations.0007_night_time_schedules", "set_next_runs"),
    ("grading.migrations.0010_report_card_batch_parts", "create_schedule"),
    ("exchange.migrations.0002_nightly_schedule", "create_schedule"),
    ("exchange.migrations.0005_night_time_schedules", "create_schedules"),
]


def restore_seed_rows() -> None:
    """Run the seed migrations' functions again when a flush emptied their rows."""
    import importlib

    from django.apps import apps
    from django_q.models import Schedule

    if (
        GradingTask.objects.filter(code="CTE_TERM").exists()
        and Schedule.objects.filter(name="exchange-watchdog").exists()
    ):
        return
    for module, func in SEED_MIGRATIONS:
        getattr(importlib.import_module(module), func)(apps, None)


def cte_numeric() -> ScoreGroup:
    return ScoreGroup.objects.get(name=CTE_NUMERIC, district=None)


def quarters(calendar: Calendar) -> list[Term]:
    """Four HS quarters inside the factories' school year."""
    return shape.quarters_create([calendar])[calendar.pk]


def semesters(calendar: Calendar) -> list[Term]:
    """Two tech semesters inside the factories' school year."""
    return shape.semesters_create([calendar])[calendar.pk]


def setup_cte_tasks(
    course: Course,
    *,
    active_term: Term | None,
    score_group: ScoreGroup | None = None,
    credit_type: CreditType | None = None,
    term_gpa_weight: Decimal | None = Decimal("1"),
    final_active_term: Term | None = None,
) -> dict[str, CourseGradingTask]:
    """A correctly set-up KTS course (R6-R11, ``grading/shape.py``): CTE Term Grade on every
    term (one active, Term GPA weight on it) and CTE Final Grade with credit on the last term."""
    terms = list(course.calendar.terms.order_by("seq"))
    state = shape.CteRows.state()
    rows = shape.CteRows(
        score_group=score_group or state.score_group,
        term_task=state.term_task,
        final_task=state.final_task,
        credit_type=credit_type or state.credit_type,
    )
    in_calendar = {t.pk: t.seq for t in terms}
    return shape.cte_course_tasks_create(
        [(course, terms)],
        rows=rows,
        active_seq=in_calendar.get(active_term.pk) if active_term is not None else None,
        final_active=final_active_term is not None and final_active_term.pk == terms[-1].pk,
        term_gpa_weight=term_gpa_weight,
    )[course.pk]
