"""What started a run is one of a fixed set (R28): the trigger is a TextChoices whose stored
values are the ones every entry point writes."""

import pytest
from django.core.exceptions import ValidationError

from exchange.models import ExchangeRun, RunTrigger
from tests.world import AS_OF

# Every value an entry point writes: the default, the schedule and watchdog retry, the
# dashboard page, the API, the admin action, run_exchange, the benchmarks and the tests.
WRITTEN = {"manual", "schedule", "page", "api", "admin", "command", "bench", "test"}


def test_r28_run_trigger_is_a_fixed_set():
    # given the trigger field of a run
    field = ExchangeRun._meta.get_field("trigger")

    # then it holds exactly the values the entry points write, with the old default
    assert set(RunTrigger.values) == WRITTEN
    assert {value for value, _ in field.choices} == WRITTEN
    assert field.default == RunTrigger.MANUAL == "manual"


def test_r28_run_trigger_outside_the_set_is_refused():
    # given a run with a trigger no entry point writes
    run = ExchangeRun(as_of=AS_OF, trigger="cron")

    # when it is validated, then the trigger is refused with Django's choice code
    with pytest.raises(ValidationError) as exc:
        run.full_clean()
    assert [e.code for e in exc.value.error_dict["trigger"]] == ["invalid_choice"]


@pytest.mark.django_db
def test_r28_run_trigger_stored_values_unchanged():
    # when a run is saved with a member of the set
    run = ExchangeRun.objects.create(as_of=AS_OF, trigger=RunTrigger.PAGE)

    # then the row holds the same text as before the choices were declared
    assert ExchangeRun.objects.filter(pk=run.pk).values_list("trigger", flat=True).get() == "page"
