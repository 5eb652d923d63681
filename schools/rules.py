"""Who may read and write the schools app's models (R36, R41), declared next to the models
and registered into the access table (``schools.access``) from ``SchoolsConfig.ready()``."""

from schools.access import (
    ADMINS,
    DISTRICT_ADMIN,
    REGISTRAR,
    SCHOOL,
    SCHOOL_ADMIN,
    SECTION_SCHOOL,
    SETUP,
    Rule,
    declare,
)

CREATE_UPDATE = frozenset({"create", "update"})


def register() -> None:
    from django.contrib.auth import get_user_model

    from schools import models as m

    declare(m.District, Rule(districts=("",)))
    declare(
        m.School,
        Rule(schools=("",)),
        # R41: district and kind stay the state admin's (checked by the API and the admin).
        writes={DISTRICT_ADMIN: SETUP, SCHOOL_ADMIN: {"update"}},
    )
    declare(m.Calendar, Rule(schools=(SCHOOL,)), writes={DISTRICT_ADMIN: SETUP})
    declare(
        m.Term,
        Rule(schools=("calendar__school",)),
        writes={DISTRICT_ADMIN: SETUP, SCHOOL_ADMIN: SETUP},
    )
    declare(
        m.Course,
        Rule(schools=("calendar__school",)),
        writes={DISTRICT_ADMIN: SETUP, SCHOOL_ADMIN: SETUP},
    )
    declare(
        m.Section,
        # R41: a section's teachers are teacher-role holders (at its school: Section.clean_teachers).
        Rule(
            schools=("course__calendar__school",), section="", user_fks=(("teachers", "teacher"),)
        ),
        writes={DISTRICT_ADMIN: SETUP, SCHOOL_ADMIN: SETUP},
    )
    # Tech staff read only students enrolled at their school; teachers their own students.
    declare(
        m.Student,
        Rule(
            schools=("enrollments__calendar__school",),
            section="rosters__section",
            orphan_create=True,
            student_data=True,
        ),
        writes={
            DISTRICT_ADMIN: CREATE_UPDATE,
            SCHOOL_ADMIN: CREATE_UPDATE,
            REGISTRAR: CREATE_UPDATE,
        },
    )
    declare(
        m.Enrollment,
        Rule(
            schools=("calendar__school",),
            section="student__rosters__section",
            fk_new_students=frozenset({"student"}),
            student_data=True,
        ),
        writes={DISTRICT_ADMIN: SETUP, SCHOOL_ADMIN: SETUP, REGISTRAR: SETUP},
    )
    declare(
        m.Roster,
        Rule(schools=(SECTION_SCHOOL,), section="section", student_data=True),
        writes={DISTRICT_ADMIN: SETUP, SCHOOL_ADMIN: SETUP},
    )
    # R41: a district admin manages roles of the users they manage only.
    declare(
        m.StaffRole,
        Rule(
            schools=(SCHOOL,),
            districts=("district",),
            read_roles=ADMINS,
            managed_user="user",
            user_fks=(("user", "managed"),),
        ),
        writes={DISTRICT_ADMIN: SETUP},
    )
    # Staff users, in the admin only (schools.admin_access): ``access.managed_users``.
    declare(get_user_model(), writes={DISTRICT_ADMIN: CREATE_UPDATE})
    declare(
        m.DisclosureLog,
        Rule(schools=("reader_school", "source_school"), read_roles=frozenset({DISTRICT_ADMIN})),
    )
    declare(m.AuditEntry, Rule(schools=(SCHOOL,), read_roles=ADMINS))
    declare(m.Tombstone, Rule(schools=(SCHOOL,)))
