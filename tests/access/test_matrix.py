"""R36 access matrix: every role x every API resource x list / retrieve / create / update /
delete, generated from the table below and the router's registry (resources added later are
picked up automatically; a resource whose model the table does not know gets the generic
checks only).

The expectations are written here from SPEC R36, not imported from the code under test.
"""

import pytest

from kts_project.api_urls import router

ADMINS = {"district_admin", "school_admin"}
EVERY = {"district_admin", "school_admin", "teacher", "attendance_clerk", "registrar"}
CUD = {"create", "update", "delete"}
CU = {"create", "update"}

# model -> who reads HS1's row (every staff user reads nothing of HS2) and who writes what.
TABLE = {
    "schools.District": {"read": EVERY, "write": {}},
    "schools.School": {"read": EVERY, "write": {"district_admin": CUD, "school_admin": {"update"}}},
    "schools.Calendar": {"read": EVERY, "write": {"district_admin": CUD}},
    "schools.Term": {"read": EVERY, "write": {"district_admin": CUD, "school_admin": CUD}},
    "schools.Course": {"read": EVERY, "write": {"district_admin": CUD, "school_admin": CUD}},
    "schools.Section": {"read": EVERY, "write": {"district_admin": CUD, "school_admin": CUD}},
    "schools.Student": {
        "read": EVERY,
        "write": {"district_admin": CU, "school_admin": CU, "registrar": CU},
    },
    "schools.Enrollment": {
        "read": EVERY,
        "write": {"district_admin": CUD, "school_admin": CUD, "registrar": CUD},
    },
    "schools.Roster": {"read": EVERY, "write": {"district_admin": CUD, "school_admin": CUD}},
    "schools.StaffRole": {"read": ADMINS, "write": {"district_admin": CUD}},
    "schools.Tombstone": {"read": EVERY, "write": {}},
    "grading.ScoreGroup": {"read": EVERY, "write": {"district_admin": CUD}},
    "grading.GradingTask": {"read": EVERY, "write": {"district_admin": CUD}},
    "grading.CreditType": {"read": EVERY, "write": {"district_admin": CUD}},
    "grading.CourseGradingTask": {
        "read": EVERY,
        "write": {"district_admin": CUD, "school_admin": CUD},
    },
    "grading.GradingWindow": {"read": EVERY, "write": {"district_admin": CUD, "school_admin": CUD}},
    "grading.HonorRollTier": {"read": EVERY, "write": {"district_admin": CUD, "school_admin": CUD}},
    "grading.Grade": {
        "read": {"district_admin", "school_admin", "teacher", "registrar"},
        "write": {"teacher": CU},
    },
    "grading.TranscriptLine": {
        "read": {"district_admin", "school_admin", "registrar"},
        "write": {"registrar": CU},
    },
    "attendance.AttendanceCode": {
        "read": EVERY,
        "write": {"district_admin": CUD, "school_admin": CUD},
    },
    "attendance.Attendance": {
        "read": {"district_admin", "school_admin", "teacher", "attendance_clerk"},
        "write": {"teacher": CU, "attendance_clerk": CU},
    },
    "exchange.KtsLink": {"read": ADMINS, "write": {"district_admin": CUD, "school_admin": CUD}},
    "exchange.ExchangeRun": {"read": {"district_admin"}, "write": {"district_admin": {"create"}}},
}
ROLES = sorted(EVERY)
ACTIONS = ["create", "update", "delete"]


def _label(viewset):
    queryset = getattr(viewset, "queryset", None)
    if queryset is not None:
        return queryset.model._meta.label
    serializer = getattr(viewset, "serializer_class", None)
    meta = getattr(serializer, "Meta", None)
    return meta.model._meta.label if meta is not None else None


RESOURCES = [(prefix, _label(viewset)) for prefix, viewset, _ in router.registry]
IDS = [prefix for prefix, _ in RESOURCES]


def _list_ids(client, prefix, **params):
    response = client.get(f"/api/v1/{prefix}/", {"page_size": 1000, **params})
    assert response.status_code == 200, (prefix, response.status_code, response.content[:200])
    body = response.json()
    rows = body["results"] if isinstance(body, dict) and "results" in body else body
    return {row.get("id") for row in rows if isinstance(row, dict)}


def _write(client, method, prefix, obj=None):
    url = f"/api/v1/{prefix}/" if obj is None else f"/api/v1/{prefix}/{obj.pk}/"
    # A deliberately incomplete payload: allowed roles get 400 (or 200), never 403.
    return getattr(client, method)(url, {}, format="json")


