"""The demo's setup rows, one at a time through ``full_clean()`` (R1, R2, R4-R11, R17, R25,
R31, R36)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import models

from attendance.models import AttendanceCode
from exchange.demo.data import (
    ATTENDANCE_CODES,
    CAREER_TECH,
    COUNTY_DISTRICT,
    HIGH_SCHOOLS,
    HONOR_ROLL,
    HS_ACTIVE_TERM,
    HS_COURSES,
    HS_SECTIONS,
    KTS_DISTRICT,
    LETTER_ROWS,
    QUARTERS,
    SEMESTER_GRADE,
    SEMESTERS,
    STANDARD_LETTER,
    TECH_ACTIVE_TERM,
    TECH_SCHOOLS,
    TECH_SECTIONS,
    TERM_GRADE,
    YEAR,
    YEAR_END,
    YEAR_START,
)
from exchange.models import KtsLink
from grading.models import (
    CTE_FINAL,
    CTE_NUMERIC,
    CTE_TERM,
    CourseGradingTask,
    CourseTaskTerm,
    CreditType,
    GradingTask,
    HonorRollTier,
    ScoreGroup,
    ScoreRow,
)
from schools.models import (
    Calendar,
    Course,
    District,
    Role,
    School,
    SchoolKind,
    Section,
    StaffRole,
    Term,
)


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


def school_year_upsert(
    school: School,
    *,
    school_year: int,
    start: dt.date,
    end: dt.date,
    spans: Iterable[tuple[str, dt.date, dt.date]],
) -> tuple[Calendar, list[Term]]:
    """R2: ``school``'s calendar of ``school_year`` (named "2026-27" for 2027) and its terms,
    one per ``(name, start, end)`` span, in order."""
    calendar = upsert(
        Calendar,
        {"school": school, "school_year": school_year},
        name=f"{school.name} {school_year - 1}-{school_year % 100:02d}",
        start_date=start,
        end_date=end,
    )
    terms = [
        upsert(
            Term,
            {"calendar": calendar, "seq": seq},
            name=name,
            start_date=term_start,
            end_date=term_end,
        )
        for seq, (name, term_start, term_end) in enumerate(spans, start=1)
    ]
    return calendar, terms


class SetupSteps:
    """Organisations, calendars, grading setup, people, courses, links, school settings."""

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
            calendar, terms = school_year_upsert(
                school,
                school_year=YEAR,
                start=YEAR_START,
                end=YEAR_END,
                spans=SEMESTERS if school.is_technical else QUARTERS,
            )
            self.calendars[school.pk] = calendar
            self.terms[school.pk] = {term.name: term for term in terms}

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

    def hs_course_tasks(
        self, course: Course, quarters: list[Term], *, credit_type: str, active: Term | None = None
    ) -> None:
        """An ordinary HS course's tasks: the Term Grade on every quarter (Term GPA weight 1)
        and the Semester Grade on Q2 and Q4 (half a credit of ``credit_type``)."""
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
        # The mask in a few queries. Deactivate before activating so the one-active-term
        # constraint (R11) holds at every step on a re-run.
        active_id = active.pk if active is not None else None
        mask = {m.term_id: m for m in CourseTaskTerm.objects.filter(course_task=ct)}
        stale = [m.pk for m in mask.values() if m.active and m.term_id != active_id]
        if stale:
            CourseTaskTerm.objects.filter(pk__in=stale).update(active=False)
        CourseTaskTerm.objects.bulk_create(
            CourseTaskTerm(course_task=ct, term=t, active=t.pk == active_id)
            for t in terms
            if t.pk not in mask
        )
        if active_id in mask and not mask[active_id].active:
            CourseTaskTerm.objects.filter(pk=mask[active_id].pk).update(active=True)
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
                self.hs_course_tasks(course, quarters, credit_type=credit_type, active=active)
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
