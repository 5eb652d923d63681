"""R47: when scheduled work may run. The nightly exchange runs only inside a local-time
window (``EXCHANGE_NIGHT_WINDOW``), so a cluster started at noon after a missed night does
not catch up in the middle of the school day."""

import datetime as dt

from django.conf import settings
from django.utils import timezone


def night_window() -> tuple[dt.time, dt.time]:
    start, end = settings.EXCHANGE_NIGHT_WINDOW.split("-")
    return dt.time.fromisoformat(start.strip()), dt.time.fromisoformat(end.strip())


def in_night_window(at: dt.datetime | None = None) -> bool:
    """Is ``at`` (now) inside the window, in local time? A window may span midnight."""
    now = timezone.localtime(at).time()
    start, end = night_window()
    if start <= end:
        return start <= now < end
    return now >= start or now < end


def next_local(
    time_of_day: dt.time, *, weekday: int | None = None, after: dt.datetime | None = None
) -> dt.datetime:
    """The next ``time_of_day`` (local time, on ``weekday`` when given) after ``after``."""
    after = timezone.localtime(after)
    day = after.date()
    for _ in range(8):
        at = timezone.make_aware(dt.datetime.combine(day, time_of_day))
        if at > after and (weekday is None or day.weekday() == weekday):
            return at
        day += dt.timedelta(days=1)
    raise AssertionError("unreachable")  # pragma: no cover
