"""R15: the stale-grades report, its API and the weekly e-mail to teachers."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from grading.models import Grade
from grading.selectors.stale import stale_sections
from grading.services.stale_grade_reminders import stale_grade_reminders_send
from grading.tasks import email_stale_grade_reminders
from tests.factories import SectionFactory, UserFactory
from tests.grading.conftest import enroll_and_roster

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2026, 10, 20)


def posted(tech, *, on: dt.date, student=None):
    grade = Grade.objects.create(
        student=student or tech.students[0],
        section=tech.section,
        grading_task=tech.term_task,
        term=tech.s1,
        percent=Decimal("90"),
        score="A",
    )
    at = timezone.make_aware(dt.datetime.combine(on, dt.time(15, 0)))
    Grade.objects.filter(pk=grade.pk).update(modified_at=at, created_at=at)
    return at


def test_r15_section_posted_within_7_days_is_not_stale(tech):
    posted(tech, on=AS_OF - dt.timedelta(days=3))
    assert stale_sections(as_of=AS_OF) == []


def test_r15_section_not_posted_for_8_days_is_stale_with_last_post(tech):
    # given
    at = posted(tech, on=AS_OF - dt.timedelta(days=8))
    # when
    items = stale_sections(as_of=AS_OF)
    # then
    assert [(i.section, i.last_posted_at) for i in items] == [(tech.section, at)]
    assert items[0].teachers == [tech.teacher]


def test_r15_never_posted_tech_section_is_stale_but_hs_sections_are_not(tech, letters):
    items = stale_sections(as_of=AS_OF)
    assert [(i.section, i.last_posted_at) for i in items] == [(tech.section, None)]


def test_r15_section_without_rostered_students_is_not_listed(tech):
    empty = SectionFactory(course=tech.course, teachers=[tech.teacher])
    assert empty.pk not in {i.section.pk for i in stale_sections(as_of=AS_OF)}


def test_r15_school_filter(tech, letters):
    assert stale_sections(as_of=AS_OF, school_id=letters.school.pk) == []
    assert len(stale_sections(as_of=AS_OF, school_id=tech.school.pk)) == 1


def test_r15_stale_report_api(api, tech):
    # given
    at = posted(tech, on=AS_OF - dt.timedelta(days=9))
    # when
    response = api.get(
        "/api/v1/reports/stale-grades/", {"school": tech.school.pk, "as_of": AS_OF.isoformat()}
    )
    # then
    assert response.status_code == 200
    [row] = response.json()
    assert row["section"] == tech.section.pk
    assert row["teachers"] == [tech.teacher.pk]
    assert dt.datetime.fromisoformat(row["last_posted_at"]) == at


@pytest.mark.parametrize("params", [{"school": "x"}, {"as_of": "2026-13-45"}])
def test_r15_stale_report_api_bad_params_answer_400(api, tech, params):
    assert api.get("/api/v1/reports/stale-grades/", params).status_code == 400


def test_r15_one_email_per_teacher_listing_their_stale_sections(tech):
    # given: a second stale section of the same teacher, a co-teacher without e-mail
    second = SectionFactory(course=tech.course, teachers=[tech.teacher])
    enroll_and_roster(second, count=1, service_type="secondary")
    no_mail = UserFactory(username="no-mail", email="")
    tech.section.teachers.add(no_mail)
    # when
    sent = stale_grade_reminders_send(as_of=AS_OF)
    # then
    assert sent == 1
    [message] = mail.outbox
    assert message.to == [tech.teacher.email]
    assert f"/teacher/sections/{tech.section.pk}/grades/" in message.body
    assert f"/teacher/sections/{second.pk}/grades/" in message.body
    assert "2 sections" in message.subject


def test_r15_no_email_when_everything_is_posted(tech):
    for student in tech.students:
        posted(tech, on=AS_OF, student=student)
    assert stale_grade_reminders_send(as_of=AS_OF) == 0
    assert mail.outbox == []


def test_r15_scheduled_task_sends_reminders(tech):
    # given: the weekly job uses today; pin the date inside the school year
    with time_machine.travel(dt.datetime(2026, 10, 20, 12, tzinfo=dt.UTC), tick=False):
        assert email_stale_grade_reminders() == 1
    assert len(mail.outbox) == 1
