"""R36 with API tokens (API.md ``Authorization: Token``): the token, its user and the
user's roles are read together, on every request; nothing is kept between requests, so a
role removed or a user deactivated counts from the next request on."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from schools.models import StaffRole
from tests.factories import SchoolFactory, UserFactory
from tests.world import reports_world


def _token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.mark.django_db
def test_r36_token_reads_every_role_of_its_user_and_follows_role_changes():
    # given a registrar (and teacher) of one HS who is also the school admin of another
    w = reports_world()
    student = w.add_student()
    w.letter(student, "A")
    other = SchoolFactory(district=w.hs_school.district)
    user = UserFactory()
    role = StaffRole.objects.create(user=user, role="registrar", school=w.hs_school)
    admin = StaffRole.objects.create(user=user, role="school_admin", school=other)
    StaffRole.objects.create(user=user, role="teacher", school=w.hs_school)
    client = _token_client(user)
    card = {"student": student.pk, "term": w.q1.pk}
    other_roll = {"school": other.pk}  # no term: 400 in scope, 404 out of it (R42)
    # when they read with their token: both schools' reports are theirs
    assert client.get("/api/v1/reports/report-card/", card).status_code == 200
    assert client.get("/api/v1/reports/honor-roll/", other_roll).status_code == 400
    # when each role is removed: the next request is refused (404, R42)
    role.delete()
    assert client.get("/api/v1/reports/report-card/", card).status_code == 404
    assert client.get("/api/v1/reports/honor-roll/", other_roll).status_code == 400
    admin.delete()
    assert client.get("/api/v1/reports/honor-roll/", other_roll).status_code == 404
    # and a user with no role left is refused everything (403)
    StaffRole.objects.filter(user=user).delete()
    assert client.get("/api/v1/grades/", {"school": w.hs_school.pk}).status_code == 403


@pytest.mark.django_db
def test_r36_token_refusals_are_drfs():
    user = UserFactory()
    StaffRole.objects.create(user=user, role="registrar", school=SchoolFactory())
    client = _token_client(user)
    assert client.get("/api/v1/grades/").status_code == 200
    # an unknown token
    bad = APIClient()
    bad.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    r = bad.get("/api/v1/grades/")
    assert r.status_code == 401 and r.json() == {"detail": "Invalid token."}
    # a deactivated user
    user.is_active = False
    user.save()
    r = client.get("/api/v1/grades/")
    assert r.status_code == 401 and r.json() == {"detail": "User inactive or deleted."}


def _values(obj) -> dict:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


@pytest.mark.django_db
def test_r36_the_plain_sql_reads_give_the_objects_the_orm_gives():
    from django.contrib.auth import get_user_model

    from grading.selectors.report_card import term_with_school
    from schools.access.tokens import TokenAuthentication
    from schools.models import Term

    # given a user with a token and a term with its calendar and school
    w = reports_world()
    user = UserFactory(first_name="Ada", last_name="Lovelace")
    token = Token.objects.create(user=user)
    # when the token authentication and the term read (plain SQL) answer
    read_user, read_token = TokenAuthentication().authenticate_credentials(token.key)
    term = term_with_school(w.q1.pk)
    # then the same values, of the same types, as the ORM's instances
    orm_user = get_user_model().objects.get(pk=user.pk)
    assert _values(read_user) == _values(orm_user)
    assert {k: type(v) for k, v in _values(read_user).items()} == {
        k: type(v) for k, v in _values(orm_user).items()
    }
    assert read_token.pk == token.pk and read_token.user is read_user
    orm_term = Term.objects.select_related("calendar__school").get(pk=w.q1.pk)
    for mine, theirs in (
        (term, orm_term),
        (term.calendar, orm_term.calendar),
        (term.calendar.school, orm_term.calendar.school),
    ):
        assert _values(mine) == _values(theirs)
        assert {k: type(v) for k, v in _values(mine).items()} == {
            k: type(v) for k, v in _values(theirs).items()
        }
    assert term_with_school(999_999) is None
