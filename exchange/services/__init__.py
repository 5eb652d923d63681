"""The exchange runner (R28, R29, R39) and KTS link writes (R17).

A run is split into one part per technical school. Each part runs the flows - enrollments
(R18), grades (R19-R24), unknown attendance (R27) - and saves its outcomes and its status in
one transaction, so a failure or a kill leaves that school's work either fully applied or
not at all; every run reconciles the whole school year, so the next run completes it.
Parts are django-q2 tasks (clusters sharing a broker share the night) or run inline.

One module per entity: :mod:`.runs` (a run's life), :mod:`.parts` (one school's part),
:mod:`.settle` (R22 at a run's start), :mod:`.watchdog` (R46), :mod:`.links` (R17) and
:mod:`.base` (what they share). The names below are the runner's public ones.
"""

from exchange.services.base import (
    ACTIONS,
    ACTIVE,
    ANOTHER_RUN,
    RUN_LOCK_KEY,
    count_outcomes,
    empty_counts,
    merge_counts,
    school_year_of,
)
from exchange.services.links import kts_link_create
from exchange.services.parts import exchange_run_school
from exchange.services.runs import (
    exchange_run,
    exchange_run_cancel,
    exchange_run_create,
    exchange_run_request,
    exchange_run_start,
    tech_school_ids,
)
from exchange.services.watchdog import exchange_watchdog

__all__ = [
    "ACTIONS",
    "ACTIVE",
    "ANOTHER_RUN",
    "RUN_LOCK_KEY",
    "count_outcomes",
    "empty_counts",
    "exchange_run",
    "exchange_run_cancel",
    "exchange_run_create",
    "exchange_run_request",
    "exchange_run_school",
    "exchange_run_start",
    "exchange_watchdog",
    "kts_link_create",
    "merge_counts",
    "school_year_of",
    "tech_school_ids",
]
