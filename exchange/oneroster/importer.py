"""Import a OneRoster 1.2 CSV set (R50): plan everything in memory, check it all, then write.

The plan reads what exists with a few set-based queries (no query per row), matches each
row first on its ``sourcedId`` and then on the natural key the models hold unique (a
school's code in its district, a calendar's school year, a course's number, a student's
state id...), and records what to add, update and end. Every row is checked by the same
rules as the API — the models' field validation (``clean_fields``) and R1-R3 computed over
the whole set — before anything is written; one bad row refuses the whole set. The writes
are ``bulk_create`` (COPY on PostgreSQL for the rows nothing points at) and ``bulk_update``
in batches, in one transaction. The steps live in ``plan_orgs``, ``plan_people`` and
``plan_rosters``; ``plan`` holds what they share.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import ForeignObject, Model, Q
from django.utils import timezone

from exchange import bulk
from exchange.models import SourcedUser
from exchange.oneroster.plan import ADDED, DEACTIVATED, ENDED, REMOVED, UPDATED, Plan
from exchange.oneroster.plan_deletions import DeletionsMixin
from exchange.oneroster.plan_orgs import OrgsMixin
from exchange.oneroster.plan_people import PeopleMixin
from exchange.oneroster.plan_rosters import RostersMixin
from exchange.oneroster.reader import RosterSet
from schools import versions
from schools.actors import Actor, user_or_none
from schools.models import (
    AuditEntry,
    Calendar,
    Course,
    District,
    Enrollment,
    Roster,
    School,
    Section,
    StaffRole,
    Student,
    Term,
)
from schools.services.writes import record_delete


class Planner(OrgsMixin, PeopleMixin, RostersMixin, DeletionsMixin):
    """Builds the :class:`Plan` of one set. ``user`` None = the command line (state scope)."""

    def build(self) -> Plan:
        if self.plan.issues:  # the files themselves are unreadable: stop here
            return self.plan
        self._duplicates()
        self.plan_orgs()
        self.check_scope()
        self.read_sessions()
        self.plan_classes()
        self.plan_users()
        self.plan_roles()
        self.plan_enrollments()
        self.plan_deletions()
        # A session shared by several schools is checked once per school: report it once.
        self.plan.issues = list(dict.fromkeys(self.plan.issues))
        return self.plan


WRITE_ORDER: list[type[Model]] = [
    District,
    School,
    Calendar,
    Term,
    Course,
    Section,
    Student,
    Enrollment,
]


def _batch() -> int:
    size: int = getattr(settings, "EXCHANGE_BATCH_SIZE", 2000)
    return size


# Rows nothing else points at: written with COPY on PostgreSQL (``exchange.bulk.insert``),
# the fastest path the server has; their ids are not needed afterwards.
COPIED = (Enrollment, StaffRole, Roster)


def write(plan: Plan, *, by: Actor = None) -> None:
    """Apply ``plan`` in one transaction (the caller holds it)."""
    User = get_user_model()
    batch = _batch()
    now = timezone.now()
    order: list[type[Model]] = [*WRITE_ORDER, User, StaffRole, Roster]
    for model in order:
        creates = plan.creates.get(model, [])
        relations = [f for f in model._meta.concrete_fields if isinstance(f, ForeignObject)]
        for obj in creates:
            # An unsaved parent got its id when it was written just before: copy it over.
            for f in relations:
                if f.is_cached(obj):
                    parent = getattr(obj, f.name)
                    if parent is not None and parent.pk is not None:
                        setattr(obj, f.attname, parent.pk)
        if creates and model in COPIED:
            for obj in creates:
                setattr(obj, "created_at", now)  # noqa: B010 (COPY runs no pre_save())
                setattr(obj, "modified_at", now)  # noqa: B010
            bulk.insert(creates)
        elif creates:
            model._default_manager.bulk_create(creates, batch_size=batch)
        updates = plan.updates.get(model)
        if updates:
            model._default_manager.bulk_update(
                list(updates.values()), sorted(plan.update_fields[model]), batch_size=batch
            )
        if model is User and plan.sourced_users:
            for link in plan.sourced_users:
                link.district_id = link.district.pk
                link.user_id = link.user.pk
            SourcedUser.objects.bulk_create(plan.sourced_users, batch_size=batch)
    Through = Section.teachers.through
    if plan.teacher_links:
        Through.objects.bulk_create(
            [Through(section_id=s.pk, user_id=u.pk) for s, u in plan.teacher_links],
            batch_size=batch,
            ignore_conflicts=True,
        )
    if plan.teacher_unlinks:
        q = Q()
        for section_id, user_id in plan.teacher_unlinks:
            q |= Q(section_id=section_id, user_id=user_id)
        Through.objects.filter(q).delete()
    if plan.role_removals:
        # R37/R40: each role removed gets its audit entry and its deletion record, as the
        # API's and the admin's deletes do.
        record_delete(instances=plan.role_removals, by=by)
    if plan.deactivations:
        User.objects.filter(pk__in=plan.deactivations).update(is_active=False)
        AuditEntry.objects.bulk_create(
            AuditEntry(
                user=user_or_none(by),
                action="update",
                model=User._meta.label,
                object_id=pk,
                changes=["is_active"],
            )
            for pk in plan.deactivations
        )


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """The plan allocates a few hundred thousand objects with no reference cycles; the
    cyclic collector would walk them all again and again (most of a large import's time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def import_set(
    rs: RosterSet, *, dry_run: bool = False, user: Actor = None, import_id: int | None = None
) -> Plan:
    """R50: check the whole set, then write it in one transaction, or write nothing. The
    write is attributed (R37) by one audit entry naming the import and the files changed."""
    with _no_cyclic_gc(), transaction.atomic():
        plan = Planner(rs, user=user).build()
        if not plan.issues and not dry_run:
            write(plan, by=user)
            if plan.rows_written:
                versions.bump_setup()  # issue 13: cached reports read the rows just written
            if plan.rows_written:
                AuditEntry.objects.create(
                    user=user_or_none(user),
                    action="import",
                    model="exchange.Import",
                    object_id=import_id,
                    changes=sorted(
                        f"{name}.csv"
                        for name, c in plan.counts.items()
                        if any(c.get(a) for a in (ADDED, UPDATED, ENDED, DEACTIVATED, REMOVED))
                    ),
                )
    if not dry_run and plan.rows_written >= ANALYZE_AFTER and connection.vendor == "postgresql":
        _analyze(plan)
    return plan


ANALYZE_AFTER = 10_000  # rows: a district's first load changes the tables' shape


def _analyze(plan: Plan) -> None:
    """Refresh the planner's statistics of the tables a large import filled, so the next
    reads (the exchange tonight, a re-import) are not planned for empty tables while
    autovacuum has not come round yet."""
    bulk.analyze(m for m, objs in plan.creates.items() if objs)
