"""R6-R11: the one configuration shape (grading/shape.py) that the test world and the
benchmark data sets build is a valid KTS setup, as the setup rules check it."""

from grading.models import CTE_FINAL, CTE_TERM, CourseGradingTask
from grading.services.course_tasks import course_tasks_check
from schools.models import Course


def _shape(course_task: CourseGradingTask) -> tuple[str, list[int], list[int], bool]:
    rows = list(course_task.mask.order_by("term__seq"))
    return (
        course_task.grading_task.code,
        [r.term.seq for r in rows],
        [r.term.seq for r in rows if r.active],
        course_task.credit is not None,
    )


def test_r6_r11_the_world_kts_courses_pass_the_setup_rules(kts_world):
    # given: the world's two KTS courses, set up by grading/shape.py
    for course, last in ((kts_world.hs_course, 4), (kts_world.tech_course, 2)):
        # when / then: the setup rules find nothing to fix
        course_tasks_check(course)
        shapes = sorted(_shape(ct) for ct in course.course_tasks.all())
        assert shapes == [
            (CTE_FINAL, [last], [], True),
            (CTE_TERM, list(range(1, last + 1)), [1], False),
        ]


def test_r6_r11_the_bench_data_set_courses_pass_the_setup_rules(db):
    from exchange.benchmarks.dataset import build_dataset

    # given: a small benchmark data set, built in bulk by the same shape
    build_dataset(tech_schools=1, high_schools=2, students=4)
    courses = list(Course.objects.filter(is_kts=True))
    assert len(courses) == 6  # two KTS courses at each of the three schools
    for course in courses:
        # when / then: every course passes the setup rules, as the world's do
        course_tasks_check(course)
        assert sorted(ct.grading_task.code for ct in course.course_tasks.all()) == [
            CTE_FINAL,
            CTE_TERM,
        ]
