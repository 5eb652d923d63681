"""Who wrote a row: the type of every service's ``by`` (or ``user``) argument, and the one
helper that turns it into the user stored as the row's author (R37, R43)."""

from __future__ import annotations

from typing import TypeAlias

from django.contrib.auth.models import AnonymousUser, User

# A signed-in user, an anonymous request's user, or None for a job, a command or the exchange.
Actor: TypeAlias = User | AnonymousUser | None


def user_or_none(by: Actor) -> User | None:
    """The user to store as the author of a write: ``by`` when signed in, else None."""
    if by is None or isinstance(by, AnonymousUser) or not by.is_authenticated:
        return None
    return by
