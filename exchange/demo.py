"""Demo data: a KTS district with two technical schools, a county with three high schools.

``demo_load`` is idempotent: every row is found by its natural key and only created (or
corrected) when it differs, so a second run changes nothing. The setup rows go through
``full_clean()``; the many students, enrollments, rosters and grades are built from data
that is valid by construction and written with ``bulk_create`` to keep the load fast.

The tech-side secondary enrollments and rosters are *not* created here: the nightly
exchange creates them from the HS rosters in linked sections (R18).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import models, transaction

from attendance.models import AttendanceCode
from exchange.models import KtsLink
from grading.models import (
    CTE_FINAL,
    CTE_NUMERIC,
    CTE_TERM,
    CourseGradingTask,
    CourseTaskTerm,
    CreditType,
    Grade,
    GradeHistory,
    GradeSource,
    GradingTask,
    HonorRollTier,
    ScoreGroup,
    ScoreRow,
)
from grading.scoring import row_for_percent, rows_of
from schools.models import (
    Calendar,
    Course,
    District,
    Enrollment,
    Role,
    Roster,
    School,
    SchoolKind,
    Section,
    ServiceType,
    StaffRole,
    Student,
    Term,
)

DEMO_PASSWORD = "kts-demo-2027"
YEAR = 2027  # the 2026-27 school year
YEAR_START = dt.date(2026, 8, 10)
YEAR_END = dt.date(2027, 5, 28)
QUARTERS = [
    ("Q1", dt.date(2026, 8, 10), dt.date(2026, 10, 9)),
    ("Q2", dt.date(2026, 10, 12), dt.date(2026, 12, 18)),
    ("Q3", dt.date(2027, 1, 4), dt.date(2027, 3, 12)),
    ("Q4", dt.date(2027, 3, 15), dt.date(2027, 5, 28)),
]
SEMESTERS = [
    ("S1", dt.date(2026, 8, 10), dt.date(2026, 12, 18)),
    ("S2", dt.date(2027, 1, 4), dt.date(2027, 5, 28)),
]
# The term being graded now at each end: Q2 lies within S1, so tonight's exchange moves
# the S1 tech grades into Q2 at the high schools (R19).
HS_ACTIVE_TERM = "Q2"
TECH_ACTIVE_TERM = "S1"
STUDENT_COUNT = 200

KTS_DISTRICT = ("KTS", "Kentucky Tech System")
COUNTY_DISTRICT = ("REDBUD", "Redbud County Schools")
# (code, name, login prefix, KTS courses (number, name, state code, teacher login))
TECH_SCHOOLS = [
    (
        "BATC",
        "Bluegrass Area Technology Center",
        [
            ("AUT1", "Automotive Technology I", "470601", "batc-auto"),
            ("WLD1", "Welding I", "480508", "batc-welding"),
        ],
    ),
    (
        "CATC",
        "Cumberland Area Technology Center",
        [
            ("HSC1", "Health Science I", "510000", "catc-health"),
            ("CRP1", "Carpentry I", "460201", "catc-carpentry"),
        ],
    ),
]
TECH_SECTIONS = ("1", "2")  # morning and afternoon blocks
# (code, name, login prefix)
HIGH_SCHOOLS = [
    ("RCHS", "Redbud Central High School", "central"),
    ("RNHS", "Redbud North High School", "north"),
    ("RSHS", "Redbud South High School", "south"),
]
# (number, name, credit type, teacher suffix)
HS_COURSES = [
    ("ENG2", "English II", "English", "english"),
    ("ALG1", "Algebra I", "Mathematics", "math"),
    ("BIO", "Biology", "Science", "math"),
    ("USH", "U.S. History", "Social Studies", "english"),
]
HS_SECTIONS = ("1", "2")
STANDARD_LETTER = "Standard Letter"
LETTER_ROWS = [
    ("A", Decimal("90"), True, Decimal("4")),
    ("B", Decimal("80"), True, Decimal("3")),
    ("C", Decimal("70"), True, Decimal("2")),
    ("D", Decimal("60"), True, Decimal("1")),
    ("F", Decimal("0"), False, Decimal("0")),
]
CAREER_TECH = "Career and Technical"
TERM_GRADE = "Term Grade"
SEMESTER_GRADE = "Semester Grade"
ATTENDANCE_CODES = [
    ("P", "Present", "present", ""),
    ("T", "Tardy", "tardy", "unexcused"),
    ("A", "Absent, unexcused", "absent", "unexcused"),
    ("AE", "Absent, excused", "absent", "excused"),
    ("U", "Absent, reason unknown", "absent", "unknown"),
    ("ER", "Early release, excused", "early_release", "excused"),
]
HONOR_ROLL = [("High Honors", Decimal("3.75")), ("Honor Roll", Decimal("3.50"))]
FIRST_NAMES = [
    "Avery", "Blake", "Carter", "Dakota", "Emery", "Finley", "Grayson", "Harper", "Israel",
    "Jordan", "Kendall", "Logan", "Madison", "Noah", "Olivia", "Parker", "Quinn", "Riley",
    "Sawyer", "Taylor",
]  # fmt: skip
LAST_NAMES = [
    "Adams", "Baker", "Collins", "Dawson", "Ellis", "Fletcher", "Gibson", "Hayes", "Irwin",
    "Jennings",
]  # fmt: skip


@dataclass
class DemoLogin:
    username: str
    role: str
    school: str


@dataclass
class DemoResult:
    logins: list[DemoLogin] = field(default_factory=list)
    created: int = 0


def upsert(model: type[models.Model], lookup: dict[str, Any], **defaults: Any) -> models.Model:
    """Find ``model`` by its natural key ``lookup``; create it or correct ``defaults``.

    Every created or corrected row goes through ``full_clean()``; an unchanged row is not
    written at all, which is what makes the load idempotent.
    """
    obj = model.objects.filter(**lookup).first()
    if obj is None:
        obj = model(**lookup, **defaults)
    elif all(getattr(obj, name) == value for name, value in defaults.items()):
        return obj
    else:
        for name, value in defaults.items():
            setattr(obj, name, value)
    obj.full_clean()
    obj.save()
    return obj


class DemoLoader:
    """Builds the demo step by step; ``steps`` drive the command's progress bar."""

    def __init__(self) -> None:
        self.result = DemoResult()
        self.rng = random.Random(YEAR)
        self.password_hash = make_password(DEMO_PASSWORD)
        self.users: dict[str, Any] = {}
        self.tech_schools: list[School] = []
        self.high_schools: list[School] = []
        self.terms: dict[int, dict[str, Term]] = {}  # school id -> term name -> term
        self.calendars: dict[int, Calendar] = {}
        # tech course number -> [tech sections]
        self.tech_sections: dict[str, list[Section]] = {}
        self.tech_section_school: dict[int, int] = {}  # tech section id -> school id
        # school id -> [(course number, [sections])]
        self.hs_sections: dict[int, list[tuple[str, list[Section]]]] = {}
        self.hs_kts_sections: dict[int, list[list[Section]]] = {}
        self.links: dict[int, int] = {}  # hs section id -> tech section id
        self.students: list[Student] = []

    @property
    def steps(self) -> list[tuple[str, Callable[[], None]]]:
        return [
            ("districts and schools", self.load_schools),
            ("calendars and terms", self.load_calendars),
            ("grading setup", self.load_grading_setup),
            ("logins and staff roles", self.load_staff),
            ("courses and sections", self.load_courses),
            ("KTS links", self.load_links),
            ("attendance codes, honor roll", self.load_school_settings),
            ("students and enrollments", self.load_students),
            ("rosters", self.load_rosters),
            ("grades", self.load_grades),
        ]

    # --- organisations ------------------------------------------------------------------

    def load_schools(self) -> None:
        """R1: the tech schools belong to the KTS district; the HSs to the county."""
        kts = upsert(District, {"code": KTS_DISTRICT[0]}, name=KTS_DISTRICT[1])
        county = upsert(District, {"code": COUNTY_DISTRICT[0]}, name=COUNTY_DISTRICT[1])
        self.kts, self.county = kts, county
        for code, name, _courses in TECH_SCHOOLS:
            self.tech_schools.append(
                upsert(
                    School,
                    {"district": kts, "code": code},
                    name=name,
                    kind=SchoolKind.TECHNICAL_SCHOOL,
                )
            )
        for i, (code, name, _prefix) in enumerate(HIGH_SCHOOLS):
            self.high_schools.append(
                upsert(
                    School,
                    {"district": county, "code": code},
                    name=name,
                    kind=SchoolKind.HIGH_SCHOOL,
                    # R27: the first HS has opted in to the unknown-attendance sync.
                    unknown_attendance_sync=(i == 0),
                )
            )

    def load_calendars(self) -> None:
        """R2: one calendar per school for 2026-27; semesters at tech, quarters at the HSs."""
        for school in self.tech_schools + self.high_schools:
            calendar = upsert(
                Calendar,
                {"school": school, "school_year": YEAR},
                name=f"{school.name} 2026-27",
                start_date=YEAR_START,
                end_date=YEAR_END,
            )
            self.calendars[school.pk] = calendar
            spans = SEMESTERS if school.is_technical else QUARTERS
            self.terms[school.pk] = {
                name: upsert(
                    Term,
                    {"calendar": calendar, "seq": seq},
                    name=name,
                    start_date=start,
                    end_date=end,
                )
                for seq, (name, start, end) in enumerate(spans, start=1)
            }

    # --- grading setup ------------------------------------------------------------------

    def load_grading_setup(self) -> None:
        """R4-R6: the state's CTE tasks and CTE Numeric; the county's letter group and tasks."""
        self.cte_term = GradingTask.objects.get(code=CTE_TERM)
        self.cte_final = GradingTask.objects.get(code=CTE_FINAL)
        self.cte_numeric = ScoreGroup.objects.get(name=CTE_NUMERIC, district=None)
        self.career_tech = upsert(CreditType, {"district": None, "name": CAREER_TECH})
        # R6: Standard Letter's Min % column matches CTE Numeric's, so a HS may use it on
        # a KTS course too.
        self.letter = upsert(ScoreGroup, {"district": self.county, "name": STANDARD_LETTER})
        for score, min_percent, passing, gpa in LETTER_ROWS:
            upsert(
                ScoreRow,
                {"group": self.letter, "score": score},
                min_percent=min_percent,
                passing=passing,
                gpa_value=gpa,
            )
        self.term_grade = upsert(GradingTask, {"district": self.county, "name": TERM_GRADE})
        self.semester_grade = upsert(GradingTask, {"district": self.county, "name": SEMESTER_GRADE})
        self.credit_types = {
            name: upsert(CreditType, {"district": self.county, "name": name})
            for name in {credit for _n, _c, credit, _t in HS_COURSES}
        }

    def course_task(
        self,
        course: Course,
        task: GradingTask,
        *,
        group: ScoreGroup,
        terms: list[Term],
        active: Term | None = None,
        weight: Decimal | None = None,
        credit: Decimal | None = None,
        credit_type: CreditType | None = None,
    ) -> CourseGradingTask:
        """R7-R11: one course task with its term mask and at most one active term."""
        ct = upsert(
            CourseGradingTask,
            {"course": course, "grading_task": task},
            score_group=group,
            term_gpa_weight=weight,
            credit=credit,
            credit_type=credit_type,
        )
        # Deactivate before activating so the one-active-term constraint (R11) holds
        # at every step on a re-run.
        for term in terms:
            if active is None or term.pk != active.pk:
                upsert(CourseTaskTerm, {"course_task": ct, "term": term}, active=False)
        if active is not None:
            upsert(CourseTaskTerm, {"course_task": ct, "term": active}, active=True)
        return ct

    def cte_setup(self, course: Course, *, school: School, group: ScoreGroup) -> None:
        """A correctly set-up KTS course: CTE Term Grade on every term with one active and
        Term GPA weight 1; CTE Final Grade on the last term with credit 1 (R6-R11)."""
        terms = list(self.terms[school.pk].values())
        active = self.terms[school.pk][TECH_ACTIVE_TERM if school.is_technical else HS_ACTIVE_TERM]
        self.course_task(
            course, self.cte_term, group=group, terms=terms, active=active, weight=Decimal("1")
        )
        self.course_task(
            course,
            self.cte_final,
            group=group,
            terms=terms[-1:],
            credit=Decimal("1"),
            credit_type=self.career_tech,
        )

    # --- people -------------------------------------------------------------------------

    def login(
        self,
        username: str,
        *,
        first: str,
        last: str,
        role: str,
        school: School | None = None,
        district: District | None = None,
        superuser: bool = False,
    ) -> Any:
        user_model = get_user_model()
        user = user_model.objects.filter(username=username).first()
        if user is None:
            user = user_model(
                username=username,
                first_name=first,
                last_name=last,
                email=f"{username}@example.org",
                is_superuser=superuser,
                # Superusers and district admins use the admin site for setup.
                is_staff=superuser or role == Role.DISTRICT_ADMIN,
                password=self.password_hash,
            )
            user.full_clean()
            user.save()
        if role in Role.values:
            upsert(StaffRole, {"user": user, "role": role, "school": school, "district": district})
        self.users[username] = user
        label = Role(role).label if role in Role.values else role
        where = school.name if school else district.name if district else "all schools"
        self.result.logins.append(DemoLogin(username, label, where))
        return user

    def load_staff(self) -> None:
        """R36: a superuser, a district admin, HS office staff and teachers at every school."""
        self.login("admin", first="State", last="Admin", role="State admin", superuser=True)
        self.login(
            "county-admin",
            first="Dana",
            last="Whitaker",
            role=Role.DISTRICT_ADMIN,
            district=self.county,
        )
        central = self.high_schools[0]
        for username, first, last, role in [
            ("central-principal", "Morgan", "Hale", Role.SCHOOL_ADMIN),
            ("central-clerk", "Casey", "Rowe", Role.ATTENDANCE_CLERK),
            ("central-registrar", "Jamie", "Lowell", Role.REGISTRAR),
        ]:
            self.login(username, first=first, last=last, role=role, school=central)
        for school, (_code, _name, prefix) in zip(self.high_schools, HIGH_SCHOOLS, strict=True):
            for suffix, subject in (("english", "English"), ("math", "Math")):
                self.login(
                    f"{prefix}-{suffix}",
                    first=prefix.title(),
                    last=f"{subject} Teacher",
                    role=Role.TEACHER,
                    school=school,
                )
        for school, (_code, _name, courses) in zip(self.tech_schools, TECH_SCHOOLS, strict=True):
            for _number, course_name, _state, username in courses:
                self.login(
                    username,
                    first=course_name.rsplit(" ", 1)[0],
                    last="Instructor",
                    role=Role.TEACHER,
                    school=school,
                )

    # --- courses, sections, links -------------------------------------------------------

    def section(self, course: Course, number: str, teacher: Any | None) -> Section:
        section = upsert(Section, {"course": course, "number": number})
        if teacher is not None:
            section.teachers.add(teacher)
        return section

    def load_courses(self) -> None:
        for school, (_code, _name, courses) in zip(self.tech_schools, TECH_SCHOOLS, strict=True):
            calendar = self.calendars[school.pk]
            for number, name, state_code, teacher in courses:
                course = upsert(
                    Course,
                    {"calendar": calendar, "number": number},
                    name=name,
                    state_code=state_code,
                    is_kts=True,
                )
                # R6: a tech school always uses CTE Numeric.
                self.cte_setup(course, school=school, group=self.cte_numeric)
                self.tech_sections[number] = [
                    self.section(course, n, self.users[teacher]) for n in TECH_SECTIONS
                ]
                for sec in self.tech_sections[number]:
                    self.tech_section_school[sec.pk] = school.pk
        for i, (school, (_code, _name, prefix)) in enumerate(
            zip(self.high_schools, HIGH_SCHOOLS, strict=True)
        ):
            calendar = self.calendars[school.pk]
            quarters = list(self.terms[school.pk].values())
            active = self.terms[school.pk][HS_ACTIVE_TERM]
            ordinary = []
            for number, name, credit_type, teacher in HS_COURSES:
                course = upsert(Course, {"calendar": calendar, "number": number}, name=name)
                self.course_task(
                    course,
                    self.term_grade,
                    group=self.letter,
                    terms=quarters,
                    active=active,
                    weight=Decimal("1"),
                )
                self.course_task(
                    course,
                    self.semester_grade,
                    group=self.letter,
                    terms=[quarters[1], quarters[3]],
                    credit=Decimal("0.5"),
                    credit_type=self.credit_types[credit_type],
                )
                user = self.users[f"{prefix}-{teacher}"]
                ordinary.append((number, [self.section(course, n, user) for n in HS_SECTIONS]))
            self.hs_sections[school.pk] = ordinary
            kts = []
            for _tcode, _tname, courses in TECH_SCHOOLS:
                for number, name, state_code, _teacher in courses:
                    course = upsert(
                        Course,
                        {"calendar": calendar, "number": f"K{number}"},
                        name=f"KTS {name}",
                        state_code=state_code,
                        is_kts=True,
                    )
                    # R6: the last HS grades its KTS courses on its own letter group,
                    # allowed because the Min % column matches CTE Numeric's.
                    group = self.letter if i == len(HIGH_SCHOOLS) - 1 else self.cte_numeric
                    self.cte_setup(course, school=school, group=group)
                    kts.append([self.section(course, n, None) for n in TECH_SECTIONS])
            self.hs_kts_sections[school.pk] = kts

    def load_links(self) -> None:
        """R17: each HS KTS section links to the tech section of the same block; every tech
        section receives one HS section from each of the three high schools."""
        tech_courses = [c for _code, _name, courses in TECH_SCHOOLS for c in courses]
        for school in self.high_schools:
            for (number, *_rest), hs_sections in zip(
                tech_courses, self.hs_kts_sections[school.pk], strict=True
            ):
                for hs_section, tech_section in zip(
                    hs_sections, self.tech_sections[number], strict=True
                ):
                    upsert(KtsLink, {"hs_section": hs_section}, tech_section=tech_section)
                    self.links[hs_section.pk] = tech_section.pk

    def load_school_settings(self) -> None:
        """R25 attendance codes at every school; R31 honor roll tiers at every HS."""
        for school in self.tech_schools + self.high_schools:
            for code, description, status, excuse in ATTENDANCE_CODES:
                upsert(
                    AttendanceCode,
                    {"school": school, "code": code},
                    description=description,
                    status=status,
                    excuse=excuse,
                )
        for school in self.high_schools:
            for name, min_gpa in HONOR_ROLL:
                upsert(HonorRollTier, {"school": school, "name": name}, min_gpa=min_gpa)

    # --- students (bulk) ----------------------------------------------------------------

    def load_students(self) -> None:
        """R3: students identified by state id, one primary enrollment each at their HS."""
        wanted = []
        for i in range(STUDENT_COUNT):
            grade = 9 + (i // 3) % 4
            wanted.append(
                Student(
                    state_id=f"{5100000001 + i}",
                    first_name=FIRST_NAMES[i % len(FIRST_NAMES)],
                    last_name=LAST_NAMES[(i // len(FIRST_NAMES)) % len(LAST_NAMES)],
                    birth_date=dt.date(2026 - grade - 5, 1 + i % 12, 1 + i % 28),
                )
            )
        ids = [s.state_id for s in wanted]
        have = set(Student.objects.filter(state_id__in=ids).values_list("state_id", flat=True))
        Student.objects.bulk_create([s for s in wanted if s.state_id not in have])
        by_id = Student.objects.in_bulk(ids, field_name="state_id")
        self.students = [by_id[state_id] for state_id in ids]

        calendars = [self.calendars[s.pk] for s in self.high_schools]
        have = set(
            Enrollment.objects.filter(calendar__in=calendars).values_list(
                "student_id", "calendar_id"
            )
        )
        new = []
        for i, student in enumerate(self.students):
            calendar = calendars[i % len(calendars)]
            if (student.pk, calendar.pk) in have:
                continue
            new.append(
                Enrollment(
                    student=student,
                    calendar=calendar,
                    # bulk_create skips save(), which copies the year from the calendar.
                    school_year=calendar.school_year,
                    service_type=ServiceType.PRIMARY,
                    grade_level=str(9 + (i // 3) % 4),
                    start_date=calendar.start_date,
                )
            )
        Enrollment.objects.bulk_create(new)

    def student_sections(self, i: int) -> tuple[School, list[Section], Section | None]:
        """The HS, the ordinary sections and (for about half) the KTS section of student i."""
        school = self.high_schools[i % len(self.high_schools)]
        k = i // len(self.high_schools)  # index among the students of this HS
        ordinary = [
            sections[k % len(sections)] for _number, sections in self.hs_sections[school.pk]
        ]
        kts = None
        if k % 2 == 0:
            m = k // 2
            courses = self.hs_kts_sections[school.pk]
            sections = courses[m % len(courses)]
            kts = sections[(m // len(courses)) % len(sections)]
        return school, ordinary, kts

    def load_rosters(self) -> None:
        """HS rosters only: the exchange rosters the KTS students at the tech school (R18)."""
        calendars = [self.calendars[s.pk] for s in self.high_schools]
        have = set(
            Roster.objects.filter(section__course__calendar__in=calendars).values_list(
                "student_id", "section_id"
            )
        )
        new = []
        for i, student in enumerate(self.students):
            _school, ordinary, kts = self.student_sections(i)
            for section in [*ordinary, *([kts] if kts else [])]:
                if (student.pk, section.pk) not in have:
                    new.append(Roster(student=student, section=section, start_date=YEAR_START))
        Roster.objects.bulk_create(new)

    # --- grades (bulk) ------------------------------------------------------------------

    def load_grades(self) -> None:
        """Imported grades with a history row each (R14): S1 CTE Term Grades at the tech
        schools, for tonight's exchange to move (R19), and Q1 Term Grades at the HSs so GPA,
        honor roll and eligibility have something to show."""
        cte_rows = rows_of(self.cte_numeric.rows.all())
        letter_rows = rows_of(self.letter.rows.all())
        tech_term = {s.pk: self.terms[s.pk][TECH_ACTIVE_TERM] for s in self.tech_schools}
        tech_sections = {
            sec.pk: sec for sections in self.tech_sections.values() for sec in sections
        }
        teachers = {
            sec.pk: sec.teachers.first()
            for sec in [
                *tech_sections.values(),
                *(
                    sec
                    for courses in self.hs_sections.values()
                    for _number, sections in courses
                    for sec in sections
                ),
            ]
        }
        wanted = []
        for i, student in enumerate(self.students):
            school, ordinary, kts = self.student_sections(i)
            q1 = self.terms[school.pk]["Q1"]
            for section in ordinary:
                percent = Decimal(self.rng.randint(5500, 9999)) / 100
                wanted.append((student, section, self.term_grade, q1, percent, letter_rows))
            if kts is not None:
                tech_section = tech_sections[self.links[kts.pk]]
                term = tech_term[self.tech_section_school[tech_section.pk]]
                percent = Decimal(self.rng.randint(6000, 9999)) / 100
                wanted.append((student, tech_section, self.cte_term, term, percent, cte_rows))
        section_ids = {w[1].pk for w in wanted}
        have = set(
            Grade.objects.filter(section_id__in=section_ids).values_list(
                "student_id", "section_id", "grading_task_id", "term_id"
            )
        )
        new = []
        for student, section, task, term, percent, rows in wanted:
            if (student.pk, section.pk, task.pk, term.pk) in have:
                continue
            new.append(
                Grade(
                    student=student,
                    section=section,
                    grading_task=task,
                    term=term,
                    percent=percent,
                    score=row_for_percent(rows, percent).score,
                    source=GradeSource.IMPORT,
                    posted_by=teachers[section.pk],
                )
            )
        created = Grade.objects.bulk_create(new)
        GradeHistory.objects.bulk_create(
            GradeHistory(
                grade=grade,
                changed_by=grade.posted_by,
                source=GradeSource.IMPORT,
                new_score=grade.score,
                new_percent=grade.percent,
                reason="Imported with the demo data.",
            )
            for grade in created
        )

    # --- the whole load -----------------------------------------------------------------

    def run(self, progress: Callable[[int, int, str], None] | None = None) -> DemoResult:
        steps = self.steps
        with transaction.atomic():
            for n, (label, step) in enumerate(steps):
                if progress:
                    progress(n, len(steps), label)
                step()
            if progress:
                progress(len(steps), len(steps), "done")
        return self.result


def demo_load(*, progress: Callable[[int, int, str], None] | None = None) -> DemoResult:
    """Load (or top up) the demo data; idempotent. ``progress(done, total, label)``."""
    return DemoLoader().run(progress)
