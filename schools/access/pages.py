"""Pages and the admin site ask the same table as the API (R42); ``is_staff`` grants nothing.

For page authors::

    school = require_school_role(request, school_id, roles={"attendance_clerk", "school_admin"})
    # 404 when the school is outside the user's scope, 403 when in scope without such a role.
    school = report_school_or_404(request.user, "honor-roll", "csv", school_id)
    # 404 for every role the report table does not list, on every form (R42).
    section = scoped_get_or_404(request.user, Section.objects.all(), pk=section_id)
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from schools.access.registry import REPORTS
from schools.access.roles import ADMINS, DISTRICT_ADMIN, grants_for, is_state_admin, user_school_ids
from schools.access.scoping import scope_queryset


def report_school_ids(user, name: str, form: str) -> set[int]:
    """Ids of the schools whose report ``name`` ``user`` may read in ``form`` (R42)."""
    from schools.models import School

    report = REPORTS[name]
    if form not in report.forms:
        return set()
    ids = user_school_ids(user, set(report.roles))
    return set(
        School.objects.filter(pk__in=ids, kind__in=report.kinds).values_list("pk", flat=True)
    )


def may_read_report(user, name: str, form: str, school_id) -> bool:
    """R42: may ``user`` read report ``name`` of school ``school_id`` in ``form``?"""
    try:
        school_id = int(school_id)
    except (TypeError, ValueError):
        return False
    if not (user is not None and user.is_authenticated):
        return False
    return school_id in report_school_ids(user, name, form)


def report_school_or_404(user, name: str, form: str, school_id):
    """The School of report ``name`` for ``user``, or 404: out of scope and out of role
    answer alike (R42), on every form - unless the report declares 403 for staff of the
    school without the role."""
    from schools.models import School

    if not may_read_report(user, name, form, school_id):
        if REPORTS[name].in_scope_refusal == 403 and _works_at(user, school_id):
            raise PermissionDenied("Your role may not open this page.")
        raise Http404
    return School.objects.get(pk=int(school_id))


def report_scope_first(user, name: str, form: str, school_id=None, *, known: bool = True) -> None:
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


def _works_at(user, school_id) -> bool:
    try:
        return int(school_id) in user_school_ids(user)
    except (TypeError, ValueError):
        return False


def require_school_role(request, school_id, roles=None):
    """The School for a page, or 404 when it is outside the user's scope and 403 when the
    user works there without one of ``roles`` (district admins count as every role)."""
    from schools.models import School

    user = request.user
    try:
        school_id = int(school_id)
    except (TypeError, ValueError) as exc:
        raise Http404 from exc
    if not user_school_ids(user) or school_id not in user_school_ids(user):
        raise Http404
    if roles is not None and not is_state_admin(user):
        if school_id not in user_school_ids(user, set(roles) | {DISTRICT_ADMIN}):
            raise PermissionDenied("Your role may not open this page.")
    return School.objects.get(pk=school_id)


def admin_site_allowed(user) -> bool:
    """R42: the admin site is for the state admin and the district and school admins (their
    own setup); ``is_staff`` alone opens nothing."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or bool(grants_for(user).roles & ADMINS)


def scoped_get_or_404(user, queryset: QuerySet, **lookup):
    """``get_object_or_404`` over the user's scope (R36: out of scope answers 404)."""
    try:
        return scope_queryset(user, queryset).get(**lookup)
    except queryset.model.DoesNotExist as exc:
        raise Http404 from exc
