"""The world's pytest fixtures (registered from ``tests/conftest.py``), each built on the ones
below it: ask for ``tech_kts`` and get a tech school, its school year and a set-up KTS course;
ask for ``kts_world`` and get both sides linked."""

from collections.abc import Callable
from typing import Any

import pytest

from schools.models import District, School, SchoolKind
from tests.factories import DistrictFactory, SchoolFactory
from tests.world import (
    KtsCourse,
    KtsWorld,
    SchoolYear,
    kts_course,
    linked,
    school_year,
)
from tests.world import (
    user_with_role as make_user_with_role,
)


@pytest.fixture
def district(db: None) -> District:
    return DistrictFactory()


@pytest.fixture
def high_school(district: District) -> School:
    return SchoolFactory(district=district, kind=SchoolKind.HIGH_SCHOOL)


@pytest.fixture
def tech_school(db: None) -> School:
    return SchoolFactory(kind=SchoolKind.TECHNICAL_SCHOOL)


@pytest.fixture
def hs_year(high_school: School) -> SchoolYear:
    """The HS's 2026-27 calendar and its four quarters."""
    return school_year(high_school)


@pytest.fixture
def tech_year(tech_school: School) -> SchoolYear:
    """The tech school's 2026-27 calendar and its two semesters."""
    return school_year(tech_school)


@pytest.fixture
def hs_kts(hs_year: SchoolYear) -> KtsCourse:
    """A KTS course at the HS with its CTE tasks (Q1 active) and one section."""
    return kts_course(hs_year)


@pytest.fixture
def tech_kts(tech_year: SchoolYear) -> KtsCourse:
    """A KTS course at the tech school with its CTE tasks (S1 active) and one section."""
    return kts_course(tech_year)


@pytest.fixture
def kts_world(
    hs_year: SchoolYear, tech_year: SchoolYear, hs_kts: KtsCourse, tech_kts: KtsCourse
) -> KtsWorld:
    """Both KTS sections linked (R12); no students yet (``kts_world.add_students(n)``)."""
    return linked(hs_year, hs_kts, tech_year, tech_kts)


@pytest.fixture
def user_with_role(db: None) -> Callable[..., Any]:
    """``user_with_role("registrar", school=...)``: a user holding that staff role (R36)."""
    return make_user_with_role
