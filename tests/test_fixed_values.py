"""Fields with a fixed set of values declare them (TextChoices): a value outside the set is
refused by ``full_clean`` with Django's ``invalid_choice`` code."""

import pytest
from django.core.exceptions import ValidationError

from attendance.models import AttendanceAction, AttendanceHistory
from grading.models import TranscriptLineAction, TranscriptLineHistory


@pytest.mark.parametrize(
    ("model", "choices", "expected"),
    [
        (TranscriptLineHistory, TranscriptLineAction, {"posted", "updated", "accepted", "kept"}),
        (AttendanceHistory, AttendanceAction, {"create", "update", "resolve"}),
    ],
)
def test_r34_r43_history_actions_are_a_fixed_set(model, choices, expected):
    # then the field holds exactly the values the services write
    field = model._meta.get_field("action")
    assert set(choices.values) == expected
    assert {value for value, _ in field.choices} == expected

    # and another value is refused
    with pytest.raises(ValidationError) as exc:
        field.clean("deleted", model())
    assert exc.value.code == "invalid_choice"
