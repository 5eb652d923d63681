"""The exchange tests' world: the one test world's linked KTS pair with three HS students."""

import pytest

from tests.world import KtsWorld


@pytest.fixture
def world(kts_world: KtsWorld) -> KtsWorld:
    kts_world.add_students(3)
    return kts_world


@pytest.fixture
def sync_q(settings):
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "sync": True}
    return settings
