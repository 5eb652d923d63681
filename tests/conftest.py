import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.factories import UserFactory

pytest_plugins = ["tests.world.fixtures"]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):
    """The test databases, with this process's lock session (kept between locks, as
    Django keeps its connection) ended before they are dropped."""
    yield
    from schools import locks

    locks.close_session()


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


# Rows that migrations create (the state push-down, R4, and the django-q2 schedules). A
# transactional test (browser, concurrency, chaos) ends with a flush that empties every
# table, so the next database test restores them before its fixtures run.
DB_FIXTURES = {"db", "transactional_db", "live_server", "django_db_serialized_rollback"}


@pytest.fixture(autouse=True)
def _seed_rows(request):
    if request.node.get_closest_marker("django_db") or DB_FIXTURES & set(request.fixturenames):
        request.getfixturevalue(
            "transactional_db"
            if {"transactional_db", "live_server"} & set(request.fixturenames)
            or getattr(request.node.get_closest_marker("django_db"), "kwargs", {}).get(
                "transaction"
            )
            else "db"
        )
        from tests.factories import restore_seed_rows

        restore_seed_rows()
