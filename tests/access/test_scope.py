"""R36 beyond the matrix: cross-school reads, tech staff, reassignment, state rows."""

from schools.models import Course, Roster, School


def _ids(response):
    assert response.status_code == 200, response.content[:200]
    body = response.json()
    return {r["id"] for r in (body["results"] if "results" in body else body)}


def test_r36_hs_staff_read_own_students_tech_grades_and_attendance_only(world, as_user):
    # given student A (HS1) and student B (HS2) both have a grade and attendance at TECH
    teacher, clerk = as_user("teacher"), as_user("attendance_clerk")
    # when HS1's teacher lists grades and HS1's clerk lists attendance
    grade_ids = _ids(teacher.get("/api/v1/grades/", {"page_size": 1000}))
    attendance_ids = _ids(clerk.get("/api/v1/attendance/", {"page_size": 1000}))
    # then A's tech records show, B's do not, and nothing else of TECH shows
    assert world.tech["grading.Grade"].pk in grade_ids
    assert world.tech_grade_b.pk not in grade_ids
    assert world.tech["attendance.Attendance"].pk in attendance_ids
    assert world.tech_attendance_b.pk not in attendance_ids
    assert world.t1.pk not in _ids(teacher.get("/api/v1/sections/"))
    assert world.only_tech.pk not in _ids(teacher.get("/api/v1/students/"))


def test_r36_hs_staff_cannot_change_tech_records_they_may_read(world, as_user):
    # given HS1's teacher can read student A's tech grade
    tech_grade = world.tech["grading.Grade"]
    # when they try to change it
    response = as_user("teacher").patch(
        f"/api/v1/grades/{tech_grade.pk}/", {"percent": "10.00"}, format="json"
    )
    # then refused, nothing changed
    assert response.status_code in (400, 403)
    tech_grade.refresh_from_db()
    assert str(tech_grade.percent) == "91.00"


def test_r36_tech_staff_read_only_students_enrolled_at_their_school(world, as_user):
    # given a student enrolled at HS1 only
    hs_only = world.home["schools.Student"].__class__.objects.create(
        state_id="1234567890", first_name="X", last_name="Y"
    )
    world.home["schools.Enrollment"].__class__.objects.create(
        student=hs_only,
        calendar=world.home["schools.Calendar"],
        service_type="primary",
        start_date=world.home["schools.Calendar"].start_date,
    )
    # when the tech school's admin lists students
    ids = _ids(as_user("tech_admin").get("/api/v1/students/", {"page_size": 1000}))
    # then only students enrolled at TECH
    assert {world.student_a.pk, world.student_b.pk, world.only_tech.pk} <= ids
    assert hs_only.pk not in ids


def test_r36_teacher_sees_only_own_sections_rows(world, as_user):
    # given a colleague's section at the same school
    # when the teacher lists sections
    ids = _ids(as_user("teacher").get("/api/v1/sections/"))
    # then only their own
    assert world.s1.pk in ids and world.s1b.pk not in ids


def test_r36_patch_moving_roster_into_another_school_is_refused(world, as_user):
    # given HS1's roster
    roster = world.home["schools.Roster"]
    # when HS1's school admin moves it to HS2's section
    response = as_user("school_admin").patch(
        f"/api/v1/rosters/{roster.pk}/", {"section": world.s2.pk}, format="json"
    )
    # then refused as not found, nothing moved
    assert response.status_code == 400
    assert "section" in response.json()
    assert Roster.objects.get(pk=roster.pk).section_id == world.s1.pk


def test_r36_patch_moving_course_or_school_elsewhere_is_refused(world, as_user):
    course = world.home["schools.Course"]
    admin = as_user("school_admin")
    # when a course moves to HS2's calendar and the school moves to D2
    moved_course = admin.patch(
        f"/api/v1/courses/{course.pk}/", {"calendar": world.cal2.pk}, format="json"
    )
    moved_school = admin.patch(
        f"/api/v1/schools/{world.hs1.pk}/", {"district": world.d2.pk}, format="json"
    )
    # then both refused, nothing changed
    assert moved_course.status_code == 400 and "calendar" in moved_course.json()
    assert moved_school.status_code == 400 and "district" in moved_school.json()
    assert Course.objects.get(pk=course.pk).calendar_id == world.home["schools.Calendar"].pk
    assert School.objects.get(pk=world.hs1.pk).district_id == world.d1.pk


