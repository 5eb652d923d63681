"""Reports cached under the versions of the data they read (issue 13).

``versioned(name, school_id=..., parts=..., compute=...)`` answers ``compute()`` for the
current versions of the school's data (``schools.versions``: one query), from this
process's memory, else from the shared cache (Redis in production), else by computing it.
A write changes a version in its own transaction, so an entry is found only while the data
it was computed from is still the data: a cached answer is never stale. Entries are never
invalidated; they are simply no longer asked for, and expire.

Cached values are shared: callers must not change them. A name names the shape of its
answer too: give it a new name when the shape changes (entries of the old one may remain).

``answer(...)`` does the same for a whole API answer (a report card, a page of a grade
list): many small entries, kept in a larger per-process store of their own. The caller
checks the user's role and scope on every request *before* asking, and puts the user's
scope in ``parts`` when the answer depends on it.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar, cast

from django.core.cache import cache

from schools import versions

T = TypeVar("T")

LOCAL_ENTRIES = 64  # per process: a few schools' reports of a few terms each
ANSWER_ENTRIES = 4096  # per process: API answers of a few KB (report cards, pages)
SHARED_SECONDS = 24 * 3600

_local: OrderedDict[str, Any] = OrderedDict()
_answers: OrderedDict[str, Any] = OrderedDict()
_MISSING = object()

Versions = tuple[tuple[str, int], ...]


def _key(name: str, school_id: int, parts: tuple[Hashable, ...], now: Versions) -> str:
    stamp = hashlib.blake2b(repr(now).encode(), digest_size=12).hexdigest()
    # Parts are hashed too: they may hold text of any length (a URL, a scope).
    what = hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()
    return f"kts:{name}:{school_id}:{what}:{stamp}"


def _get_or_compute(
    store: OrderedDict[str, Any], limit: int, key: str, compute: Callable[[], T]
) -> T:
    value = store.get(key, _MISSING)
    if value is not _MISSING:
        store.move_to_end(key)
        return cast(T, value)
    value = cache.get(key, _MISSING)
    if value is _MISSING:
        value = compute()
        cache.set(key, value, SHARED_SECONDS)
    store[key] = value
    while len(store) > limit:
        store.popitem(last=False)
    return cast(T, value)


def versioned(
    name: str, *, school_id: int, parts: tuple[Hashable, ...], compute: Callable[[], T]
) -> T:
    """``compute()``'s answer for ``name`` of ``school_id`` (and ``parts``, e.g. the term),
    computed at most once per version of the school's data and process."""
    key = _key(name, school_id, parts, versions.current(school_id=school_id))
    return _get_or_compute(_local, LOCAL_ENTRIES, key, compute)


def answer(
    name: str,
    *,
    school_id: int,
    parts: tuple[Hashable, ...],
    compute: Callable[[], T],
    now: Versions | None = None,
) -> T:
    """``versioned`` for a whole API answer: ``compute()`` runs at most once per version
    of the school's data (``now``: the versions already read, ``versions.current`` of
    ``school_id`` by default) and ``parts``. An exception in ``compute()`` stores
    nothing (a refused request is answered afresh every time)."""
    if now is None:
        now = versions.current(school_id=school_id)
    return _get_or_compute(_answers, ANSWER_ENTRIES, _key(name, school_id, parts, now), compute)


def clear_local() -> None:
    """Forget this process's entries (tests that count queries of a cold start)."""
    _local.clear()
    _answers.clear()
