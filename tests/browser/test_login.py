import pytest

from tests.browser.conftest import log_in
from tests.factories import UserFactory

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def test_a_wrong_password_is_refused_and_the_right_one_logs_in(page):
    # given a staff member with a login
    UserFactory(username="clerk1", first_name="Casey", last_name="Clerk")
    # when they mistype the password
    log_in(page, "clerk1", "wrong-password")
    # then they stay on the login page with a message
    assert "/accounts/login/" in page.url
    assert page.get_by_text("didn't match").is_visible()
    # when they type it right / then they are logged in and see their name
    log_in(page, "clerk1", "pw-for-tests-1")
    assert "/accounts/login/" not in page.url
    assert page.get_by_role("heading", name="Welcome, Casey Clerk").is_visible()
