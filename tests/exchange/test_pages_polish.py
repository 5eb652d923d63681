"""Exchange pages for people: skipped outcomes name the student and section (R21, R29)."""

from exchange.services import exchange_run
from tests.world import AS_OF


def test_r21_run_page_names_the_skipped_student_and_section(admin_client_su, world):
    # given a tech grade skipped because the HS has no active term
    world.activate(world.hs_tasks["CTE_TERM"], None)
    student = world.students[0]
    world.post_tech_grade(student, "90.00")
    run = exchange_run(as_of=AS_OF, trigger="test", inline=True)
    # when the run page is opened
    html = admin_client_su.get(f"/exchange/runs/{run.pk}/").content.decode()
    # then the row shows the student's name and state id, not a raw id, and the duration
    assert f"{student.last_name}, {student.first_name} ({student.state_id})" in html
    assert " · took " in html and "0:00:00" not in html
