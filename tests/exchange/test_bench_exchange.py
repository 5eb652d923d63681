"""``bench_exchange`` (issue 13) at a tiny size: it repeats the three exchange runs from one
state and reports each ratio as the median of its repetitions."""

import re
from io import StringIO

import pytest
from django.core.management import call_command

# It vacuums (outside a transaction); its flush at the end must leave what the next
# transactional test restores.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_bench_exchange_repeats_the_runs_from_one_state_and_reports_medians():
    # when: the benchmark runs twice over a tiny data set, inline only
    out = StringIO()
    call_command(
        "bench_exchange",
        "--yes",
        "--students=60",
        "--tech-schools=2",
        "--high-schools=2",
        "--workers=0",
        "--runs=2",
        "--baseline-runs=1",
        stdout=out,
    )
    text = out.getvalue()
    # then: each repetition's full run crossed every grade again (the exchange's writes and
    # watermarks were undone before it), and the small runs found what they should
    posted = int(re.search(r"tech grades posted: (\d+)", text).group(1))
    assert posted == 120
    full = re.findall(r"exchange full, inline .*?grades \{'added': (\d+)", text)
    assert full == ["120", "120"]
    changed = re.findall(r"exchange 10% changed, inline .*?'updated': (\d+)", text)
    assert changed == ["12", "12"]
    quiet = re.findall(r"exchange no change, inline .*?'updated': (\d+)", text)
    assert quiet == ["0", "0"]
    # and every ratio is the median of the two repetitions, each given
    for label in (
        "run: 10% changed / full",
        "run: no change / full",
        "ratio whole run/baseline",
    ):
        line = next(x for x in text.splitlines() if x.startswith(label + ":"))
        assert "median of 2: " in line, line
        each = line.split("median of 2: ")[1].rstrip(")").split(", ")
        assert len(each) == 2
