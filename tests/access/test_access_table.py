"""R42: one access table - each app declares its rules next to its models, a system check
resolves every declared ORM path, and the registry in ``schools`` names no other app."""

import pathlib
import re

from django.core import checks

from schools import access
from schools.access import Rule

ACCESS_PACKAGE = pathlib.Path(access.__file__).parent


def test_r42_every_declared_path_resolves():
    # given the table the apps registered; when Django's checks run; then no error
    assert access.check_access_table() == []
    assert "schools.E101" not in {e.id for e in checks.run_checks()}


def test_r42_every_app_registered_its_models_and_reports():
    # given the four apps' declarations; then each app's models and reports are in the table
    apps_in_table = {label.split(".")[0] for label in access.REGISTRY}
    assert apps_in_table == {"schools", "grading", "attendance", "exchange"}
    assert {"report-card", "honor-roll", "eligibility", "readiness"} <= set(access.REPORTS)


def test_r42_system_check_names_a_broken_path(monkeypatch):
    # given a rule whose school path does not resolve, and one that ends at the wrong model
    monkeypatch.setitem(access.REGISTRY, "schools.Term", Rule(schools=("calendar__nowhere",)))
    monkeypatch.setitem(access.REGISTRY, "schools.Course", Rule(schools=("calendar",)))
    # when the check runs
    errors = {(e.obj, e.id) for e in access.check_access_table()}
    # then both are reported
    assert errors == {("schools.Term", "schools.E101"), ("schools.Course", "schools.E102")}


def test_r42_the_registry_in_schools_names_no_other_apps_models():
    # given the access package's source; then no other app's model label or import appears
    source = "\n".join(p.read_text() for p in ACCESS_PACKAGE.glob("*.py"))
    assert not re.search(r"\b(grading|attendance|exchange)\.[A-Z]", source)
    assert not re.search(r"from (grading|attendance|exchange)", source)
