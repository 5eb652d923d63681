"""Who may read the exchange's reports (R38, R42), declared next to the models and
registered into ``schools.access`` from ``ExchangeConfig.ready()``."""

from schools.access import DISTRICT_ADMIN, SCHOOL_ADMIN, Report, register_report

REPORTS = {
    # R38: a school's readiness report, for its school admin and the district's admins.
    "readiness": Report(
        roles=frozenset({SCHOOL_ADMIN, DISTRICT_ADMIN}),
        forms=frozenset({"page", "api"}),
        kinds=frozenset({"high_school", "technical_school"}),
    ),
}


def register() -> None:
    for name, report in REPORTS.items():
        register_report(name, report)
