"""The author stored with a write (R37, R43): a signed-in user, else nobody."""

import pytest
from django.contrib.auth.models import AnonymousUser

from schools.actors import user_or_none
from tests.factories import UserFactory


@pytest.mark.django_db
def test_r43_a_signed_in_user_is_the_author():
    user = UserFactory()
    assert user_or_none(user) is user


def test_r43_an_anonymous_request_or_a_job_has_no_author():
    assert user_or_none(AnonymousUser()) is None
    assert user_or_none(None) is None
