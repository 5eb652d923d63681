"""Scoping (R36, R41): the rows a user reads and writes, computed from the registry's rules.

``scope_queryset`` turns a user's staff roles into one filter over a model's declared paths;
a model that is not in the registry gives nothing to anyone but a state admin (deny by
default). ``write_q`` / ``can_write`` / ``may`` apply the role-action table; ``fk_queryset``
limits what a write's foreign keys may point at (R41: users by ``managed_users``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model, Q, QuerySet

from schools.access.registry import REGISTRY, WRITES, Rule, _label
from schools.access.roles import (
    DISTRICT_ADMIN,
    TEACHER,
    Grants,
    grants_for,
    is_state_admin,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from schools.actors import Actor
    from schools.models import Section

M = TypeVar("M", bound=Model)


def _user_pk(user: Actor) -> int:
    """The id of a signed-in user; -1 (no row) for anyone else, so a filter finds nothing."""
    from schools.actors import user_or_none

    signed_in = user_or_none(user)
    return signed_in.pk if signed_in is not None else -1


def _p(path: str, lookup: str) -> str:
    return f"{path}__{lookup}" if path else lookup


def _school_q(paths: Iterable[str], school_ids: Collection[int]) -> Q:
    q = Q(pk__in=[])
    for path in paths:
        q |= Q(**{_p(path, "in") if path else "pk__in": school_ids})
    return q


def _district_q(
    rule: Rule, district_ids: Collection[int], *, with_district_paths: bool = True
) -> Q:
    q = Q(pk__in=[])
    for path in rule.schools:
        q |= Q(**{_p(path, "district__in"): district_ids})
    if with_district_paths:
        for path in rule.districts:
            q |= Q(**{_p(path, "in") if path else "pk__in": district_ids})
    return q


def _teacher_q(rule: Rule, user: Actor) -> Q:
    if rule.section is None:
        return Q()
    return Q(**{_p(rule.section, "teachers"): _user_pk(user)})


def _cross_school_q(rule: Rule, role: str, grants: Grants, user: Actor) -> Q:
    """R36: HS staff read their own students' rows recorded at technical schools."""
    from schools.models import Enrollment, Roster, School

    if role == DISTRICT_ADMIN:
        hs = School.objects.filter(district__in=grants.admin_districts, kind="high_school")
        students: QuerySet[Any] = Enrollment.objects.filter(
            service_type="primary", calendar__school__in=hs
        )
    else:
        hs_ids = grants.hs_ids(role)
        if not hs_ids:
            return Q(pk__in=[])
        if role == TEACHER:
            students = Roster.objects.filter(
                section__teachers=_user_pk(user), section__course__calendar__school__in=hs_ids
            )
        else:
            students = Enrollment.objects.filter(
                service_type="primary", calendar__school__in=hs_ids
            )
    return Q(**{_p(rule.student, "in"): students.values("student_id")}) & Q(
        **{_p(rule.schools[0], "kind"): "technical_school"}
    )


def _role_q(rule: Rule, role: str, grants: Grants, user: Actor, *, write: bool) -> Q:
    """Rows one role of the user reaches (reads: also state rows' districts of the schools)."""
    if role in rule.global_roles:
        return Q()
    if role == DISTRICT_ADMIN:
        q = _district_q(rule, grants.admin_districts)
        if rule.managed_user is not None:
            q &= Q(**{_p(rule.managed_user, "in"): _managed_user_ids(grants.admin_districts)})
        return q
    school_ids = grants.by_role.get(role, set())
    q = _school_q(rule.schools, school_ids)
    if not write and rule.districts:
        district_ids = {grants.school_district[s] for s in school_ids}
        for path in rule.districts:
            q |= Q(**{_p(path, "in") if path else "pk__in": district_ids})
    if role == TEACHER:
        q &= _teacher_q(rule, user)
    return q


def read_q(user: Actor, rule: Rule) -> Q | None:
    """The filter of rows ``user`` may read, or None for nothing."""
    grants = grants_for(user)
    roles = grants.roles & rule.read_roles
    if not roles:
        return None
    q = Q(pk__in=[])
    for role in roles:
        if role in rule.global_roles:
            return Q()
        q |= _role_q(rule, role, grants, user, write=False)
        if role in rule.cross_school:
            q |= _cross_school_q(rule, role, grants, user)
    if rule.state_when_null:
        q |= Q(**{_p(rule.state_when_null, "isnull"): True})
    return q


