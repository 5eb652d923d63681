"""Every error code the exchange app raises (STYLE "Errors carry codes"); clients and tests
rely on these values: add freely, never rename one."""

from enum import StrEnum


class ExchangeErrorCode(StrEnum):
    HS_SECTION_ALREADY_LINKED = "hs_section_already_linked"
    INVALID = "invalid"
    KTS_LINK_INVALID = "kts_link_invalid"
    SCHOOL_YEAR_MISMATCH = "school_year_mismatch"
