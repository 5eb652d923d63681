"""R36: a district admin adds and edits their own district's staff users in the Django admin,
with their staff roles; nothing outside the district, no superuser powers."""

from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from schools.models import StaffRole
from tests.factories import DistrictFactory, SchoolFactory, UserFactory

pytestmark = pytest.mark.django_db

User = get_user_model()
ADD = reverse("admin:auth_user_add")
LIST = reverse("admin:auth_user_changelist")


def _change(user) -> str:
    return reverse("admin:auth_user_change", args=[user.pk])


def _staff(username, role, where, **extra):
    user = UserFactory(username=username, is_staff=True, **extra)
    key = "district" if role == "district_admin" else "school"
    StaffRole.objects.create(user=user, role=role, **{key: where})
    return user


@pytest.fixture
def w():
    a, b = DistrictFactory(name="District A"), DistrictFactory(name="District B")
    a1, b1 = SchoolFactory(district=a, name="A1 High"), SchoolFactory(district=b, name="B1 High")
    return SimpleNamespace(
        a=a,
        b=b,
        a1=a1,
        b1=b1,
        da=_staff("da", "district_admin", a),
        a_teacher=_staff("a-teacher", "teacher", a1),
        b_teacher=_staff("b-teacher", "teacher", b1),
        a_super=_staff("a-super", "school_admin", a1, is_superuser=True),
        loner=UserFactory(username="loner"),
    )


def _roles(*rows, initial=0) -> dict:
    data = {
        "staff_roles-TOTAL_FORMS": str(len(rows)),
        "staff_roles-INITIAL_FORMS": str(initial),
        "staff_roles-MIN_NUM_FORMS": "0",
        "staff_roles-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"staff_roles-{i}-{key}"] = value
    return data


def _new_user(**roles_and_fields) -> dict:
    return {
        "username": "new-clerk",
        "first_name": "Nia",
        "last_name": "Clerk",
        "email": "nia@example.org",
        "usable_password": "true",
        "password1": "a-Long-pass-4-nia",
        "password2": "a-Long-pass-4-nia",
        **roles_and_fields,
    }


def test_r36_district_admin_adds_staff_user_with_role_in_own_school(client, w):
    # given
    client.force_login(w.da)
    # when
    resp = client.post(
        ADD,
        {
            **_new_user(is_staff="on", is_superuser="on"),
            **_roles({"role": "school_admin", "school": str(w.a1.pk)}),
        },
    )
    # then
    assert resp.status_code == 302, resp.context and resp.context.get("errors")
    user = User.objects.get(username="new-clerk")
    assert (user.first_name, user.last_name, user.email) == ("Nia", "Clerk", "nia@example.org")
    assert user.is_staff and not user.is_superuser  # is_superuser is not on the form
    assert user.check_password("a-Long-pass-4-nia")
    assert list(user.staff_roles.values_list("role", "school_id")) == [("school_admin", w.a1.pk)]
    # and they can open the new user afterwards
    assert client.get(_change(user)).status_code == 200


def test_r36_district_admin_cannot_give_a_role_outside_own_district(client, w):
    # given
    client.force_login(w.da)
    # when: a school of district B, then district B itself
    school_b = client.post(ADD, {**_new_user(), **_roles({"role": "teacher", "school": w.b1.pk})})
    district_b = client.post(
        ADD, {**_new_user(), **_roles({"role": "district_admin", "district": w.b.pk})}
    )
    # then: form errors, nothing written
    for resp in (school_b, district_b):
        assert resp.status_code == 200
        errors = str(resp.context["inline_admin_formsets"][0].formset.errors)
        assert "Select a valid choice" in errors
    assert not User.objects.filter(username="new-clerk").exists()
    assert StaffRole.objects.count() == 4


def test_r36_district_admin_must_give_a_new_user_a_role(client, w):
    # given
    client.force_login(w.da)
    # when
    resp = client.post(ADD, {**_new_user(), **_roles()})
    # then
    assert resp.status_code == 200
    assert "Please submit at least 1 form" in str(
        resp.context["inline_admin_formsets"][0].formset.non_form_errors()
    )
    assert not User.objects.filter(username="new-clerk").exists()


def test_r41_district_admin_lists_only_own_district_users(client, w):
    # given
    client.force_login(w.da)
    # when
    resp = client.get(LIST)
    # then: no B user, no superuser; users without any role are theirs to manage (R41)
    assert resp.status_code == 200
    assert set(resp.context["cl"].queryset) == {w.da, w.a_teacher, w.loner}
    assert resp.context["action_form"] is None  # no bulk delete, no token issuing
    # and the staff-role user picker offers own-district users and users with no role
    picker = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "schools", "model_name": "staffrole", "field_name": "user", "term": ""},
    )
    names = {row["text"] for row in picker.json()["results"]}
    assert names == {"da", "a-teacher", "loner"}