def write_q(user: Actor, label: str, action: str) -> Q | None:
    """The filter of rows ``user`` may ``action`` (inside their own scope only)."""
    rule = REGISTRY.get(label)
    table = WRITES.get(label, {})
    if rule is None:
        return None
    grants = grants_for(user)
    q = None
    for role in grants.roles:
        if action not in table.get(role, ()):
            continue
        role_q = _role_q(rule, role, grants, user, write=True)
        q = role_q if q is None else q | role_q
    return q


def scope_queryset(user: Actor, queryset: QuerySet[M]) -> QuerySet[M]:
    """Filter ``queryset`` to the records ``user`` may see (R36). Unknown model: nothing."""
    if is_state_admin(user):
        return queryset
    if user is None or not user.is_authenticated:
        return queryset.none()
    rule = REGISTRY.get(_label(queryset.model))
    if rule is None:
        return queryset.none()
    q = read_q(user, rule)
    if q is None:
        return queryset.none()
    if not q:  # Q() = every row
        return queryset
    if not _crosses_many(queryset.model, q):
        # Every path is a chain of foreign keys (subqueries aside): a row matches at most
        # once, so the filter applies in place and the planner uses the query's own
        # indexes (a semi-join would read every row of the table first).
        return queryset.filter(q)
    # A semi-join keeps rows unique however many paths (enrollments, teachers) match.
    return queryset.filter(pk__in=queryset.model._base_manager.filter(q).values("pk"))


def _crosses_many(model: type[Model], q: Q) -> bool:
    """Does a lookup of ``q`` follow a to-many relation (one that can repeat a row)?"""
    for child in q.children:
        if isinstance(child, Q):
            if _crosses_many(model, child):
                return True
            continue
        if not isinstance(child, tuple):
            continue  # a Q's children are Qs and (lookup, value) pairs
        lookup = child[0]
        opts = model._meta
        for part in str(lookup).split("__"):
            try:
                f = opts.get_field(part)
            except FieldDoesNotExist:
                break  # "pk" or a lookup ("in", "isnull"): the path ends here
            if f.many_to_many or f.one_to_many:
                return True
            if not f.is_relation or f.related_model is None:
                break
            opts = f.related_model._meta
    return False


def may(user: Actor, label: str, action: str) -> bool:
    """Does the role-action table let ``user`` ``action`` ``label`` somewhere?"""
    if is_state_admin(user):
        return True
    grants = grants_for(user)
    table = WRITES.get(label, {})
    return any(action in table.get(role, ()) for role in grants.roles)


def can_write(user: Actor, obj: Model, action: str) -> bool:
    """May ``user`` ``action`` this row (in their own write scope)?"""
    if is_state_admin(user):
        return True
    label = _label(type(obj))
    q = write_q(user, label, action)
    if q is None:
        return False
    rule = REGISTRY[label]
    if action == "create" and rule.orphan_create and not _has_school(obj, rule):
        return True
    return type(obj)._base_manager.filter(q, pk=obj.pk).exists()


def may_write_section(user: Actor, label: str, action: str, section: Section) -> bool:
    """May ``user`` ``action`` rows of ``label`` in ``section`` (a page's save of a whole
    section: attendance, grades)? The same table as the API: a role listed for the action,
    held at the section's school (a district admin: its district), and a teacher only in
    their own sections."""
    if is_state_admin(user):
        return True
    if user is None or not user.is_authenticated:
        return False
    rule = REGISTRY.get(label)
    if rule is None:
        return False
    grants = grants_for(user)
    school = section.course.calendar.school
    table = WRITES.get(label, {})
    for role in grants.roles:
        if action not in table.get(role, ()):
            continue
        if role == DISTRICT_ADMIN:
            if school.district_id in grants.admin_districts:
                return True
            continue
        if school.pk not in grants.by_role.get(role, ()):
            continue
        if role == TEACHER and rule.section is not None:
            if section.teachers.filter(pk=user.pk).exists():
                return True
            continue
        return True
    return False


def may_read(user: Actor, label: str) -> bool:
    """R42: does one of ``user``'s roles read model ``label`` at all (pages ask this exactly
    as the API's scoped querysets do; ``is_staff`` counts for nothing)."""
    if is_state_admin(user):
        return True
    if user is None or not user.is_authenticated:
        return False
    rule = REGISTRY.get(label)
    return rule is not None and read_q(user, rule) is not None


