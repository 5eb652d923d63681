"""R25: the teacher's take-attendance page."""

from attendance.models import Attendance
from tests.factories import UserFactory
from tests.world import BEFORE_TERMS, MONDAY


def url(world, day=MONDAY):
    return f"/teacher/sections/{world.tech_section.pk}/attendance/?date={day.isoformat()}"


def test_r25_page_lists_the_roster_of_the_day_with_one_choice_per_code(client, world):
    # given
    client.force_login(world.teacher)
    # when
    response = client.get(url(world))
    # then
    html = response.content.decode()
    assert response.status_code == 200
    for student in world.students:
        assert student.last_name in html
        assert f'name="code_{student.pk}"' in html
    assert "All present" in html


def test_r25_all_present_saves_every_rostered_student(client, world):
    # given
    client.force_login(world.teacher)
    # when
    response = client.post(url(world), {"action": "all_present"}, follow=True)
    # then
    assert response.status_code == 200
    assert "Saved attendance for 3 students" in response.content.decode()
    assert Attendance.objects.filter(code__status="present", date=MONDAY).count() == 3


def test_r25_save_records_the_chosen_codes(client, world):
    # given
    client.force_login(world.teacher)
    s0, s1 = world.students[0], world.students[1]
    # when
    response = client.post(
        url(world),
        {
            "action": "save",
            f"code_{s0.pk}": world.code(world.tech_school, "AU").pk,
            f"code_{s1.pk}": world.code(world.tech_school, "P").pk,
            f"comments_{s0.pk}": "called home",
        },
    )
    # then
    assert response.status_code == 302
    saved = {a.student_id: a for a in Attendance.objects.all()}
    assert saved[s0.pk].code.code == "AU" and saved[s0.pk].comments == "called home"
    assert saved[s1.pk].code.code == "P"


def test_r25_code_of_another_school_is_shown_next_to_the_student_and_nothing_saved(client, world):
    # given
    client.force_login(world.teacher)
    s0, s1 = world.students[0], world.students[1]
    # when
    response = client.post(
        url(world),
        {
            f"code_{s0.pk}": world.code(world.hs_school, "AU").pk,
            f"code_{s1.pk}": world.code(world.tech_school, "P").pk,
        },
    )
    # then
    assert response.status_code == 400
    assert "another school" in response.content.decode()
    assert not Attendance.objects.exists()


def test_r25_non_instructional_day_is_refused(client, world):
    # given
    client.force_login(world.teacher)
    # when
    response = client.post(url(world, BEFORE_TERMS), {"action": "all_present"})
    # then
    assert response.status_code == 400
    assert "not inside any term" in response.content.decode()
    assert not Attendance.objects.exists()


def test_r25_student_whose_roster_ended_is_not_listed(client, world):
    # given
    client.force_login(world.teacher)
    gone = world.add_student(first_name="Wilhelmina", last_name="Quarrington")
    roster = gone.rosters.get(section=world.tech_section)
    roster.start_date = MONDAY.replace(day=1)
    roster.end_date = MONDAY.replace(day=2)
    roster.save()
    # when
    response = client.get(url(world))
    # then
    html = response.content.decode()
    assert response.status_code == 200
    assert "Quarrington" not in html and f'name="code_{gone.pk}"' not in html
    assert all(f'name="code_{s.pk}"' in html for s in world.students if s != gone)


def test_r36_teacher_sees_only_own_sections(client, world):
    # given
    client.force_login(UserFactory())
    # when
    response = client.get(url(world))
    # then
    assert response.status_code == 404


def test_r25_malformed_date_is_400_with_a_message(client, world):
    # given
    client.force_login(world.teacher)
    # when
    response = client.get(f"/teacher/sections/{world.tech_section.pk}/attendance/?date=xx")
    # then
    assert response.status_code == 400
    assert "Enter a valid date" in response.content.decode()
