"""Demo data: a KTS district with two technical schools, a county with three high schools.

``demo_load`` is idempotent: every row is found by its natural key and only created (or
corrected) when it differs, so a second run changes nothing. The setup rows go through
``full_clean()``; the many students, enrollments, rosters and grades are built from data
that is valid by construction and written with ``bulk_create`` to keep the load fast.

The tech-side secondary enrollments and rosters are *not* created here: the nightly
exchange creates them from the HS rosters in linked sections (R18).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import transaction

from exchange.demo.bulk import BulkSteps
from exchange.demo.data import DEMO_PASSWORD, YEAR
from exchange.demo.journeys import JourneySteps
from exchange.demo.setup import DemoLogin, DemoResult, SetupSteps, upsert
from schools import versions
from schools.models import Calendar, School, Section, Student, Term

__all__ = ["DEMO_PASSWORD", "DemoLoader", "DemoLogin", "DemoResult", "demo_load", "upsert"]


class DemoLoader(SetupSteps, BulkSteps, JourneySteps):
    """Builds the demo step by step; ``steps`` drive the command's progress bar."""

    def __init__(self) -> None:
        self.result = DemoResult()
        self.rng = random.Random(YEAR)
        self.password_hash = make_password(DEMO_PASSWORD)
        self.users: dict[str, Any] = {}
        self.tech_schools: list[School] = []
        self.high_schools: list[School] = []
        self.terms: dict[int, dict[str, Term]] = {}  # school id -> term name -> term
        self.calendars: dict[int, Calendar] = {}
        # tech course number -> [tech sections]
        self.tech_sections: dict[str, list[Section]] = {}
        self.tech_section_school: dict[int, int] = {}  # tech section id -> school id
        # school id -> [(course number, [sections])]
        self.hs_sections: dict[int, list[tuple[str, list[Section]]]] = {}
        self.hs_kts_sections: dict[int, list[list[Section]]] = {}
        self.links: dict[int, int] = {}  # hs section id -> tech section id
        self.students: list[Student] = []

    @property
    def steps(self) -> list[tuple[str, Callable[[], None]]]:
        return [
            ("districts and schools", self.load_schools),
            ("calendars and terms", self.load_calendars),
            ("grading setup", self.load_grading_setup),
            ("logins and staff roles", self.load_staff),
            ("courses and sections", self.load_courses),
            ("KTS links", self.load_links),
            ("attendance codes, honor roll", self.load_school_settings),
            ("students and enrollments", self.load_students),
            ("rosters", self.load_rosters),
            ("grades", self.load_grades),
            ("daily-use journeys", self.load_journeys),
        ]

    # --- the whole load -----------------------------------------------------------------

    def run(self, progress: Callable[[int, int, str], None] | None = None) -> DemoResult:
        steps = self.steps
        with transaction.atomic():
            for n, (label, step) in enumerate(steps):
                if progress:
                    progress(n, len(steps), label)
                step()
            if progress:
                progress(len(steps), len(steps), "done")
        return self.result


def demo_load(*, progress: Callable[[int, int, str], None] | None = None) -> DemoResult:
    """Load (or top up) the demo data; idempotent. ``progress(done, total, label)``."""
    result = DemoLoader().run(progress)
    versions.bump_setup()  # issue 13: no report cached before the load is served again
    return result
