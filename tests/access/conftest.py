import pytest
from rest_framework.test import APIClient

from tests.world.access import build_access_world


@pytest.fixture
def world(db):
    return build_access_world()


@pytest.fixture
def as_user(world):
    """``as_user("teacher")``: an API client signed in as that world user (None: anonymous)."""

    def make(name):
        client = APIClient()
        if name is not None:
            client.force_authenticate(world.users[name])
        return client

    return make
