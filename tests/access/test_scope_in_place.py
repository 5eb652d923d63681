"""R36: a scope whose paths are all foreign-key chains filters in place (no semi-join over
the whole table), and gives exactly the rows the semi-join gives, once each."""

import pytest
from django.apps import apps

from schools.access import scope_queryset
from schools.access.registry import REGISTRY
from schools.access.scoping import _crosses_many, read_q

USERS = [
    "district_admin",
    "school_admin",
    "teacher",
    "attendance_clerk",
    "registrar",
    "tech_admin",
    "hs2_admin",
    "no_role",
]


@pytest.mark.parametrize("name", USERS)
def test_r36_in_place_scope_reads_the_same_rows_as_the_semi_join(world, name):
    # given a user of the two-district world
    user = world.users[name]
    for label, rule in REGISTRY.items():
        model = apps.get_model(label)
        # when their scope is applied to every registered model
        rows = list(scope_queryset(user, model.objects.all()).values_list("pk", flat=True))
        # then each row shows once, and exactly the rows the semi-join form reads
        q = read_q(user, rule)
        if q is None:
            expected = set()
        elif not q:
            expected = set(model.objects.values_list("pk", flat=True))
        else:
            expected = set(model._base_manager.filter(q).values_list("pk", flat=True))
        assert len(rows) == len(set(rows)), label
        assert set(rows) == expected, label


def test_r36_grades_of_a_registrar_filter_in_place_a_teachers_through_the_semi_join(world):
    # given HS1's registrar (school paths: foreign keys) and HS1's teacher (section teachers:
    # a many-to-many path that could repeat a row)
    from grading.models import Grade

    registrar, teacher = world.users["registrar"], world.users["teacher"]
    rule = REGISTRY["grading.Grade"]
    # when their grade scopes are built
    registrar_sql = str(scope_queryset(registrar, Grade.objects.all()).query)
    teacher_sql = str(scope_queryset(teacher, Grade.objects.all()).query)
    # then the registrar's reads the grade table once, the teacher's keeps the semi-join
    assert not _crosses_many(Grade, read_q(registrar, rule))
    assert registrar_sql.count('FROM "grading_grade"') == 1
    assert _crosses_many(Grade, read_q(teacher, rule))
    assert teacher_sql.count('FROM "grading_grade"') == 2
