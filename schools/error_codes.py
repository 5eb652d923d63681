"""Every error code the schools app raises (the rule: ``schools.errors.ErrorCode``)."""

from schools.errors import ErrorCode


class SchoolsErrorCode(ErrorCode):
    COMMENTS_TOO_LONG = "comments_too_long"
    DATES_OUT_OF_ORDER = "dates_out_of_order"
    IN_USE = "in_use"
    INVALID_LOGIN = "invalid_login"
    INVALID_TIMESTAMP = "invalid_timestamp"
    LOCKED = "locked"
    OUT_OF_SCOPE = "out_of_scope"
    PRIMARY_AT_TECH_SCHOOL = "primary_at_tech_school"
    ROLE_SCOPE = "role_scope"
    ROSTER_ALREADY_OPEN = "roster_already_open"
    ROSTER_OUTSIDE_CALENDAR = "roster_outside_calendar"
    ROSTER_OVERLAP = "roster_overlap"
    SCHOOL_YEAR_MISMATCH = "school_year_mismatch"
    STATE_ADMIN_ONLY = "state_admin_only"
    SECOND_PRIMARY_ENROLLMENT = "second_primary_enrollment"
    STUDENT_NOT_ENROLLED = "student_not_enrolled"
    TEACHER_NOT_AT_SCHOOL = "teacher_not_at_school"
    TERM_OUTSIDE_CALENDAR = "term_outside_calendar"
    TERM_SEQ_OUT_OF_ORDER = "term_seq_out_of_order"
    TERMS_OVERLAP = "terms_overlap"
