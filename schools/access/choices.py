"""What a write's foreign keys may point at (R36, R41): records in the user's scope, the
users a district admin manages, the teachers a section may name."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from django.db.models import Model, Q, QuerySet

from schools.access.registry import REGISTRY, _label
from schools.access.roles import TEACHER, grants_for, is_state_admin
from schools.access.scoping import _managed_user_ids, scope_queryset

if TYPE_CHECKING:
    from schools.actors import Actor

M = TypeVar("M", bound=Model)


def managed_users(user: Actor, queryset: QuerySet[M]) -> QuerySet[M]:
    """R41: the users ``user`` may create, edit, give roles to, reset the password of or
    deactivate. A state admin: everyone. A district admin: users whose every role is inside
    their district(s), plus users without any role; never a superuser. Anyone else: nobody.
    Everyone else is out of scope - not found, exactly like an id that does not exist."""
    if is_state_admin(user):
        return queryset
    districts = grants_for(user).admin_districts
    if not districts:
        return queryset.none()
    return queryset.filter(pk__in=_managed_user_ids(districts))


def teacher_choices(user: Actor, queryset: QuerySet[M]) -> QuerySet[M]:
    """R41: who may be named a section's teacher by ``user``: holders of a teacher role at a
    school ``user`` sees (the section's own school is checked by ``Section.clean_teachers``)."""
    from schools.models import School, StaffRole

    if is_state_admin(user):
        return queryset
    schools = scope_queryset(user, School.objects.all()).values("pk")
    holders = StaffRole.objects.filter(role=TEACHER, school__in=schools).values("user_id")
    return queryset.filter(pk__in=holders)


def user_fk_queryset(
    user: Actor, owner_model: type[Model] | None, field_name: str, queryset: QuerySet[M]
) -> QuerySet[M] | None:
    """The users a write's ``field_name`` may name (R41), or None when the rule says nothing."""
    rule = REGISTRY.get(_label(owner_model)) if owner_model is not None else None
    kind = dict(rule.user_fks).get(field_name) if rule is not None else None
    if kind == "managed":
        return managed_users(user, queryset)
    if kind == "teacher":
        return teacher_choices(user, queryset)
    return None


def fk_queryset(
    user: Actor, owner_model: type[Model] | None, field_name: str, queryset: QuerySet[M]
) -> QuerySet[M]:
    """What a write's foreign key ``field_name`` may point at: records in the user's scope,
    so a PATCH cannot move a row into another school (R36). Not limited: a rule's
    ``open_fks`` and targets that are not scoped models (users). An enrollment may also
    name a student nobody has enrolled yet (created a moment ago by the same school)."""
    rule = REGISTRY.get(_label(owner_model)) if owner_model is not None else None
    if rule is not None and field_name in rule.open_fks:
        return queryset
    people = user_fk_queryset(user, owner_model, field_name, queryset)
    if people is not None:
        return people
    if _label(queryset.model) not in REGISTRY:
        return queryset
    scoped = scope_queryset(user, queryset)
    if rule is not None and field_name in rule.fk_new_students:
        from schools.models import Enrollment

        return queryset.filter(
            Q(pk__in=scoped.values("pk")) | ~Q(pk__in=Enrollment.objects.values("student_id"))
        )
    return scoped
