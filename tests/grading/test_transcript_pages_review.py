"""R34/R35 pages: malformed ids answer 400-ish (never 500); R36: only the registrar's roles
read a student's transcript."""

import pytest

from grading.models import TranscriptLine
from schools.models import StaffRole
from tests.factories import UserFactory
from tests.world import reports_world

pytestmark = pytest.mark.django_db


def test_r34_registrar_page_with_a_calendar_or_line_that_is_not_a_number_writes_nothing(
    admin_client_su,
):
    # given
    w = reports_world()
    w.final(w.add_student(), "85.00", "B")
    url = f"/school/{w.hs_school.pk}/transcripts/"
    # when
    calendar = admin_client_su.post(url, {"calendar": "abc"}, follow=True)
    line = admin_client_su.post(url, {"line": "abc", "decision": "accept"}, follow=True)
    # then
    assert calendar.status_code == 200
    assert "Choose one of this school" in calendar.content.decode()
    assert line.status_code == 200
    assert not TranscriptLine.objects.exists()


def test_r36_transcript_page_is_404_for_a_teacher_of_the_students_school(client):
    # given: a teacher and a registrar of the HS where the student is enrolled
    w = reports_world()
    student = w.add_student(last_name="Okafor")
    teacher, registrar = UserFactory(), UserFactory()
    StaffRole.objects.create(user=teacher, role="teacher", school=w.hs_school)
    StaffRole.objects.create(user=registrar, role="registrar", school=w.hs_school)
    url = f"/students/{student.pk}/transcript/"
    # when
    client.force_login(teacher)
    as_teacher = client.get(url)
    client.force_login(registrar)
    as_registrar = client.get(url)
    # then: transcript lines are the registrar's (R36), as in the API
    assert as_teacher.status_code == 404
    assert as_registrar.status_code == 200 and "Okafor" in as_registrar.content.decode()
