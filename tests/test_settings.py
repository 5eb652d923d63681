"""The settings fail closed: without DJANGO_DEBUG=1 they are production settings."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = (
    "import kts_project.settings as s; "
    "print(s.DEBUG, bool(getattr(s, 'SESSION_COOKIE_SECURE', False)), s.CACHES['default']['BACKEND'])"
)


def _settings(**env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "REDIS_URL"))}
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_debug_is_off_and_a_secret_key_is_required_when_nothing_is_set():
    # when
    result = _settings()
    # then
    assert result.returncode != 0
    assert "Set DJANGO_SECRET_KEY" in result.stderr


def test_debug_off_by_default_gives_the_production_settings():
    # when
    result = _settings(DJANGO_SECRET_KEY="x" * 50)
    # then
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:2] == ["False", "True"]


def test_debug_on_only_when_asked():
    # when
    result = _settings(DJANGO_DEBUG="1")
    # then
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:2] == ["True", "False"]


def test_redis_url_sets_both_the_cache_and_the_broker():
    # when
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import kts_project.settings as s; print(s.CACHES['default']['LOCATION'], "
            "s.Q_CLUSTER['redis'])",
        ],
        cwd=ROOT,
        env={**os.environ, "DJANGO_DEBUG": "1", "REDIS_URL": "redis://127.0.0.1:6379/9"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    # then
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["redis://127.0.0.1:6379/9", "redis://127.0.0.1:6379/9"]
