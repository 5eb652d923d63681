"""R4/R10: credit types (the transcript's credit kinds)."""

from __future__ import annotations

from grading.models import CreditType
from grading.services.district_rows import district_row_delete, district_row_save
from schools.actors import Actor
from schools.models import District


def credit_type_save(
    *, credit_type: CreditType | None, name: str, district: District | None, by: Actor = None
) -> CreditType:
    """Create or update a credit type; state credit types are for superusers only (R4)."""
    return district_row_save(row=credit_type or CreditType(), name=name, district=district, by=by)


def credit_type_delete(*, credit_type: CreditType, by: Actor = None) -> None:
    district_row_delete(row=credit_type, users="course tasks", by=by)
