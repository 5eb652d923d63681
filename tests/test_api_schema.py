"""The OpenAPI schema holds: schemathesis drives every operation with generated input and
finds no 500 and no response that breaks the schema (issue: API hardening)."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token

from kts_project.wsgi import application
from tests.factories import UserFactory

schema = schemathesis.from_wsgi("/api/schema/?format=json", application)


@pytest.fixture
def token(db):
    user = UserFactory(username="schema-admin", is_superuser=True, is_staff=True)
    return Token.objects.create(user=user).key


@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_answers_every_generated_request_without_server_error(case, token):
    # given a state admin's token / when any operation gets generated input
    response = case.call_wsgi(headers={"Authorization": f"Token {token}"})
    # then never a 500, and every answer matches the published schema
    case.validate_response(
        response,
        checks=(
            schemathesis.checks.not_a_server_error,
            schemathesis.checks.content_type_conformance,
            schemathesis.checks.response_schema_conformance,
        ),
    )
