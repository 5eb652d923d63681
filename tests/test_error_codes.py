"""STYLE "Errors carry codes": each app declares its error codes in one enum
(``<app>/error_codes.py``, as Saleor's ``error_codes.py``), and every code the app's code
raises (``code=``/``violation_error_code=`` literals or enum members) is declared there."""

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = {
    "schools": "SchoolsErrorCode",
    "grading": "GradingErrorCode",
    "attendance": "AttendanceErrorCode",
    "exchange": "ExchangeErrorCode",
}


ERROR_CALLS = {
    "ValidationError",
    "coded_error",
    "field_error",
    "CheckConstraint",
    "UniqueConstraint",
    "ErrorDetail",
}


def _name(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def codes_raised(app: str) -> set[str]:
    """String literals passed as ``code=``/``violation_error_code=`` in the app's code."""
    found: set[str] = set()
    for path in (ROOT / app).rglob("*.py"):
        if (
            "migrations" in path.parts
            or "management" in path.parts
            or path.name == "error_codes.py"
        ):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or _name(node.func) not in ERROR_CALLS:
                continue
            for kw in node.keywords:
                if kw.arg in ("code", "violation_error_code") and isinstance(
                    kw.value, ast.Constant
                ):
                    if isinstance(kw.value.value, str):
                        found.add(kw.value.value)
    return found


@pytest.mark.parametrize("app", sorted(APPS))
def test_every_error_code_an_app_raises_is_in_its_enum(app):
    enum = getattr(importlib.import_module(f"{app}.error_codes"), APPS[app])
    declared = {member.value for member in enum}
    assert codes_raised(app) - declared == set()
    # members are snake_case and unique
    assert all(v == v.lower() and " " not in v for v in declared)
    assert len(declared) == len(list(enum))


@pytest.mark.parametrize("app", sorted(APPS))
def test_every_app_enum_is_an_error_code_whose_members_are_their_values(app):
    from schools.errors import ErrorCode

    enum = getattr(importlib.import_module(f"{app}.error_codes"), APPS[app])
    assert issubclass(enum, ErrorCode)
    # clients compare the plain string: a member is its value (ErrorCode is a StrEnum)
    member = next(iter(enum))
    assert member == member.value and str(member) == member.value