def _has_school(obj: Model, rule: Rule) -> bool:
    if not rule.schools:
        return False
    values = type(obj)._base_manager.filter(pk=obj.pk).values_list(rule.schools[0], flat=True)
    return any(v is not None for v in values)


def school_id_of(obj: Model) -> int | None:
    """The school a row belongs to (first path of its rule), for audit and tombstones."""
    rule = REGISTRY.get(_label(type(obj)))
    if rule is None or not rule.schools or obj.pk is None:
        return None
    path = rule.schools[0]
    value = (
        type(obj)
        ._base_manager.filter(pk=obj.pk)
        .values_list(path or "pk", flat=True)
        .order_by()
        .first()
    )
    return value


def _managed_user_ids(districts: Collection[int]) -> QuerySet[User, Any]:
    """Ids of the users a district admin of ``districts`` manages (R41): no superuser, and
    every role they hold inside those districts (or no role at all)."""
    from django.contrib.auth import get_user_model

    from schools.models import StaffRole

    inside = StaffRole.objects.filter(Q(district__in=districts) | Q(school__district__in=districts))
    # Negating on the roles' own pks keeps NULL district/school columns out of the logic.
    outside = StaffRole.objects.exclude(pk__in=inside.values("pk"))
    return (
        get_user_model()
        ._base_manager.filter(is_superuser=False)
        .exclude(pk__in=outside.values("user_id"))
        .values("pk")
    )


def _value_at(instance: Model, path: str) -> Any:
    """The pk at the end of ``path`` for an unsaved (or changed) ``instance``: the first step
    is read from the instance itself, the rest from the database. ``...`` when the first step
    is not a forward relation (a reverse or many-to-many path: only the saved row knows)."""
    if path == "":
        return instance.pk
    first, _, rest = path.partition("__")
    field = type(instance)._meta.get_field(first)
    if not (field.is_relation and field.concrete and not field.many_to_many):
        return ...
    fk_id = getattr(instance, field.attname)
    target = field.related_model
    if fk_id is None or not rest or not isinstance(target, type):
        return fk_id
    return target._base_manager.filter(pk=fk_id).values_list(rest, flat=True).order_by().first()


def lands_in_write_scope(user: Actor, instance: Model, action: str) -> bool:
    """Would ``instance``, as it stands (before it is saved), be inside ``user``'s scope for
    ``action``? The admin's forms ask this so an out-of-scope row is a form error, with no
    save to roll back. Rows whose scope runs through reverse relations are judged as saved."""
    if is_state_admin(user):
        return True
    label = _label(type(instance))
    rule = REGISTRY.get(label)
    table = WRITES.get(label, {})
    if rule is None:
        return False
    grants = grants_for(user)
    roles = [r for r in grants.roles if action in table.get(r, ())]
    if not roles:
        return False
    schools = [_value_at(instance, p) for p in rule.schools]
    districts = [_value_at(instance, p) for p in rule.districts]
    if rule.schools == ("",):  # a school itself: new ones are placed by their district
        districts = [getattr(instance, "district_id", None)]
    if ... in schools or ... in districts:
        if instance.pk is None:
            return action == "create" and rule.orphan_create
        return can_write(user, type(instance)._base_manager.get(pk=instance.pk), action)
    from schools.models import School

    school_districts = dict(
        School.objects.filter(pk__in=[s for s in schools if s is not None]).values_list(
            "pk", "district_id"
        )
    )
    if not any(s is not None for s in schools) and not any(d is not None for d in districts):
        return action == "create" and rule.orphan_create
    for role in roles:
        if role == DISTRICT_ADMIN:
            if any(school_districts.get(s) in grants.admin_districts for s in schools) or any(
                d in grants.admin_districts for d in districts
            ):
                return True
            continue
        if not any(s in grants.by_role.get(role, ()) for s in schools):
            continue
        if role == TEACHER and rule.section is not None:
            section_id = _value_at(instance, rule.section)
            if section_id is ... or section_id is None:
                continue
            from schools.models import Section

            if not Section.objects.filter(pk=section_id, teachers=_user_pk(user)).exists():
                continue
        return True
    return False
