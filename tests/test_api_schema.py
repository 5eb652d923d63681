"""The OpenAPI schema holds: schemathesis drives every operation with generated input and
finds no 500 and no response that breaks the schema (issue: API hardening)."""

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token

from kts_project.wsgi import application
from tests.factories import UserFactory

schema = schemathesis.from_wsgi("/api/schema/?format=json", application)


@pytest.fixture
def token(db):
    user = UserFactory(username="schema-admin", is_superuser=True, is_staff=True)
    return Token.objects.create(user=user).key


@pytest.fixture
def keep_test_connection():
    """Django's test client does this too: the WSGI app would otherwise close the test's
    connection (inside its transaction) at the end of every request."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_answers_every_generated_request_without_server_error(
    case, token, keep_test_connection
):
    # given a state admin's token / when any operation gets generated input
    response = case.call(headers={"Authorization": f"Token {token}"})
    # then never a 500, and every answer matches the published schema
    case.validate_response(
        response,
        checks=(
            schemathesis.checks.not_a_server_error,
            schemathesis.checks.content_type_conformance,
            schemathesis.checks.response_schema_conformance,
        ),
    )
