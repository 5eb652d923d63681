"""Every error code the exchange app raises (the rule: ``schools.errors.ErrorCode``)."""

from schools.errors import ErrorCode


class ExchangeErrorCode(ErrorCode):
    AS_OF_OUT_OF_RANGE = "as_of_out_of_range"
    HS_SECTION_ALREADY_LINKED = "hs_section_already_linked"
    INVALID = "invalid"
    KTS_LINK_INVALID = "kts_link_invalid"
    SCHOOL_YEAR_MISMATCH = "school_year_mismatch"
    RUN_ALREADY_ACTIVE = "run_already_active"
    RUN_NOT_ACTIVE = "run_not_active"
