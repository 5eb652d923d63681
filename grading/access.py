"""Who may read and write grading's records and reports (R36, R42), declared next to the
models and registered into the access table (``schools.access``) from
``GradingConfig.ready()``."""

from schools.access import (
    DISTRICT_ADMIN,
    GRADE_READERS,
    REGISTRAR,
    REGISTRAR_ROLES,
    SCHOOL,
    SCHOOL_ADMIN,
    SECTION_SCHOOL,
    SETUP,
    TEACHER,
    Report,
    Rule,
    declare,
    register_report,
)

# HS staff who read their own students' grades recorded at technical schools (R36, R37).
CROSS_SCHOOL = frozenset({SCHOOL_ADMIN, TEACHER, REGISTRAR, DISTRICT_ADMIN})
TRANSCRIPT_READERS = frozenset({DISTRICT_ADMIN, SCHOOL_ADMIN, REGISTRAR})
SCHOOL_SETUP = {DISTRICT_ADMIN: SETUP, SCHOOL_ADMIN: SETUP}

REPORTS = {
    # R32: a student's report card (page, PDF, API) and a whole school's in one PDF.
    "report-card": Report(roles=REGISTRAR_ROLES, forms=frozenset({"page", "pdf", "api"})),
    "report-cards-batch": Report(roles=REGISTRAR_ROLES, forms=frozenset({"pdf"})),
    # R31 honor roll, R33 eligibility, R34 transcript posting.
    "honor-roll": Report(roles=REGISTRAR_ROLES, forms=frozenset({"page", "csv", "api"})),
    "eligibility": Report(roles=REGISTRAR_ROLES, forms=frozenset({"page", "api"})),
    "transcripts": Report(roles=REGISTRAR_ROLES, forms=frozenset({"page"})),
}


def register() -> None:
    from grading import models as m

    # District rows; state rows (no district) are readable by every staff user (R4).
    declare(
        m.ScoreGroup,
        Rule(districts=("district",), state_when_null="district"),
        writes={DISTRICT_ADMIN: SETUP},
    )
    declare(m.ScoreRow, Rule(districts=("group__district",), state_when_null="group__district"))
    declare(
        m.GradingTask,
        Rule(districts=("district",), state_when_null="district"),
        writes={DISTRICT_ADMIN: SETUP},
    )
    declare(
        m.CreditType,
        Rule(districts=("district",), state_when_null="district"),
        writes={DISTRICT_ADMIN: SETUP},
    )
    declare(m.CourseGradingTask, Rule(schools=("course__calendar__school",)), writes=SCHOOL_SETUP)
    declare(m.CourseTaskTerm, Rule(schools=("course_task__course__calendar__school",)))
    declare(
        m.GradingWindow,
        Rule(schools=(SCHOOL,)),
        writes={DISTRICT_ADMIN: SETUP | {"apply"}, SCHOOL_ADMIN: SETUP | {"apply"}},
    )
    declare(
        m.Grade,
        Rule(
            schools=(SECTION_SCHOOL,),
            section="section",
            cross_school=CROSS_SCHOOL,
            read_roles=GRADE_READERS,
            student_data=True,
        ),
        writes={TEACHER: {"create", "update", "bulk"}},
    )
    declare(
        m.GradeHistory,
        Rule(
            schools=("grade__section__course__calendar__school",),
            section="grade__section",
            cross_school=CROSS_SCHOOL,
            student="grade__student",
            read_roles=GRADE_READERS,
            student_data=True,
        ),
    )
    declare(m.HonorRollTier, Rule(schools=(SCHOOL,)), writes=SCHOOL_SETUP)
    declare(
        m.TranscriptLine,
        Rule(schools=(SCHOOL,), read_roles=TRANSCRIPT_READERS, student_data=True),
        writes={REGISTRAR: {"post", "create", "update", "review"}},
    )
    declare(
        m.TranscriptLineHistory,
        Rule(schools=("line__school",), read_roles=TRANSCRIPT_READERS, student_data=True),
    )
    for name, report in REPORTS.items():
        register_report(name, report)
