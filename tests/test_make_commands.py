"""The two commands: ``make run`` and ``make test`` do what the README promises."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def make_dry_run(*args: str) -> str:
    """What ``make`` would run (``-n``: nothing is executed)."""
    result = subprocess.run(
        ["make", "-n", *args], cwd=ROOT, capture_output=True, text=True, check=True, timeout=30
    )
    return result.stdout


def test_make_run_migrates_loads_the_demo_and_starts_the_server_and_a_cluster():
    # when
    out = make_dry_run("run", "PORT=8123")
    # then, in this order
    steps = [
        "manage.py migrate --noinput",
        "manage.py load_demo",
        "manage.py qcluster",
        "manage.py runserver --noreload 127.0.0.1:8123",
    ]
    positions = [out.index(step) for step in steps]
    assert positions == sorted(positions)
    # and Ctrl-C (or the server ending) stops the cluster too
    assert "trap" in out


def test_make_test_runs_pytest_in_the_projects_venv():
    # when
    out = make_dry_run("test", "PYTEST_ARGS=-x")
    # then
    assert ".venv/bin/python -m pytest -x" in out


def test_make_run_turns_debug_on_for_every_process():
    # when
    out = make_dry_run("run", "PORT=8123")
    # then: the settings fail closed, so each development command asks for debug itself
    for step in ("migrate", "load_demo", "qcluster", "runserver"):
        line = next(line for line in out.splitlines() if f"manage.py {step}" in line)
        assert line.count("DJANGO_DEBUG=1") >= 1, line
