"""Who may read attendance's reports (R26, R27, R42), declared next to the models and
registered into ``schools.access`` from ``AttendanceConfig.ready()``."""

from schools.access import (
    ATTENDANCE_CLERK,
    DISTRICT_ADMIN,
    SCHOOL_ADMIN,
    Report,
    register_report,
)

CLERKS = frozenset({ATTENDANCE_CLERK, SCHOOL_ADMIN, DISTRICT_ADMIN})

REPORTS = {
    # R26: the HS's real-time view of its students' tech attendance; R27 the worklist.
    "tech-attendance": Report(roles=CLERKS, forms=frozenset({"page", "csv", "api"})),
    "unknown-attendance": Report(roles=CLERKS, forms=frozenset({"page", "api"})),
}


def register() -> None:
    for name, report in REPORTS.items():
        register_report(name, report)
