"""Locks bound to a process (R45, R46): they live exactly as long as the process holding them.

Used by the exchange's runs and parts and by the report-card batch parts (R32); each user
names its own namespace (the first of the two int4 keys).

PostgreSQL: a session-level advisory lock taken on a dedicated connection (not Django's; one
per process, shared by the process's locks), held for the run's or the part's whole life. The
session outlives its locks as Django's own connection outlives a request: a worker taking one
part after another reuses it for up to ``CONN_MAX_AGE`` seconds instead of opening a session
per part (0: closed as soon as it holds no lock). When the process dies (``kill -9``, out of
memory) or is cut off from the database, the server ends the session and the lock with it;
TCP keepalives bound the "cut off" case to well under a minute.

SQLite: an exclusive ``flock`` on a file next to the database; the kernel releases it when
the process dies, whatever the way.

Nothing here is a lease: no expiry to outlive, no clock to trust.
"""

import fcntl
import hashlib
import os
import tempfile
import threading
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

LOCK_APP_NAME = "kts-exchange-lock"


def _int4(n: int) -> int:
    return n % 2_147_483_647


_shared: dict = {"pid": None, "conn": None, "opened": 0.0}
_held_here: set[tuple[int, int]] = set()  # keys this process holds (a session re-enters)
_guard = threading.Lock()


def _pg_connect():
    import psycopg

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.update(
        application_name=LOCK_APP_NAME,
        keepalives=1,
        keepalives_idle=10,
        keepalives_interval=5,
        keepalives_count=3,
        tcp_user_timeout=30_000,
    )
    return psycopg.connect(autocommit=True, **params)


def _max_age() -> float:
    """Django's ``CONN_MAX_AGE`` (``None``: unlimited)."""
    age = connection.settings_dict.get("CONN_MAX_AGE", 0)
    return float("inf") if age is None else age


def close_session() -> None:
    """End this process's lock session if it holds no lock (before its database is
    dropped, as the test run's end does)."""
    with _guard:
        conn = _shared["conn"]
        if conn is not None and not _held_here and _shared["pid"] == os.getpid():
            conn.close()
            _shared["conn"] = None


def _lock_connection(*, fresh: bool = False):
    """This process's lock session, opened by its first lock (a forked worker opens its
    own) and kept, while it holds none, for ``CONN_MAX_AGE`` seconds from its opening. The
    locks it holds at once share it: when it dies, they all go."""
    conn = _shared["conn"]
    if conn is not None and not _held_here and _shared["pid"] == os.getpid():
        if time.monotonic() - _shared["opened"] >= _max_age():
            conn.close()  # idle and old: a fresh session, as Django renews its own
            conn = None
    if fresh or _shared["pid"] != os.getpid() or conn is None or conn.closed:
        _held_here.clear()  # a new session holds nothing yet
        conn = _shared["conn"] = _pg_connect()
        _shared["pid"] = os.getpid()
        _shared["opened"] = time.monotonic()
    return conn


class ProcessLock:
    """An exclusive lock on (namespace, key) held by this process until :meth:`release`."""

    def __init__(self, namespace: int, key: int) -> None:
        self.namespace, self.key = namespace, _int4(key)
        self._conn = None
        self._file = None

    def _path(self) -> Path:
        # The database and the checkout: two checkouts' test databases share a NAME.
        name = f"{settings.BASE_DIR}:{connection.settings_dict['NAME']}"
        digest = hashlib.sha1(name.encode()).hexdigest()[:12]
        base = Path(getattr(settings, "EXCHANGE_LOCK_DIR", "") or tempfile.gettempdir())
        return base / f"kts-exchange-{digest}-{self.namespace}-{self.key}.lock"

    def acquire(self) -> bool:
        """Take the lock without waiting; False when another holder (any process, or another
        holder in this one) has it."""
        if connection.vendor == "postgresql":
            sql = "SELECT pg_try_advisory_lock(%s, %s)"
            with _guard:
                if (self.namespace, self.key) in _held_here:
                    return False
                try:
                    conn = _lock_connection()
                    got = conn.execute(sql, [self.namespace, self.key]).fetchone()[0]
                except Exception:  # noqa: BLE001 - a broken session: open a new one
                    conn = _lock_connection(fresh=True)
                    got = conn.execute(sql, [self.namespace, self.key]).fetchone()[0]
                if not got:
                    return False
                _held_here.add((self.namespace, self.key))
                self._conn = conn
                return True
        handle = open(self._path(), "a+")  # noqa: SIM115 - held open for the lock's life
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        return True

    def alive(self) -> bool:
        """Is the lock still ours? (False once the lock's session was cut off.)"""
        if self._conn is not None:
            with _guard:
                if self._conn is not _shared["conn"] or self._conn.closed:
                    return False
                try:
                    self._conn.execute("SELECT 1").fetchone()
                except Exception:  # noqa: BLE001 - any failure means the session is gone
                    return False
            return True
        return self._file is not None

    def release(self) -> None:
        if self._conn is not None:
            with _guard:
                _held_here.discard((self.namespace, self.key))
                try:
                    self._conn.execute(
                        "SELECT pg_advisory_unlock(%s, %s)", [self.namespace, self.key]
                    )
                except Exception:  # noqa: BLE001, S110 - a dead session released it already
                    pass
                if not _held_here and _shared["conn"] is not None and not _max_age():
                    # Nothing held and no connection reuse: end the session now.
                    _shared["conn"].close()
                    _shared["conn"] = None
            self._conn = None
        if self._file is not None:
            # Unlinked while still held, so lock files do not pile up (one per part).
            try:
                os.unlink(self._file.name)
            except FileNotFoundError:
                pass
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self) -> "ProcessLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def held(namespace: int, key: int) -> bool:
    """Does any process hold the lock (namespace, key) right now?"""
    key = _int4(key)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND classid = %s AND objid = %s AND objsubid = 2"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))",
                [namespace, key],
            )
            return cursor.fetchone()[0]
    probe = ProcessLock(namespace, key)
    if probe.acquire():
        probe.release()
        return False
    return True
