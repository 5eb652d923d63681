import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.factories import UserFactory


@pytest.fixture
def superuser(db):
    return UserFactory(username="state-admin", is_superuser=True, is_staff=True)


@pytest.fixture
def api(superuser) -> APIClient:
    """An API client logged in as a state admin (superuser)."""
    client = APIClient()
    client.force_authenticate(superuser)
    return client


@pytest.fixture
def admin_client_su(client, superuser):
    client.force_login(superuser)
    return client


def pytest_configure(config):
    # Real hashers cost ~0.2 s per password; tests only need a working one.
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _clear_cache():
    """API throttles and sign-in attempt counters live in the cache: no test inherits them."""
    cache.clear()
    yield
    cache.clear()
