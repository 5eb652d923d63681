"""Who may read and write the exchange's records and reports (R28, R38, R42), declared next
to the models and registered into the access table (``schools.access``) from
``ExchangeConfig.ready()``."""

from schools.access import (
    ADMINS,
    DISTRICT_ADMIN,
    SCHOOL_ADMIN,
    SETUP,
    Report,
    Rule,
    declare,
    register_report,
)

REPORTS = {
    # R38: a school's readiness report, for its school admin and the district's admins.
    "readiness": Report(
        roles=frozenset({SCHOOL_ADMIN, DISTRICT_ADMIN}),
        forms=frozenset({"page", "api"}),
        kinds=frozenset({"high_school", "technical_school"}),
    ),
}


def register() -> None:
    from exchange import models as m

    declare(
        m.KtsLink,
        Rule(
            schools=(
                "hs_section__course__calendar__school",
                "tech_section__course__calendar__school",
            ),
            read_roles=ADMINS,
            open_fks=frozenset({"hs_section", "tech_section"}),
        ),
        writes={DISTRICT_ADMIN: SETUP, SCHOOL_ADMIN: SETUP},
    )
    # Runs are the district's and the state's: every run, no school to scope by.
    declare(
        m.ExchangeRun,
        Rule(read_roles=frozenset({DISTRICT_ADMIN}), global_roles=frozenset({DISTRICT_ADMIN})),
        writes={DISTRICT_ADMIN: {"create"}},
    )
    declare(m.RunPart, Rule(schools=("tech_school",), read_roles=ADMINS))
    declare(
        m.ExchangeOutcome,
        Rule(
            schools=("tech_school", "hs_section__course__calendar__school"),
            read_roles=ADMINS,
            student_data=True,
        ),
    )
    for name, report in REPORTS.items():
        register_report(name, report)
