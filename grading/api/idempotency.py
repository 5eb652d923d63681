"""R49: ``Idempotency-Key`` for API writes that clients retry (bulk grade posts).

The key is stored with the user, a SHA-256 of the request body (canonical JSON), the answer
and an expiry (``IDEMPOTENCY_KEY_HOURS``). Claiming the key and doing the write share one
transaction, so of two requests with the same key at the same time the second waits on the
first's unique row and then replays its answer; a request that fails stores nothing.
"""

import datetime as dt
import hashlib
import json
from functools import wraps

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import status
from rest_framework.response import Response

from grading.models import IdempotencyKey

HEADER = "Idempotency-Key"


def _body_hash(data) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(record: IdempotencyKey, body_hash: str) -> Response:
    if record.body_hash != body_hash:
        return Response(
            {
                "detail": f"This {HEADER} was already used for a different request body; "
                "send a new key for a new request.",
                "code": "idempotency_key_reused",
            },
            status=status.HTTP_422_UNPROCESSABLE_ENTITY,
        )
    return Response(
        record.response, status=record.status_code, headers={"Idempotent-Replayed": "true"}
    )


def idempotent(view):
    """Decorate a DRF view method: honour the ``Idempotency-Key`` header when given."""

    @wraps(view)
    def wrapped(self, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if not key:
            return view(self, request, *args, **kwargs)
        if len(key) > 255 or not key.isprintable():
            return Response(
                {
                    "detail": f"Send an {HEADER} of at most 255 printable characters.",
                    "code": "invalid",
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        body_hash = _body_hash(request.data)
        now = timezone.now()
        IdempotencyKey.objects.filter(expires_at__lte=now).delete()
        with transaction.atomic():
            try:
                with transaction.atomic():
                    record = IdempotencyKey.objects.create(
                        user=request.user,
                        key=key,
                        body_hash=body_hash,
                        status_code=0,
                        response={},
                        expires_at=now + dt.timedelta(hours=settings.IDEMPOTENCY_KEY_HOURS),
                    )
            except IntegrityError:
                record = None
            if record is None:
                return _replay(IdempotencyKey.objects.get(user=request.user, key=key), body_hash)
            response = view(self, request, *args, **kwargs)
            if not 200 <= response.status_code < 300:
                transaction.set_rollback(True)  # keep nothing: a retry is answered afresh
                return response
            record.status_code, record.response = response.status_code, response.data
            record.save(update_fields=["status_code", "response"])
            return response

    return wrapped
