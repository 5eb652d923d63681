"""Pages and the admin site ask the same table as the API (R42); ``is_staff`` grants nothing.

For page authors::

    school = require_school_role(request, school_id, roles={"attendance_clerk", "school_admin"})
    # 404 when the school is outside the user's scope, 403 when in scope without such a role.
    school = report_school_or_404(request.user, "honor-roll", "csv", school_id)
    # 404 for every role the report table does not list, on every form (R42).
    section = scoped_get_or_404(request.user, Section.objects.all(), pk=section_id)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest

from schools.access.registry import REPORTS
from schools.access.roles import ADMINS, DISTRICT_ADMIN, grants_for, is_state_admin, user_school_ids
from schools.access.scoping import scope_queryset

if TYPE_CHECKING:
    from schools.actors import Actor
    from schools.models import School

M = TypeVar("M", bound=Model)


def report_school_ids(user: Actor, name: str, form: str) -> set[int]:
    """Ids of the schools whose report ``name`` ``user`` may read in ``form`` (R42)."""
    from schools.models import School

    report = REPORTS[name]
    if form not in report.forms:
        return set()
    ids = user_school_ids(user, set(report.roles))
    grants = None if is_state_admin(user) else grants_for(user)
    if grants is not None and not grants.admin_districts:
        # Issue 13: the kinds of a user's own schools came with their roles: no query.
        return {pk for pk in ids if grants.school_kind.get(pk) in report.kinds}
    return set(
        School.objects.filter(pk__in=ids, kind__in=report.kinds).values_list("pk", flat=True)
    )


def may_read_report(user: Actor, name: str, form: str, school_id: object) -> bool:
    """R42: may ``user`` read report ``name`` of school ``school_id`` in ``form``?"""
    try:
        pk = int(school_id)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return False
    if not (user is not None and user.is_authenticated):
        return False
    return pk in report_school_ids(user, name, form)


def report_school_or_404(user: Actor, name: str, form: str, school_id: Any) -> School:
    """The School of report ``name`` for ``user``, or 404: out of scope and out of role
    answer alike (R42), on every form - unless the report declares 403 for staff of the
    school without the role."""
    from schools.models import School

    report_access_or_404(user, name, form, school_id)
    return School.objects.get(pk=int(school_id))


def report_access_or_404(user: Actor, name: str, form: str, school_id: Any) -> None:
    """``report_school_or_404`` for a caller that holds the school already (no query for
    it): the same refusals."""
    if not may_read_report(user, name, form, school_id):
        if REPORTS[name].in_scope_refusal == 403 and _works_at(user, school_id):
            raise PermissionDenied("Your role may not open this page.")
        raise Http404


def report_scope_first(
    user: Actor, name: str, form: str, school_id: object = None, *, known: bool = True
) -> None:
    """R42: role and scope come before a report's query is validated. A user the report
    does not list, or a well-formed school id outside their scope (or, with
    ``known=False``, a school the caller could not find), answers 404 whatever the other
    parameters are: a bad ``term`` tells nothing. A malformed or missing school id is left
    to the query's validation (400) for users who hold the report's role somewhere; the
    state admin reads every school, so validation answers first for them."""
    if is_state_admin(user):
        return
    allowed = report_school_ids(user, name, form) if user is not None else set()
    if not allowed or not known:
        raise Http404
    raw = "" if school_id is None else str(school_id)
    if raw.isascii() and raw.isdigit() and int(raw) not in allowed:
        raise Http404


def _works_at(user: Actor, school_id: Any) -> bool:
    try:
        return int(school_id) in user_school_ids(user)
    except (TypeError, ValueError):
        return False


def require_school_role(
    request: HttpRequest, school_id: object, roles: Iterable[str] | None = None
) -> School:
    """The School for a page, or 404 when it is outside the user's scope and 403 when the
    user works there without one of ``roles`` (district admins count as every role)."""
    from schools.models import School

    user = request.user
    try:
        pk = int(school_id)  # type: ignore[call-overload]
    except (TypeError, ValueError) as exc:
        raise Http404 from exc
    if not user_school_ids(user) or pk not in user_school_ids(user):
        raise Http404
    if roles is not None and not is_state_admin(user):
        if pk not in user_school_ids(user, set(roles) | {DISTRICT_ADMIN}):
            raise PermissionDenied("Your role may not open this page.")
    return School.objects.get(pk=pk)


def admin_site_allowed(user: Actor) -> bool:
    """R42: the admin site is for the state admin and the district and school admins (their
    own setup); ``is_staff`` alone opens nothing."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or bool(grants_for(user).roles & ADMINS)


def scoped_get_or_404(user: Actor, queryset: QuerySet[M], **lookup: Any) -> M:
    """``get_object_or_404`` over the user's scope (R36: out of scope answers 404)."""
    try:
        return scope_queryset(user, queryset).get(**lookup)
    except ObjectDoesNotExist as exc:  # the model's DoesNotExist
        raise Http404 from exc
