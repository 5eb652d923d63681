"""Who may read and write attendance and its reports (R25-R27, R36, R42), declared next to
the models and registered into the access table (``schools.access``) from
``AttendanceConfig.ready()``."""

from schools.access import (
    ATTENDANCE_CLERK,
    ATTENDANCE_READERS,
    DISTRICT_ADMIN,
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

CLERKS = frozenset({ATTENDANCE_CLERK, SCHOOL_ADMIN, DISTRICT_ADMIN})

REPORTS = {
    # R26: the HS's real-time view of its students' tech attendance; R27 the worklist.
    # Staff of the school without the role get a 403 page saying whom to ask.
    "tech-attendance": Report(
        roles=CLERKS, forms=frozenset({"page", "csv", "api"}), in_scope_refusal=403
    ),
    "unknown-attendance": Report(
        roles=CLERKS, forms=frozenset({"page", "api"}), in_scope_refusal=403
    ),
}


def register() -> None:
    from attendance import models as m

    declare(
        m.AttendanceCode,
        Rule(schools=(SCHOOL,)),
        writes={DISTRICT_ADMIN: SETUP, SCHOOL_ADMIN: SETUP},
    )
    declare(
        m.Attendance,
        Rule(
            schools=(SECTION_SCHOOL,),
            section="section",
            # HS staff read their own students' attendance at technical schools (R36, R37).
            cross_school=frozenset({SCHOOL_ADMIN, TEACHER, ATTENDANCE_CLERK, DISTRICT_ADMIN}),
            read_roles=ATTENDANCE_READERS,
            student_data=True,
        ),
        # Only the section's teacher and the school's clerks record attendance (R42).
        writes={
            TEACHER: {"create", "update", "bulk"},
            ATTENDANCE_CLERK: {"create", "update", "bulk", "resolve"},
        },
    )
    declare(
        m.AttendanceHistory,
        Rule(
            schools=("record__section__course__calendar__school",),
            section="record__section",
            cross_school=frozenset({SCHOOL_ADMIN, TEACHER, ATTENDANCE_CLERK, DISTRICT_ADMIN}),
            student="record__student",
            read_roles=ATTENDANCE_READERS,
            student_data=True,
        ),
    )
    for name, report in REPORTS.items():
        register_report(name, report)
