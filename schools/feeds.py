"""Change feeds (R40): how an API client stays in sync without a full resync.

1. The first time, pull the full lists (``grades``, ``attendance``, ``rosters``) and note the
   time the pull started (the server's clock: the ``Date`` header).
2. Afterwards, pull ``?changed_since=<that time>`` on each list: every row created or changed
   since, including ended rosters (ending a roster sets its ``end_date`` and bumps its
   ``modified_at``).
3. Pull ``GET /api/v1/deletions/?changed_since=<that time>&model=grading.Grade`` for rows
   deleted since (``model`` optional; ``object_id`` is the id the client holds).
4. Use the start time of this pull as the next ``changed_since``. Overlap is harmless: a row
   seen twice is just upserted again by id.

``changed_since`` is an ISO 8601 timestamp (``2026-11-28T06:00:00Z``; without an offset it
is read in the server's time zone); a malformed one answers 400. Every list whose model has a
``modified_at`` column accepts it.
"""

import datetime as dt

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.filters import BaseFilterBackend

PARAM = "changed_since"


def parse_changed_since(raw: str) -> dt.datetime:
    """Parse ``changed_since``; 400 with a message that says what to send when malformed."""
    try:
        value = parse_datetime(raw.strip())
        if value is None:
            day = parse_date(raw.strip())
            value = dt.datetime.combine(day, dt.time.min) if day else None
    except ValueError:
        value = None
    if value is None:
        raise ValidationError(
            {
                PARAM: [
                    serializers.ErrorDetail(
                        "Give an ISO 8601 timestamp, e.g. 2026-11-28T06:00:00Z.",
                        code="invalid_timestamp",
                    )
                ]
            }
        )
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    # Normalise to UTC: the database refuses odd offsets (e.g. -23:52) with a DataError.
    try:
        return value.astimezone(dt.UTC)
    except OverflowError:
        raise ValidationError(
            {
                PARAM: [
                    serializers.ErrorDetail(
                        "Give a timestamp between years 1 and 9999.", code="invalid_timestamp"
                    )
                ]
            }
        ) from None


class ChangedSinceFilter(BaseFilterBackend):
    """``?changed_since=`` on any list whose model has ``modified_at`` (or the view's
    ``changed_since_field``): rows changed strictly after the timestamp (R40)."""

    def filter_queryset(self, request, queryset, view):
        raw = request.query_params.get(PARAM)
        if raw is None or raw == "":
            return queryset
        field = getattr(view, "changed_since_field", "modified_at")
        names = {f.name for f in queryset.model._meta.get_fields()}
        if field not in names:
            return queryset
        return queryset.filter(**{f"{field}__gt": parse_changed_since(raw)})

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": PARAM,
                "required": False,
                "in": "query",
                "description": "Only rows changed after this ISO 8601 timestamp (R40).",
                "schema": {"type": "string", "format": "date-time"},
            }
        ]
