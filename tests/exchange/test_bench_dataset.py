"""The benchmark data set gives its first HS the large school the R26 report target is set for."""

from collections import Counter

from exchange.benchmarks.dataset import build_dataset, largest_hs_share
from schools.models import Enrollment, Roster, SchoolKind


def test_r26_bench_largest_hs_share_scales_with_the_student_count():
    # given / when / then: 1,500 at the default size, in proportion below, an even share
    # at least, everyone when there is one HS
    assert largest_hs_share(students=40_000, high_schools=220) == 1500
    assert largest_hs_share(students=80_000, high_schools=220) == 1500
    assert largest_hs_share(students=4000, high_schools=220) == 150
    assert largest_hs_share(students=40, high_schools=3) == 14
    assert largest_hs_share(students=10, high_schools=1) == 10


def test_r26_bench_dataset_puts_the_large_hs_first_and_keeps_the_totals(db):
    # given / when: a small data set
    data = build_dataset(tech_schools=2, high_schools=3, students=40)
    # then: the first HS has its share, the others split the rest, two rosters each
    per_hs = Counter(
        Enrollment.objects.filter(service_type="primary")
        .order_by("calendar__school__code")
        .values_list("calendar__school__code", flat=True)
    )
    assert per_hs == {"H000": 14, "H001": 13, "H002": 13}
    assert data.largest_hs_students == 14 and data.students == 40
    assert data.hs_rosters == 80
    assert (
        Roster.objects.filter(section__course__calendar__school__kind=SchoolKind.HIGH_SCHOOL)
        .values("student_id")
        .distinct()
        .count()
        == 40
    )
    big = Roster.objects.filter(section__course__calendar__school__code="H000")
    assert big.count() == 28
    assert big.values("section_id").distinct().count() == 8  # spread over every section