def test_r36_district_admin_cannot_create_school_in_another_district(world, as_user):
    before = School.objects.count()
    response = as_user("district_admin").post(
        "/api/v1/schools/",
        {"district": world.d2.pk, "code": "NEW", "name": "New", "kind": "high_school"},
        format="json",
    )
    assert response.status_code == 400 and "district" in response.json()
    assert School.objects.count() == before


def test_r36_state_rows_readable_by_all_staff_but_not_writable(world, as_user):
    # given the state's CTE Numeric score group
    from tests.factories import cte_numeric

    group = cte_numeric()
    admin = as_user("district_admin")
    # when a district admin reads and tries to rename it
    read = admin.get(f"/api/v1/score-groups/{group.pk}/")
    write = admin.patch(f"/api/v1/score-groups/{group.pk}/", {"name": "Mine"}, format="json")
    # then readable, not writable
    assert read.status_code == 200
    assert write.status_code in (403, 404)
    group.refresh_from_db()
    assert group.name == "CTE Numeric"


def test_r36_teacher_cannot_post_grade_in_colleagues_section(world, as_user):
    from grading.models import Grade

    before = Grade.objects.count()
    response = as_user("teacher").post(
        "/api/v1/grades/",
        {
            "student": world.student_a.pk,
            "section": world.s1b.pk,
            "grading_task": world.home["grading.Grade"].grading_task_id,
            "term": world.q1[0].pk,
            "percent": "88.00",
        },
        format="json",
    )
    assert response.status_code in (400, 403, 404)
    assert Grade.objects.count() == before


def test_r36_page_helpers(world, rf):
    import pytest
    from django.core.exceptions import PermissionDenied
    from django.http import Http404

    from schools.access import require_school_role, user_school_ids

    request = rf.get("/")
    request.user = world.users["attendance_clerk"]
    assert user_school_ids(request.user) == {world.hs1.pk}
    assert require_school_role(request, world.hs1.pk, roles={"attendance_clerk"}) == world.hs1
    with pytest.raises(PermissionDenied):
        require_school_role(request, world.hs1.pk, roles={"registrar"})
    with pytest.raises(Http404):
        require_school_role(request, world.hs2.pk)
    request.user = world.users["district_admin"]
    assert world.hs1.pk in user_school_ids(request.user, {"district_admin"})


def test_r36_school_admin_creates_then_enrolls_a_new_student(world, as_user):
    # given HS1's school admin
    admin = as_user("school_admin")
    calendar = world.home["schools.Calendar"]
    # when they create a student and enroll them at HS1
    created = admin.post(
        "/api/v1/students/",
        {"state_id": "5550001111", "first_name": "New", "last_name": "Kid"},
        format="json",
    )
    enrolled = admin.post(
        "/api/v1/enrollments/",
        {
            "student": created.json()["id"],
            "calendar": calendar.pk,
            "service_type": "primary",
            "start_date": str(calendar.start_date),
        },
        format="json",
    )
    # then both succeed and the student is now theirs; HS2 still cannot see them
    assert created.status_code == 201 and enrolled.status_code == 201, enrolled.content
    assert admin.get(f"/api/v1/students/{created.json()['id']}/").status_code == 200
    assert as_user("hs2_admin").get(f"/api/v1/students/{created.json()['id']}/").status_code == 404


def test_r36_school_admin_cannot_enroll_another_schools_student(world, as_user):
    # given student B, enrolled at HS2 only (and TECH)
    calendar = world.home["schools.Calendar"]
    response = as_user("school_admin").post(
        "/api/v1/enrollments/",
        {
            "student": world.student_b.pk,
            "calendar": calendar.pk,
            "service_type": "secondary",
            "start_date": str(calendar.start_date),
        },
        format="json",
    )
    assert response.status_code == 400 and "student" in response.json()
    assert not world.student_b.enrollments.filter(calendar=calendar).exists()


def test_r36_a_role_granted_or_removed_takes_effect_on_the_next_request(world, as_user):
    from schools.models import StaffRole

    client = as_user("no_role")
    assert client.get("/api/v1/schools/").status_code == 403
    role = StaffRole.objects.create(user=world.users["no_role"], role="teacher", school=world.hs1)
    assert client.get("/api/v1/schools/").status_code == 200
    role.delete()
    assert client.get("/api/v1/schools/").status_code == 403
