"""Who the user is (R36): the roles, a user's grants read once per request, the state admin."""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from schools.access.sql import quoted_column, quoted_table

if TYPE_CHECKING:
    from schools.actors import Actor

DISTRICT_ADMIN = "district_admin"
SCHOOL_ADMIN = "school_admin"
TEACHER = "teacher"
ATTENDANCE_CLERK = "attendance_clerk"
REGISTRAR = "registrar"
SCHOOL_ROLES = frozenset({SCHOOL_ADMIN, TEACHER, ATTENDANCE_CLERK, REGISTRAR})
ALL_ROLES = SCHOOL_ROLES | {DISTRICT_ADMIN}
ADMINS = frozenset({DISTRICT_ADMIN, SCHOOL_ADMIN})
SETUP_READERS = ALL_ROLES
GRADE_READERS = frozenset({DISTRICT_ADMIN, SCHOOL_ADMIN, TEACHER, REGISTRAR})
ATTENDANCE_READERS = frozenset({DISTRICT_ADMIN, SCHOOL_ADMIN, TEACHER, ATTENDANCE_CLERK})
# R42: report cards, honor roll, eligibility and transcripts.
REGISTRAR_ROLES = frozenset({REGISTRAR, SCHOOL_ADMIN, DISTRICT_ADMIN})
SETUP = frozenset({"create", "update", "delete"})


@dataclass
class Grants:
    """A user's staff roles, read once per request."""

    admin_districts: set[int] = field(default_factory=set)
    by_role: dict[str, set[int]] = field(default_factory=dict)  # school role -> school ids
    school_kind: dict[int, str] = field(default_factory=dict)
    school_district: dict[int, int] = field(default_factory=dict)

    @property
    def any(self) -> bool:
        return bool(self.admin_districts or self.by_role)

    @property
    def roles(self) -> set[str]:
        return set(self.by_role) | ({DISTRICT_ADMIN} if self.admin_districts else set())

    def hs_ids(self, role: str) -> set[int]:
        return {s for s in self.by_role.get(role, ()) if self.school_kind.get(s) == "high_school"}


def grants_for(user: Actor) -> Grants:
    """The user's roles (cached on the user object for the request)."""
    cached: Grants | None = getattr(user, "_kts_grants", None)
    if cached is not None:
        return cached
    if user is None or not user.is_authenticated:
        return Grants()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(roles_sql("%s"), [user.pk])
        grants = grants_from_rows(cursor.fetchall())
    try:
        # Cached on the object the caller holds (a request's lazy user proxies it).
        user._kts_grants = grants  # type: ignore[attr-defined]
    except AttributeError:  # pragma: no cover - AnonymousUser-like objects
        pass
    return grants


@functools.cache  # a query text; the models and the database do not change
def roles_sql(user_id: str) -> str:
    """The query of a user's roles for the SQL expression ``user_id`` (``roles_columns``).
    Plain SQL: it runs on every request (the ORM's query building cost more than the
    query)."""
    from schools.models import StaffRole

    return (
        f"SELECT {roles_columns()} FROM {quoted_table(StaffRole)} r {_school_join()}"
        f" WHERE r.{quoted_column(StaffRole, 'user')} = {user_id}"
    )


@functools.cache
def roles_columns() -> str:
    """(role, district, school, the school's kind and district) of role ``r``, school ``s``."""
    from schools.models import School, StaffRole

    role, district, school = (quoted_column(StaffRole, n) for n in ("role", "district", "school"))
    kind, school_district = (quoted_column(School, n) for n in ("kind", "district"))
    return f"r.{role}, r.{district}, r.{school}, s.{kind}, s.{school_district}"


@functools.cache
def roles_join(user_id: str) -> str:
    """``LEFT JOIN``s of the roles ``r`` (and their schools ``s``) of the SQL expression
    ``user_id``: one row per role, or one of nulls when the user has none."""
    from schools.models import StaffRole

    return (
        f"LEFT JOIN {quoted_table(StaffRole)} r ON r.{quoted_column(StaffRole, 'user')} ="
        f" {user_id} {_school_join()}"
    )


@functools.cache
def _school_join() -> str:
    from schools.models import School, StaffRole

    return (
        f"LEFT JOIN {quoted_table(School)} s"
        f" ON s.{quoted_column(School)} = r.{quoted_column(StaffRole, 'school')}"
    )


def grants_from_rows(rows: Iterable[Sequence[Any]]) -> Grants:
    """Grants of ``roles_sql``'s rows (rows whose role is None are skipped)."""
    grants = Grants()
    for role, district_id, school_id, kind, school_district in rows:
        if role is None:
            continue
        if role == DISTRICT_ADMIN:
            grants.admin_districts.add(district_id)
        elif school_id:
            grants.by_role.setdefault(role, set()).add(school_id)
            grants.school_kind[school_id] = kind
            grants.school_district[school_id] = school_district
    return grants


def is_state_admin(user: Actor) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_superuser)


def shared_scope_key(user: Actor) -> tuple[object, ...] | None:
    """What a user's read scope depends on besides the data (issue 13): the state admin, or
    the schools of each role and the districts administered. Two users with the same key
    read the same rows of every model, so an answer computed for one may be given to the
    other (after each one's own role and scope checks). None when the scope depends on the
    user's own rows too (a teacher's sections): such answers are not shared."""
    if is_state_admin(user):
        return ("state",)
    grants = grants_for(user)
    if not grants.any or TEACHER in grants.by_role:
        return None
    return (
        tuple(sorted(grants.admin_districts)),
        tuple(sorted((role, tuple(sorted(ids))) for role, ids in grants.by_role.items())),
    )


def user_school_ids(user: Actor, roles: Collection[str] | None = None) -> set[int]:
    """Ids of the schools where ``user`` holds one of ``roles`` (any role when None).
    A district admin holds every school of their district. Superusers: every school."""
    from schools.models import School

    if is_state_admin(user):
        return set(School.objects.values_list("pk", flat=True))
    grants = grants_for(user)
    ids: set[int] = set()
    for role, school_ids in grants.by_role.items():
        if roles is None or role in roles:
            ids |= school_ids
    if grants.admin_districts and (roles is None or DISTRICT_ADMIN in roles):
        ids |= set(
            School.objects.filter(district__in=grants.admin_districts).values_list("pk", flat=True)
        )
    return ids
