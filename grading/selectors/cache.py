"""Reports cached under the versions of the data they read (issue 13).

``versioned(name, school_id=..., parts=..., compute=...)`` answers ``compute()`` for the
current versions of the school's data (``schools.versions``: one query), from this
process's memory, else from the shared cache (Redis in production), else by computing it.
A write changes a version in its own transaction, so an entry is found only while the data
it was computed from is still the data: a cached answer is never stale. Entries are never
invalidated; they are simply no longer asked for, and expire.

Cached values are shared: callers must not change them. A name names the shape of its
answer too: give it a new name when the shape changes (entries of the old one may remain).
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
SHARED_SECONDS = 24 * 3600

_local: OrderedDict[str, Any] = OrderedDict()
_MISSING = object()


def _key(name: str, school_id: int, parts: tuple[Hashable, ...]) -> str:
    stamp = hashlib.blake2b(
        repr(versions.current(school_id=school_id)).encode(), digest_size=12
    ).hexdigest()
    return f"kts:{name}:{school_id}:{':'.join(map(str, parts))}:{stamp}"


def versioned(
    name: str, *, school_id: int, parts: tuple[Hashable, ...], compute: Callable[[], T]
) -> T:
    """``compute()``'s answer for ``name`` of ``school_id`` (and ``parts``, e.g. the term),
    computed at most once per version of the school's data and process."""
    key = _key(name, school_id, parts)
    value = _local.get(key, _MISSING)
    if value is not _MISSING:
        _local.move_to_end(key)
        return cast(T, value)
    value = cache.get(key, _MISSING)
    if value is _MISSING:
        value = compute()
        cache.set(key, value, SHARED_SECONDS)
    _local[key] = value
    while len(_local) > LOCAL_ENTRIES:
        _local.popitem(last=False)
    return cast(T, value)


def clear_local() -> None:
    """Forget this process's entries (tests that count queries of a cold start)."""
    _local.clear()
