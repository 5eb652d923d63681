"""The demo's fixed content: schools, terms, courses, people's names (all fictional)."""

import datetime as dt
from decimal import Decimal

DEMO_PASSWORD = "kts-demo-2027"
YEAR = 2027  # the 2026-27 school year
YEAR_START = dt.date(2026, 8, 10)
YEAR_END = dt.date(2027, 5, 28)
QUARTERS = [
    ("Q1", dt.date(2026, 8, 10), dt.date(2026, 10, 9)),
    ("Q2", dt.date(2026, 10, 12), dt.date(2026, 12, 18)),
    ("Q3", dt.date(2027, 1, 4), dt.date(2027, 3, 12)),
    ("Q4", dt.date(2027, 3, 15), dt.date(2027, 5, 28)),
]
SEMESTERS = [
    ("S1", dt.date(2026, 8, 10), dt.date(2026, 12, 18)),
    ("S2", dt.date(2027, 1, 4), dt.date(2027, 5, 28)),
]
# The term being graded now at each end: Q2 lies within S1, so tonight's exchange moves
# the S1 tech grades into Q2 at the high schools (R19).
HS_ACTIVE_TERM = "Q2"
TECH_ACTIVE_TERM = "S1"
STUDENT_COUNT = 200

KTS_DISTRICT = ("KTS", "Kentucky Tech System")
COUNTY_DISTRICT = ("REDBUD", "Redbud County Schools")
# (code, name, login prefix, KTS courses (number, name, state code, teacher login))
TECH_SCHOOLS = [
    (
        "BATC",
        "Bluegrass Area Technology Center",
        [
            ("AUT1", "Automotive Technology I", "470601", "batc-auto"),
            ("WLD1", "Welding I", "480508", "batc-welding"),
        ],
    ),
    (
        "CATC",
        "Cumberland Area Technology Center",
        [
            ("HSC1", "Health Science I", "510000", "catc-health"),
            ("CRP1", "Carpentry I", "460201", "catc-carpentry"),
        ],
    ),
]
TECH_SECTIONS = ("1", "2")  # morning and afternoon blocks
# (code, name, login prefix)
HIGH_SCHOOLS = [
    ("RCHS", "Redbud Central High School", "central"),
    ("RNHS", "Redbud North High School", "north"),
    ("RSHS", "Redbud South High School", "south"),
]
# (number, name, credit type, teacher suffix)
HS_COURSES = [
    ("ENG2", "English II", "English", "english"),
    ("ALG1", "Algebra I", "Mathematics", "math"),
    ("BIO", "Biology", "Science", "math"),
    ("USH", "U.S. History", "Social Studies", "english"),
]
HS_SECTIONS = ("1", "2")
STANDARD_LETTER = "Standard Letter"
LETTER_ROWS = [
    ("A", Decimal("90"), True, Decimal("4")),
    ("B", Decimal("80"), True, Decimal("3")),
    ("C", Decimal("70"), True, Decimal("2")),
    ("D", Decimal("60"), True, Decimal("1")),
    ("F", Decimal("0"), False, Decimal("0")),
]
CAREER_TECH = "Career and Technical"
TERM_GRADE = "Term Grade"
SEMESTER_GRADE = "Semester Grade"
ATTENDANCE_CODES = [
    ("P", "Present", "present", ""),
    ("T", "Tardy", "tardy", "unexcused"),
    ("A", "Absent, unexcused", "absent", "unexcused"),
    ("AE", "Absent, excused", "absent", "excused"),
    ("U", "Absent, reason unknown", "absent", "unknown"),
    ("ER", "Early release, excused", "early_release", "excused"),
]
HONOR_ROLL = [("High Honors", Decimal("3.75")), ("Honor Roll", Decimal("3.50"))]
FIRST_NAMES = [
    "Avery", "Blake", "Carter", "Dakota", "Emery", "Finley", "Grayson", "Harper", "Israel",
    "Jordan", "Kendall", "Logan", "Madison", "Noah", "Olivia", "Parker", "Quinn", "Riley",
    "Sawyer", "Taylor",
]  # fmt: skip
LAST_NAMES = [
    "Adams", "Baker", "Collins", "Dawson", "Ellis", "Fletcher", "Gibson", "Hayes", "Irwin",
    "Jennings",
]  # fmt: skip
