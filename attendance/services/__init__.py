"""Every write of attendance: codes (R25), records (R25), the clerks' worklist (R27), the
history of each change (R43) and the disclosure log of R26's reads (R37). One module per
entity; import from the module.

The names below stay importable from ``attendance.services`` for the code outside this app
that reaches them that way (the pages and the API of the reports, the exchange's benchmark).
"""

from attendance.services.codes import attendance_codes_ensure_defaults
from attendance.services.disclosure import disclosure_log_tech_attendance
from attendance.services.records import (
    Entry,
    attendance_record,
    attendance_record_bulk,
    validate_attendance_day,
)
from attendance.services.worklist import attendance_resolve, attendance_resolve_bulk

__all__ = [
    "Entry",
    "attendance_codes_ensure_defaults",
    "attendance_record",
    "attendance_record_bulk",
    "attendance_resolve",
    "attendance_resolve_bulk",
    "disclosure_log_tech_attendance",
    "validate_attendance_day",
]
