"""What every part of the exchange runner shares: the run lock's key, the actions and
their counts, the school year of a day, and whether parts run inline."""

import datetime as dt
from collections import Counter
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection

from exchange.models import (
    Action,
    Flow,
    RunPart,
    RunStatus,
)

RUN_LOCK_KEY = 7_270_017  # pg advisory lock id of the exchange runner


ANOTHER_RUN = "another run is in progress"


ACTIONS = (
    Action.ADDED,
    Action.UPDATED,
    Action.UNCHANGED,
    Action.SKIPPED,
    Action.ENDED,
    Action.REMOVED,
)


ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING)


Progress = Callable[[int, int, RunPart], None]


def school_year_of(day: dt.date) -> int:
    """The school year (the year it ends) that ``day`` belongs to: July starts a new one."""
    return day.year + 1 if day.month >= 7 else day.year


def empty_counts() -> dict[str, dict[str, int]]:
    return {flow: dict.fromkeys(ACTIONS, 0) for flow in Flow.values}


def merge_counts(
    total: dict[str, dict[str, int]], part: dict[str, dict[str, int]]
) -> dict[str, dict[str, int]]:
    for flow, actions in part.items():
        bucket = total.setdefault(flow, {})
        for action, n in actions.items():
            bucket[action] = bucket.get(action, 0) + n
    return total


def count_outcomes(
    outcomes: list[dict[str, Any]], unchanged: Counter[str] | None = None
) -> dict[str, dict[str, int]]:
    """Counts per flow and action; ``unchanged`` adds the unchanged records flows counted
    without listing them."""
    counts = empty_counts()
    tally = Counter((o["flow"], o["action"]) for o in outcomes)
    for flow, n in (unchanged or {}).items():
        tally[(flow, Action.UNCHANGED)] += n
    for (flow, action), n in tally.items():
        counts.setdefault(flow, {})
        counts[flow][action] = counts[flow].get(action, 0) + n
    return counts


def sync_mode() -> bool:
    return bool(settings.Q_CLUSTER.get("sync"))


def serialize_runners() -> None:
    """Make the check-and-claim of the run lock one at a time across processes.

    PostgreSQL: a transaction-level advisory lock. SQLite: the connection opens every
    transaction with BEGIN IMMEDIATE, which already takes the database's write lock.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [RUN_LOCK_KEY])
