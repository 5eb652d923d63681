"""Small display filters shared by the pages: ``{% load kts %}``."""

import datetime as dt

from django import template

register = template.Library()


@register.filter
def duration_text(value: dt.timedelta | float | None) -> str:
    """A run's duration for people: ``0.1 s``, ``12 s``, ``2 min 5 s``, ``1 h 3 min``;
    ``—`` when there is none (not finished)."""
    if value is None or value == "":
        return "—"
    seconds = value.total_seconds() if isinstance(value, dt.timedelta) else float(value)
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"
