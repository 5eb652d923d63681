import pytest

from tests.world import KtsWorld, attendance_world


@pytest.fixture
def world(db) -> KtsWorld:
    return attendance_world()
