"""R43: the admin writes through the services: its deletions leave the same deletion records
(R40) and audit entries as the API, so the ``changed_since`` feeds report them."""

import datetime as dt

from django.utils import timezone

from attendance.models import Attendance
from schools.models import AuditEntry, Roster, Term, Tombstone
from tests.factories import CalendarFactory


def _deleted(api, since, model):
    response = api.get("/api/v1/deletions/", {"changed_since": since, "model": model})
    assert response.status_code == 200, response.content[:300]
    return {row["object_id"] for row in response.json()["results"]}


def _since():
    Tombstone.objects.all().delete()  # the world's sample deletion record
    return (timezone.now() - dt.timedelta(seconds=5)).isoformat()


def test_r43_roster_deleted_in_the_admin_appears_in_the_deletions_feed(world, client, as_user):
    # given a roster of HS1 and a state admin in the admin
    # (ended: the student already holds the section's one open roster, R48)
    roster = Roster.objects.create(
        student=world.student_a,
        section=world.s1,
        start_date=dt.date(2027, 1, 4),
        end_date=dt.date(2027, 1, 8),
    )
    since = _since()
    client.force_login(world.users["superuser"])
    # when it is deleted through the admin's delete page
    response = client.post(f"/admin/schools/roster/{roster.pk}/delete/", {"post": "yes"})
    # then it is gone, and HS1's feed reports it like an API deletion, attributed
    assert response.status_code == 302
    assert not Roster.objects.filter(pk=roster.pk).exists()
    assert _deleted(as_user("school_admin"), since, "schools.Roster") == {roster.pk}
    stone = Tombstone.objects.get(model="schools.Roster", object_id=roster.pk)
    assert stone.deleted_by == world.users["superuser"]
    assert stone.school_id == world.home["schools.School"].pk
    entry = AuditEntry.objects.get(model="schools.Roster", object_id=roster.pk, action="delete")
    assert entry.user == world.users["superuser"]
    # and HS2 does not see HS1's deletion
    assert _deleted(as_user("hs2_admin"), since, "schools.Roster") == set()


def test_r43_delete_selected_action_records_every_row(world, client, as_user):
    # given HS1's and HS2's attendance records
    ids = [world.home["attendance.Attendance"].pk, world.away["attendance.Attendance"].pk]
    since = _since()
    client.force_login(world.users["superuser"])
    # when the admin's "delete selected" action removes both
    response = client.post(
        "/admin/attendance/attendance/",
        {"action": "delete_selected", "_selected_action": ids, "post": "yes"},
    )
    # then each has a deletion record, in its own school's feed
    assert response.status_code == 302
    assert not Attendance.objects.filter(pk__in=ids).exists()
    assert _deleted(as_user("school_admin"), since, "attendance.Attendance") == {ids[0]}
    assert _deleted(as_user("hs2_admin"), since, "attendance.Attendance") == {ids[1]}
    assert AuditEntry.objects.filter(model="attendance.Attendance", action="delete").count() == 2


def test_r43_cascaded_rows_get_deletion_records_too(world, client, as_user):
    # given a next-year calendar of HS1 with its four quarters (deleted with it)
    calendar = CalendarFactory(
        school=world.home["schools.School"],
        school_year=2028,
        name="Next",
        start_date=dt.date(2027, 8, 1),
        end_date=dt.date(2028, 6, 30),
    )
    terms = {
        Term.objects.create(
            calendar=calendar, name=f"Q{i}", seq=i, start_date=start, end_date=start
        ).pk
        for i, start in enumerate([dt.date(2027, 8, 10), dt.date(2027, 10, 12)], start=1)
    }
    since = _since()
    client.force_login(world.users["superuser"])
    # when the calendar is deleted in the admin
    response = client.post(f"/admin/schools/calendar/{calendar.pk}/delete/", {"post": "yes"})
    # then the calendar and each of its terms are in HS1's deletions feed
    assert response.status_code == 302
    admin = as_user("school_admin")
    assert _deleted(admin, since, "schools.Calendar") == {calendar.pk}
    assert _deleted(admin, since, "schools.Term") == terms
    # and one audit entry names the row asked for
    assert AuditEntry.objects.filter(action="delete").count() == 1


def test_r43_admin_save_is_audited(world, client):
    # given a roster in the admin
    roster = world.home["schools.Roster"]
    client.force_login(world.users["superuser"])
    # when its end date is changed there
    response = client.post(
        f"/admin/schools/roster/{roster.pk}/change/",
        {
            "student": roster.student_id,
            "section": roster.section_id,
            "start_date": roster.start_date.isoformat(),
            "end_date": "2027-05-01",
        },
    )
    # then the change is saved and audited with the changed field's name
    assert response.status_code == 302, response.content[:500]
    entry = AuditEntry.objects.get(model="schools.Roster", object_id=roster.pk)
    assert (entry.action, entry.user, entry.changes) == (
        "update",
        world.users["superuser"],
        ["end_date"],
    )


def test_r43_inline_row_deleted_in_the_admin_gets_a_deletion_record(world, client, as_user):
    # given a next-year calendar of HS1 with two terms, edited in the admin
    calendar = CalendarFactory(
        school=world.home["schools.School"],
        school_year=2028,
        name="Next",
        start_date=dt.date(2027, 8, 1),
        end_date=dt.date(2028, 6, 30),
    )
    first = Term.objects.create(
        calendar=calendar,
        name="S1",
        seq=1,
        start_date=dt.date(2027, 8, 10),
        end_date=dt.date(2027, 12, 18),
    )
    second = Term.objects.create(
        calendar=calendar,
        name="S2",
        seq=2,
        start_date=dt.date(2028, 1, 4),
        end_date=dt.date(2028, 5, 28),
    )
    since = _since()
    client.force_login(world.users["superuser"])
    # when the second term's row is deleted in the calendar's inline
    data = {
        "school": calendar.school_id,
        "school_year": 2028,
        "name": "Next",
        "start_date": "2027-08-01",
        "end_date": "2028-06-30",
        "terms-TOTAL_FORMS": "2",
        "terms-INITIAL_FORMS": "2",
        "terms-MIN_NUM_FORMS": "0",
        "terms-MAX_NUM_FORMS": "1000",
    }
    for i, term in enumerate([first, second]):
        data |= {
            f"terms-{i}-id": term.pk,
            f"terms-{i}-calendar": calendar.pk,
            f"terms-{i}-seq": term.seq,
            f"terms-{i}-name": term.name,
            f"terms-{i}-start_date": term.start_date.isoformat(),
            f"terms-{i}-end_date": term.end_date.isoformat(),
        }
    data["terms-1-DELETE"] = "on"
    response = client.post(f"/admin/schools/calendar/{calendar.pk}/change/", data)
    # then the term is gone and in HS1's deletions feed; the other is kept
    assert response.status_code == 302, response.content[:2000]
    assert list(Term.objects.filter(calendar=calendar)) == [first]
    assert _deleted(as_user("school_admin"), since, "schools.Term") == {second.pk}