@pytest.mark.parametrize(("prefix", "label"), RESOURCES, ids=IDS)
def test_r36_anonymous_401_roleless_403_state_admin_all(world, as_user, prefix, label):
    # given a resource; when an anonymous user and a user without a role list it
    anonymous = as_user(None).get(f"/api/v1/{prefix}/")
    roleless = as_user("no_role").get(f"/api/v1/{prefix}/")
    # then deny by default
    assert anonymous.status_code == 401
    assert roleless.status_code == 403
    # and the state admin sees both worlds' rows (so the matrix below is not vacuous)
    ids = _list_ids(as_user("superuser"), prefix)
    for row in (world.home.get(label), world.away.get(label)):
        if row is not None:
            assert row.pk in ids


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("prefix", "label"), RESOURCES, ids=IDS)
def test_r36_matrix(world, as_user, prefix, label, role):
    """One role on one resource: list, retrieve, filter leaks, create, update, delete."""
    check_reads(world, as_user, prefix, label, role)
    check_filter_leaks(world, as_user, prefix, label, role)
    for action in ACTIONS:  # delete last: it may remove the home row
        check_write(world, as_user, prefix, label, role, action)


def check_reads(world, as_user, prefix, label, role):
    # given a staff user of HS1 / D1
    client = as_user(role)
    # when they list the resource
    ids = _list_ids(client, prefix)
    # then nothing of HS2 / D2 shows, and HS1's row shows exactly to the roles that read it
    away, home = world.away.get(label), world.home.get(label)
    if away is not None:
        assert away.pk not in ids
        assert client.get(f"/api/v1/{prefix}/{away.pk}/").status_code == 404
    if home is not None and label in TABLE:
        readable = role in TABLE[label]["read"]
        assert (home.pk in ids) is readable
        expected = 200 if readable else 404
        assert client.get(f"/api/v1/{prefix}/{home.pk}/").status_code == expected


def check_filter_leaks(world, as_user, prefix, label, role):
    # given HS2's id as a filter value; when a HS1 user filters by it
    away = world.away.get(label)
    client = as_user(role)
    for param, value in (
        ("school", world.hs2.pk),
        ("section", world.s2.pk),
        ("district", world.d2.pk),
        ("calendar", world.cal2.pk),
        ("student", world.student_b.pk),
    ):
        response = client.get(f"/api/v1/{prefix}/", {param: value, "page_size": 1000})
        # then the answer holds nothing of HS2 (an empty list or a refusal)
        if response.status_code != 200:
            assert response.status_code in (400, 403, 404)
            continue
        body = response.json()
        rows = body["results"] if isinstance(body, dict) and "results" in body else body
        if away is not None:
            assert away.pk not in {r.get("id") for r in rows if isinstance(r, dict)}


def check_write(world, as_user, prefix, label, role, action):
    if label not in TABLE:
        return  # a resource the table does not know yet: generic read checks only
    allowed = action in TABLE[label]["write"].get(role, set())
    client = as_user(role)
    home, away = world.home.get(label), world.away.get(label)
    model = (home or away).__class__ if (home or away) is not None else None
    before = model.objects.count() if model else None
    if action == "create":
        # when they create with an incomplete payload
        response = _write(client, "post", prefix)
        # then a forbidden role gets 403 and an allowed one is only told what is missing
        if allowed:
            assert response.status_code != 403, (
                prefix,
                role,
                action,
                response.status_code,
                response.content[:300],
            )
        else:
            assert response.status_code in (403, 405), (
                prefix,
                role,
                action,
                response.status_code,
                response.content[:300],
            )
            if model:
                assert model.objects.count() == before
        return
    method = "patch" if action == "update" else "delete"
    if home is not None:
        response = _write(client, method, prefix, home)
        if allowed:
            assert response.status_code not in (403, 404), (
                prefix,
                role,
                action,
                response.status_code,
                response.content[:300],
            )
        elif role in TABLE[label]["read"]:
            assert response.status_code in (403, 405), (
                prefix,
                role,
                action,
                response.status_code,
                response.content[:300],
            )
        else:
            # a role that may not write it at all hears 403 before the lookup
            assert response.status_code in (403, 404, 405), (
                prefix,
                role,
                action,
                response.status_code,
                response.content[:300],
            )
        if not allowed and model:
            assert model.objects.filter(pk=home.pk).exists()
    if away is not None:
        # HS2's row is out of scope for every HS1 role: not found, untouched
        response = _write(client, method, prefix, away)
        assert response.status_code in (403, 404, 405), (
            prefix,
            role,
            action,
            response.status_code,
            response.content[:300],
        )
        assert model.objects.filter(pk=away.pk).exists()
