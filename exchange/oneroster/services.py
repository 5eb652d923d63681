"""OneRoster imports as recorded jobs (R50): create, run (django-q2 or the command), report."""

from __future__ import annotations

import logging
from pathlib import Path

from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.utils import timezone

from exchange.models import Import, ImportStatus
from exchange.oneroster.importer import import_set
from exchange.oneroster.plan import Plan
from exchange.oneroster.reader import Progress, read_set
from schools.actors import Actor, user_or_none

logger = logging.getLogger(__name__)
# The columns of an import's counts; ``deactivated`` (users) and ``removed`` (roles) count
# what deletions took from staff (R50).
ACTIONS = ("added", "updated", "ended", "deactivated", "removed", "unchanged")


def may_import(user: Actor) -> bool:
    """District admins (their own district's orgs, R41) and state admins import sets."""
    from schools.access import grants_for, is_state_admin

    return bool(
        user is not None
        and user.is_authenticated
        and (is_state_admin(user) or grants_for(user).admin_districts)
    )


def oneroster_import_create(*, payload: bytes, file_name: str, dry_run: bool, by: Actor) -> Import:
    """A queued import of an uploaded zip; ``oneroster_import_run`` does the work."""
    return Import.objects.create(
        payload=payload, file_name=file_name[:255], dry_run=dry_run, requested_by=user_or_none(by)
    )


def oneroster_import_upload(*, upload: UploadedFile[bytes], dry_run: bool, by: Actor) -> Import:
    """The upload page and the API: record the uploaded zip as a queued import and hand it
    to django-q2 (R50)."""
    record = oneroster_import_create(
        payload=upload.read(), file_name=upload.name or "", dry_run=dry_run, by=by
    )
    return oneroster_import_queue(record)


def _finish(record: Import, plan: Plan) -> Import:
    record.counts = {name: dict(c) for name, c in plan.counts.items()}
    record.errors = [issue.as_dict() for issue in plan.issues]
    record.status = ImportStatus.REFUSED if plan.issues else ImportStatus.SUCCEEDED
    record.finished_at = timezone.now()
    record.save(update_fields=["counts", "errors", "status", "finished_at", "payload"])
    logger.info("oneroster import %s: %s", record.pk, record.status)
    return record


def _run(record: Import, source: Path | str | bytes, progress: Progress | None = None) -> Import:
    # Claim the queued import (a task delivered twice does nothing the second time).
    claimed = Import.objects.filter(pk=record.pk, status=ImportStatus.QUEUED).update(
        status=ImportStatus.RUNNING, started_at=timezone.now()
    )
    if not claimed:
        return record
    record.refresh_from_db(fields=["status", "started_at"])
    try:
        rs = read_set(source, progress=progress)
        record.payload = None
        plan = import_set(rs, dry_run=record.dry_run, user=record.requested_by, import_id=record.pk)
    except Exception as exc:  # recorded for the page and the API, then re-raised
        record.status = ImportStatus.FAILED
        record.errors = [
            {"file": "", "line": None, "sourced_id": "", "field": "", "message": repr(exc)[:500]}
        ]
        record.finished_at = timezone.now()
        record.save(update_fields=["status", "errors", "finished_at"])
        raise
    return _finish(record, plan)


def oneroster_import_run(*, import_id: int) -> Import:
    """Run a queued import from its uploaded zip."""
    record = Import.objects.get(pk=import_id)
    return _run(record, bytes(record.payload or b""))


def oneroster_import_path(
    *,
    path: Path | str,
    dry_run: bool = False,
    by: Actor = None,
    progress: Progress | None = None,
) -> Import:
    """``manage.py import_oneroster``: import the set at ``path`` (a zip or a folder)."""
    record = Import.objects.create(
        file_name=str(path)[-255:], dry_run=dry_run, requested_by=user_or_none(by)
    )
    return _run(record, path, progress)


def oneroster_import_queue(record: Import) -> Import:
    """Hand the import to django-q2 (inline when the cluster runs in sync mode)."""
    from django.conf import settings

    if settings.Q_CLUSTER.get("sync"):
        try:
            return oneroster_import_run(import_id=record.pk)
        except Exception:  # recorded on the import as failed
            logger.exception("oneroster import %s failed", record.pk)
            record.refresh_from_db()
            return record
    from django_q.tasks import async_task

    async_task(
        "exchange.tasks.oneroster_import", record.pk, task_name=f"oneroster-import-{record.pk}"
    )
    return record


def imports_visible_to(user: Actor) -> QuerySet[Import]:
    """State admins see every import; district admins the ones they started."""
    from schools.access import is_state_admin

    qs = Import.objects.defer("payload").select_related("requested_by")
    if is_state_admin(user):
        return qs
    if not may_import(user):
        return qs.none()
    return qs.filter(requested_by=user_or_none(user))
