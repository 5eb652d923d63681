"""Fixtures for the grade posting tests: a tech KTS section and a HS letter-grade section, both
from the one test world (``tests/world``)."""

import datetime as dt

import pytest

from tests.factories import UserFactory
from tests.world import LetterClass, TechClass, enroll_and_roster, letter_class, tech_class

__all__ = ["days_ago", "enroll_and_roster"]


@pytest.fixture
def teacher(db):
    return UserFactory(username="teacher-a", email="teacher-a@example.org")


@pytest.fixture
def other_teacher(db):
    return UserFactory(username="teacher-b", email="teacher-b@example.org")


@pytest.fixture
def tech(teacher) -> TechClass:
    """A tech school KTS section: CTE Term Grade active in S1, CTE Final Grade active in S2,
    three students rostered, ``teacher`` teaching it."""
    return tech_class(teacher)


@pytest.fixture
def letters(teacher) -> LetterClass:
    """A HS (non-KTS) section on a district letter group A/B/C/D/F, task active in Q1."""
    return letter_class(teacher)


def days_ago(n: int) -> dt.datetime:
    from django.utils import timezone

    return timezone.now() - dt.timedelta(days=n)
