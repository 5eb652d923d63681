"""django-q2 entry points of the exchange (R28). Thin: ids or dates in, one service call."""

import logging

from django.utils import timezone

from exchange import services
from exchange.models import RunTrigger
from exchange.schedule import in_night_window

logger = logging.getLogger(__name__)


def nightly_exchange() -> int | None:
    """The ``exchange-nightly`` schedule: run the exchange for today, inside the night window
    only (R47: no catch-up at noon when a cluster starts after a missed night)."""
    if not in_night_window():
        logger.warning("Nightly exchange skipped: %s is outside the night window", timezone.now())
        return None
    return services.exchange_run(as_of=timezone.localdate(), trigger=RunTrigger.SCHEDULE).pk


def start_run(run_id: int) -> None:
    """A run queued by the API or the admin."""
    services.exchange_run_start(run_id=run_id)


def run_school_part(run_id: int, tech_school_id: int) -> None:
    """One technical school's share of a run."""
    services.exchange_run_school(run_id=run_id, tech_school_id=tech_school_id)


def oneroster_import(import_id: int) -> None:
    """An uploaded OneRoster set (R50)."""
    from exchange.oneroster.services import oneroster_import_run

    oneroster_import_run(import_id=import_id)


def watchdog() -> dict[str, int]:
    """The ``exchange-watchdog`` schedule (R46)."""
    return services.exchange_watchdog()