def test_r36_district_admin_cannot_open_other_district_users_or_superusers(client, w):
    # given
    client.force_login(w.da)
    for user in (w.b_teacher, w.a_super):
        # when
        page = client.get(_change(user))
        post = client.post(_change(user), {"username": "taken-over", "email": "x@example.org"})
        password = client.post(
            reverse("admin:auth_user_password_change", args=[user.pk]),
            {"password1": "another-Pass-77", "password2": "another-Pass-77"},
        )
        # then: not found (the admin redirects to its index), nothing changed
        assert page.status_code == post.status_code == 302, user
        assert password.status_code in (302, 404), user
        user.refresh_from_db()
        assert user.username != "taken-over" and not user.check_password("another-Pass-77")


def test_r36_district_admin_edits_own_user_without_superuser_powers(client, w):
    # given
    client.force_login(w.da)
    role = w.a_teacher.staff_roles.get()
    page = client.get(_change(w.a_teacher))
    form = page.context["adminform"].form
    assert "is_superuser" not in form.fields and "user_permissions" not in form.fields
    # when: a new e-mail, a forged is_superuser, and a second role in district B
    resp = client.post(
        _change(w.a_teacher),
        {
            "username": "a-teacher",
            "email": "new@example.org",
            "is_active": "on",
            "is_superuser": "on",
            **_roles(
                {"id": str(role.pk), "user": str(w.a_teacher.pk), "role": "teacher"}
                | {"school": str(w.a1.pk)},
                {"role": "teacher", "school": str(w.b1.pk)},
                initial=1,
            ),
        },
    )
    # then: refused as a whole (the B role is not a choice), nothing saved
    assert resp.status_code == 200
    w.a_teacher.refresh_from_db()
    assert w.a_teacher.email != "new@example.org" and w.a_teacher.staff_roles.count() == 1
    # when: the same without the B role
    resp = client.post(
        _change(w.a_teacher),
        {
            "username": "a-teacher",
            "email": "new@example.org",
            "is_active": "on",
            "is_superuser": "on",
            **_roles(
                {"id": str(role.pk), "user": str(w.a_teacher.pk), "role": "teacher"}
                | {"school": str(w.a1.pk)},
                initial=1,
            ),
        },
    )
    # then
    assert resp.status_code == 302
    w.a_teacher.refresh_from_db()
    assert w.a_teacher.email == "new@example.org" and not w.a_teacher.is_superuser


def test_r36_school_admin_has_no_user_admin(client, w):
    # given
    client.force_login(_staff("sa", "school_admin", w.a1))
    # then
    assert client.get(LIST).status_code == 403
    assert client.get(ADD).status_code == 403
    assert client.get(_change(w.a_teacher)).status_code in (302, 403)


def test_r36_superuser_still_manages_every_user(client, w, superuser):
    client.force_login(superuser)
    resp = client.get(LIST)
    assert {w.b_teacher, w.a_super, w.loner} <= set(resp.context["cl"].queryset)
    assert "is_superuser" in client.get(_change(w.b_teacher)).context["adminform"].form.fields
