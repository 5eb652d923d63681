"""Who may read and write grading's records and reports (R36, R42), declared next to the
models and registered into ``schools.access`` from ``GradingConfig.ready()``."""

from schools.access import REGISTRAR_ROLES, Report, register_report

REPORTS = {
    # R32: a student's report card (page, PDF, API) and a whole school's in one PDF.
    "report-card": Report(roles=REGISTRAR_ROLES, forms=frozenset({"page", "pdf", "api"})),
    "report-cards-batch": Report(roles=REGISTRAR_ROLES, forms=frozenset({"pdf"})),
    # R31 honor roll, R33 eligibility, R34 transcript posting.
    "honor-roll": Report(roles=REGISTRAR_ROLES, forms=frozenset({"page", "csv", "api"})),
    "eligibility": Report(roles=REGISTRAR_ROLES, forms=frozenset({"page", "api"})),
    "transcripts": Report(roles=REGISTRAR_ROLES, forms=frozenset({"page", "api"})),
}


def register() -> None:
    for name, report in REPORTS.items():
        register_report(name, report)
