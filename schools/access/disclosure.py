"""The disclosure log (R37, R43, FERPA 99.32): HS staff reading a technical school's records.

log_disclosure(user=request.user, reader_school_id=hs.id, source_school_id=tech_id,
               resource="tech-attendance", student_ids=[...])
log_cross_school_reads(user, rows, resource="grades")  # finds sources and readers itself
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from django.db.models import Model

from schools.access.registry import REGISTRY, _label
from schools.access.roles import is_state_admin, user_school_ids
from schools.access.scoping import _p

if TYPE_CHECKING:
    from schools.actors import Actor
    from schools.models import DisclosureLog


SCHOOL_HINT = "kts_school_id"


def log_disclosure(
    *,
    user: Actor,
    reader_school_id: int | None,
    source_school_id: int | None,
    resource: str,
    student_ids: Iterable[int | str],
    record_count: int | None = None,
    purpose: str = "",
) -> DisclosureLog | None:
    """Record that ``user`` (at ``reader_school_id``) read records of ``source_school_id``.

    Internal student keys only - never names (R37). Returns the DisclosureLog row, or None
    when nothing was disclosed.
    """
    from schools.actors import user_or_none
    from schools.models import DisclosureLog

    ids = sorted({int(s) for s in student_ids})
    if not ids:
        return None
    return DisclosureLog.objects.create(
        user=user_or_none(user),
        reader_school_id=reader_school_id,
        source_school_id=source_school_id,
        resource=resource[:50],
        student_ids=ids,
        record_count=record_count if record_count is not None else len(ids),
        purpose=purpose[:200],
    )


def log_cross_school_reads(user: Actor, objs: Sequence[Model], *, resource: str) -> None:
    """R37: log HS staff reading rows of a technical school (grades, attendance).

    ``objs`` are rows of one model; rows at the user's own schools are not disclosures.
    One query to find each row's school, one log row per source school.
    """
    if not objs or is_state_admin(user):
        return
    model = type(objs[0])
    rule = REGISTRY.get(_label(model))
    if rule is None or not rule.cross_school:
        return
    own = user_school_ids(user)
    # Issue 13: rows read with their school (``kts_school_id``, annotated by the list that
    # read them with the rule's first path) need no query when all are at the user's own.
    hints = {getattr(o, SCHOOL_HINT, None) for o in objs}
    if None not in hints and hints <= own:
        return
    rows = list(
        model._base_manager.filter(pk__in=[o.pk for o in objs])
        .exclude(**{_p(rule.schools[0], "in"): own})
        .values_list(rule.schools[0], rule.student)
        .order_by()
    )
    if not rows:
        return
    readers = _reader_schools(user, own, {student for _, student in rows})
    fallback = readers.pop(None, None)
    # (reader HS, source tech school) -> students, record count
    groups: dict[tuple[int | None, int], list[int]] = {}
    for school_id, student_id in rows:
        groups.setdefault((readers.get(student_id, fallback), school_id), []).append(student_id)
    for (reader, source), students in groups.items():
        log_disclosure(
            user=user,
            reader_school_id=reader,
            source_school_id=source,
            resource=resource,
            student_ids=students,
            record_count=len(students),
        )


def _reader_schools(
    user: Actor, own: set[int], student_ids: set[int]
) -> dict[int | None, int | None]:
    """R43: the reader's own school for each student - the user's high school where the
    student holds their primary enrollment (a district admin reading a North HS student is
    logged under North HS). Key None: the fallback when no such enrollment is found."""
    from schools.models import Enrollment, School

    hs_ids = set(School.objects.filter(pk__in=own, kind="high_school").values_list("pk", flat=True))
    readers: dict[int | None, int | None] = {
        student: school
        for student, school in Enrollment.objects.filter(
            student_id__in=student_ids, service_type="primary", calendar__school_id__in=hs_ids
        )
        .order_by("school_year", "pk")  # the latest year wins
        .values_list("student_id", "calendar__school_id")
    }
    ordered = sorted(hs_ids) or sorted(own)
    readers[None] = ordered[0] if ordered else None
    return readers
