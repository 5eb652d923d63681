"""Every error code the attendance app raises (the rule: ``schools.errors.ErrorCode``)."""

from schools.errors import ErrorCode


class AttendanceErrorCode(ErrorCode):
    CODE_UNKNOWN = "code_unknown"
    CODE_WRONG_SCHOOL = "code_wrong_school"
    DUPLICATE_STUDENT = "duplicate_student"
    EXCUSE_STATUS = "excuse_status"
    FUTURE_DATE = "future_date"
    NO_CODE = "no_code"
    NON_INSTRUCTIONAL_DAY = "non_instructional_day"
    NONE_SELECTED = "none_selected"
    NOT_FOUND = "not_found"
    NOT_ON_WORKLIST = "not_on_worklist"
    NOT_ROSTERED = "not_rostered"
    UNKNOWN_CODE = "unknown_code"
