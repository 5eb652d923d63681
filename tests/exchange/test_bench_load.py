"""bench_load: it refuses a database that is not a throwaway one, and on the data it builds
every endpoint it drives answers real data to the registrars it makes (not 403/404)."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from rest_framework.test import APIClient

from exchange.benchmarks import load
from schools.models import StaffRole, Student
from tests.factories import StudentFactory


def test_bench_load_refuses_without_yes(db):
    # given / when: no --yes
    with pytest.raises(CommandError, match="throwaway"):
        call_command("bench_load", stdout=io.StringIO())
    # then nothing was built
    assert not Student.objects.exists()


def test_bench_load_refuses_a_database_with_other_students(db):
    # given a database holding a real student
    StudentFactory()
    # when / then: refused (PostgreSQL), or refused for not being PostgreSQL
    expected = "already holds students" if connection.vendor == "postgresql" else "PostgreSQL"
    with pytest.raises(CommandError, match=expected):
        call_command("bench_load", "--yes", stdout=io.StringIO())
    assert Student.objects.count() == 1


@pytest.mark.skipif(connection.vendor != "postgresql", reason="bench_load runs on PostgreSQL")
def test_bench_load_reuse_needs_its_own_data_set(db):
    with pytest.raises(CommandError, match="No data set"):
        call_command("bench_load", "--yes", "--reuse", stdout=io.StringIO())


def test_bench_load_endpoints_answer_real_data_to_its_registrars(db):
    # given a small data set as bench_load builds it, and its API users
    load.build(students=40, report_students=30, out=io.StringIO())
    tokens = load.api_tokens(2)
    # when one of the registrars reads each endpoint's first path with a token
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {tokens[1]}")
    for endpoint in load.endpoints():
        response = client.get(endpoint.paths[0])
        # then 200 with data the endpoint's check accepts
        assert response.status_code == 200, (endpoint.name, response.content[:200])
        assert endpoint.check(response.json()) is None, endpoint.name
    # and the users are registrars of the report school only, made once
    assert load.api_tokens(2) == tokens
    assert set(
        StaffRole.objects.filter(user__username__startswith=load.USER_PREFIX).values_list(
            "role", flat=True
        )
    ) == {"registrar"}


def test_bench_load_serial_measures_each_endpoint_one_request_at_a_time(db):
    # given the small data set and its users
    load.build(students=40, report_students=30, out=io.StringIO())
    load.api_tokens(1)
    # when the one-at-a-time measurement runs (on PostgreSQL; elsewhere it is refused)
    out = io.StringIO()
    if connection.vendor != "postgresql":
        with pytest.raises(CommandError, match="PostgreSQL"):
            call_command("bench_load", "--yes", "--reuse", "--serial", "3", stdout=out)
        return
    call_command("bench_load", "--yes", "--reuse", "--serial", "3", stdout=out)
    # then a line per endpoint, cached and not, with its CPU and queries
    lines = [line for line in out.getvalue().splitlines() if "app CPU median" in line]
    assert len(lines) == 2 * len(load.endpoints())
    assert all("queries" in line and "ceiling" in line for line in lines)
