"""The Django admin under the roles of the API (R36) and without student names in its log (R37).

District A has high schools A1 and A2, district B has B1. Each school has a calendar with
quarters, a KTS course with the CTE tasks, and a section. Out-of-scope change pages answer as
Django does for a missing object: a redirect (302) to the admin index.
"""

from types import SimpleNamespace

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from grading.models import CTE_FINAL, CTE_TERM, CourseGradingTask, CreditType, GradingTask
from schools.models import Course, StaffRole, Student, Term
from tests.factories import (
    CalendarFactory,
    CourseFactory,
    DistrictFactory,
    EnrollmentFactory,
    SchoolFactory,
    SectionFactory,
    StudentFactory,
    UserFactory,
    cte_numeric,
    quarters,
    setup_cte_tasks,
)

pytestmark = pytest.mark.django_db


def _side(district, name):
    school = SchoolFactory(district=district, name=f"{name} High")
    calendar = CalendarFactory(school=school, name=f"{name} calendar")
    terms = quarters(calendar)
    course = CourseFactory(calendar=calendar, is_kts=True, number=f"{name}-CTE", name=f"{name} W")
    section = SectionFactory(course=course, number=f"{name}-1")
    tasks = setup_cte_tasks(course, active_term=terms[0])
    return SimpleNamespace(
        school=school, calendar=calendar, terms=terms, course=course, section=section, tasks=tasks
    )


@pytest.fixture
def w():
    district_a, district_b = DistrictFactory(name="District A"), DistrictFactory(name="District B")
    return SimpleNamespace(
        a=district_a,
        b=district_b,
        a1=_side(district_a, "A1"),
        a2=_side(district_a, "A2"),
        b1=_side(district_b, "B1"),
    )


def _staff(username, *roles):
    """A staff user (no Django model permissions) with the given (role, district|school)."""
    user = UserFactory(username=username, is_staff=True)
    for role, where in roles:
        if role == "district_admin":
            StaffRole.objects.create(user=user, role=role, district=where)
        else:
            StaffRole.objects.create(user=user, role=role, school=where)
    return user


def _url(obj, view="change"):
    meta = obj._meta
    args = [obj.pk] if view == "change" else []
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=args)


def _changelist(model):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def _value(bound):
    value = bound.value()
    if value is None:
        return None
    if isinstance(value, bool):
        return "on" if value else None
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return str(value)


def _post_data(resp) -> dict:
    """The change form as the browser would send it back unchanged (with its inlines)."""
    data = {}

    def add(form):
        for bound in form:
            value = _value(bound)
            if value is not None:
                data[bound.html_name] = value

    add(resp.context["adminform"].form)
    for inline in resp.context["inline_admin_formsets"]:
        add(inline.formset.management_form)
        for form in inline.formset.forms:
            add(form)
    return data


# --- R36: a district admin configures their own district -----------------------------------


def test_r36_district_admin_lists_and_opens_only_own_district_setup(client, w):
    # given a district admin of district A (is_staff, a StaffRole, no model permissions)
    client.force_login(_staff("da", ("district_admin", w.a)))

    # when they open the admin index and the change lists
    index = client.get(reverse("admin:index"))
    courses = client.get(_changelist(Course))
    terms = client.get(_changelist(Term))
    tasks = client.get(_changelist(CourseGradingTask))

    # then they see the setup of A's schools and nothing of B's
    assert index.status_code == 200
    assert _changelist(Course) in index.content.decode()
    assert courses.status_code == terms.status_code == tasks.status_code == 200
    assert set(courses.context["cl"].queryset) == {w.a1.course, w.a2.course}
    assert {t.calendar_id for t in terms.context["cl"].queryset} == {
        w.a1.calendar.pk,
        w.a2.calendar.pk,
    }
    assert {ct.course_id for ct in tasks.context["cl"].queryset} == {
        w.a1.course.pk,
        w.a2.course.pk,
    }
    for obj in (w.a1.course, w.a2.section, w.a1.terms[0], w.a1.tasks[CTE_TERM], w.a1.calendar):
        assert client.get(_url(obj)).status_code == 200, obj
    # and B's rows are not found (Django's admin redirects to the index for a missing object)
    for obj in (w.b1.course, w.b1.section, w.b1.terms[0], w.b1.tasks[CTE_TERM], w.b1.calendar):
        resp = client.get(_url(obj))
        assert resp.status_code == 302, obj
        assert resp.url == reverse("admin:index")
    # and the list filters name only A's schools
    filters = {spec.title: spec for spec in courses.context["cl"].filter_specs}
    school_choices = {label for _, label in filters["school"].lookup_choices}
    assert school_choices == {"A1 High", "A2 High"}


def test_r36_district_admin_changes_a_course_and_its_tasks_in_own_district(client, w):
    # given a district admin of district A on the change page of A1's course
    client.force_login(_staff("da", ("district_admin", w.a)))
    page = client.get(_url(w.a1.course))
    data = _post_data(page)

    # when they rename the course and save (the course tasks inline sent back unchanged)
    data["name"] = "Welding II"
    resp = client.post(_url(w.a1.course), data)

    # then it is saved
    assert resp.status_code == 302, resp.context and resp.context["adminform"].form.errors
    w.a1.course.refresh_from_db()
    assert w.a1.course.name == "Welding II"
    assert CourseGradingTask.objects.filter(course=w.a1.course).count() == 2


def test_r36_district_admin_cannot_change_or_delete_another_districts_rows(client, w):
    # given a district admin of district A
    client.force_login(_staff("da", ("district_admin", w.a)))

    # when they post a change and a delete for B's course
    changed = client.post(_url(w.b1.course), {"name": "Hijacked", "number": "X"})
    deleted = client.post(
        reverse("admin:schools_course_delete", args=[w.b1.course.pk]), {"post": "yes"}
    )

    # then nothing is found and nothing is written
    assert changed.status_code == 302 and deleted.status_code == 302
    w.b1.course.refresh_from_db()
    assert w.b1.course.name == "B1 W"


def test_r36_district_admin_dropdowns_offer_only_own_calendars_and_terms(client, w):
    # given a district admin of district A
    client.force_login(_staff("da", ("district_admin", w.a)))

    # when they open the add pages of a course, a term and a grading window
    course_form = client.get(reverse("admin:schools_course_add")).context["adminform"].form
    window_form = client.get(reverse("admin:grading_gradingwindow_add")).context["adminform"].form
    autocomplete = client.get(
        reverse("admin:autocomplete"),
        {"app_label": "schools", "model_name": "course", "field_name": "calendar", "term": ""},
    )

    # then the calendars and terms offered are A's only
    own_calendars = {w.a1.calendar.pk, w.a2.calendar.pk}
    assert set(course_form.fields["calendar"].queryset.values_list("pk", flat=True)) == (
        own_calendars
    )
    own_terms = {t.pk for t in w.a1.terms + w.a2.terms}
    assert set(window_form.fields["term"].queryset.values_list("pk", flat=True)) == own_terms
    assert autocomplete.status_code == 200
    assert {int(r["id"]) for r in autocomplete.json()["results"]} == own_calendars
    # and the state's CTE tasks stay selectable next to the district's own rows
    task_ids = set(window_form.fields["grading_tasks"].queryset.values_list("pk", flat=True))
    state_tasks = set(GradingTask.objects.filter(district=None).values_list("pk", flat=True))
    assert state_tasks <= task_ids


def test_r36_course_task_inline_offers_state_rows_and_follows_the_course(client, w):
    # given a district admin of district A and a credit type of district B
    CreditType.objects.create(name="B only", district=w.b)
    client.force_login(_staff("da", ("district_admin", w.a)))

    # when they open A1's course page (course tasks inline)
    page = client.get(_url(w.a1.course))

    # then the inline is editable and offers the state's rows, not B's
    inline = next(
        i for i in page.context["inline_admin_formsets"] if i.opts.model is CourseGradingTask
    )
    assert inline.has_change_permission and inline.has_add_permission
    form = inline.formset.forms[0]
    credit_types = set(form.fields["credit_type"].queryset.values_list("name", flat=True))
    assert "Career and Technical" in credit_types and "B only" not in credit_types
    assert cte_numeric() in form.fields["score_group"].queryset
    assert {t.code for t in form.fields["grading_task"].queryset} >= {CTE_TERM, CTE_FINAL}


def test_r36_district_admin_adds_a_course_in_own_district_not_in_another(client, w):
    # given a district admin of district A
    client.force_login(_staff("da", ("district_admin", w.a)))
    add = reverse("admin:schools_course_add")
    base = {**_post_data(client.get(add)), "number": "NEW1", "name": "New course"}

    # when they add a course to B's calendar, then to A1's
    refused = client.post(add, {**base, "calendar": w.b1.calendar.pk})
    accepted = client.post(add, {**base, "number": "NEW2", "calendar": w.a1.calendar.pk})

    # then B's calendar is not a valid choice (nothing saved) and A1's is
    assert refused.status_code == 200
    assert "calendar" in refused.context["adminform"].form.errors
    assert not Course.objects.filter(number="NEW1").exists()
    assert accepted.status_code == 302
    assert Course.objects.filter(number="NEW2", calendar=w.a1.calendar).exists()


def test_r36_state_rows_stay_read_only_for_a_district_admin(client, w):
    # given a district admin of district A
    client.force_login(_staff("da", ("district_admin", w.a)))
    state_task = GradingTask.objects.get(code=CTE_TERM)

    # when they open and post the state's CTE Term Grade
    page = client.get(_url(state_task))
    posted = client.post(_url(state_task), {"name": "Mine", "code": CTE_TERM})

    # then they may read it but not change it
    assert page.status_code == 200
    assert page.context["has_change_permission"] is False
    assert posted.status_code == 403
    state_task.refresh_from_db()
    assert state_task.name == "CTE Term Grade"


# --- R36: school admins, teachers, superusers ----------------------------------------------


def test_r36_school_admin_sees_only_own_school(client, w):
    # given a school admin of A1
    client.force_login(_staff("sa", ("school_admin", w.a1.school)))

    # when they list courses and sections and open A2's course
    courses = client.get(_changelist(Course))
    other = client.get(_url(w.a2.course))

    # then only A1's rows are there
    assert set(courses.context["cl"].queryset) == {w.a1.course}
    assert other.status_code == 302
    assert client.get(_url(w.a1.course)).status_code == 200
    # and calendars, which only district admins write, are read-only to them
    assert client.get(reverse("admin:schools_calendar_add")).status_code == 403


def test_r36_save_landing_outside_write_scope_is_a_form_error(client, w):
    # given a school admin of A1 who also teaches at A2 (so A2's calendar is readable)
    user = _staff("mixed", ("school_admin", w.a1.school), ("teacher", w.a2.school))
    client.force_login(user)

    # when they add a course to A2's calendar
    add = reverse("admin:schools_course_add")
    data = {**_post_data(client.get(add)), "number": "OUT1", "name": "Out of scope"}
    resp = client.post(add, {**data, "calendar": w.a2.calendar.pk})

    # then the form says why and nothing is saved
    assert resp.status_code == 200
    errors = resp.context["adminform"].form.non_field_errors()
    assert any("your own district or school" in e for e in errors)
    assert not Course.objects.filter(number="OUT1").exists()


def test_r36_save_model_checks_the_scope_before_writing_anything(rf, w):
    # given a school admin of A1 and a course placed in A2 by a form that skipped the check
    from django.contrib import admin
    from django.core.exceptions import PermissionDenied

    user = _staff("mixed", ("school_admin", w.a1.school), ("teacher", w.a2.school))
    request = rf.post("/admin/schools/course/add/")
    request.user = user
    course_admin = admin.site._registry[Course]
    course = Course(calendar=w.a2.calendar, number="OUT2", name="Out of scope")
    form = SimpleNamespace(changed_data=[], cleaned_data={"number": "OUT2"})

    # when the admin saves it
    with pytest.raises(PermissionDenied):
        course_admin.save_model(request, course, form, change=False)

    # then nothing was written: no row, no audit entry (nothing to roll back)
    from schools.models import AuditEntry

    assert not Course.objects.filter(number="OUT2").exists()
    assert not AuditEntry.objects.filter(model="schools.Course").exists()


def test_r41_user_admin_scope_is_its_own_mixin_not_a_skipped_one():
    # given the user admin
    from django.contrib import admin
    from django.contrib.auth import get_user_model

    from schools.admin_access import ManagedUsersAdminMixin
    from schools.admin_scoping import ScopedAdminMixin

    user_admin = admin.site._registry[get_user_model()]

    # then it takes the user-scope mixin, not the access-table one it would have to skip
    assert isinstance(user_admin, ManagedUsersAdminMixin)
    assert not isinstance(user_admin, ScopedAdminMixin)


def test_r42_staff_teacher_is_not_let_into_the_admin(client, w):
    # given a teacher of A1's section with is_staff
    teacher = _staff("teach", ("teacher", w.a1.school))
    w.a1.section.teachers.add(teacher)
    client.force_login(teacher)

    # when they look around the admin
    pages = [
        client.get(reverse("admin:index")),
        client.get(_changelist(type(w.a1.section))),
        client.get(reverse("admin:schools_course_add")),
        client.post(_url(w.a1.course), {"name": "Teacher edit"}),
    ]

    # then is_staff grants nothing by itself: every page sends them to the admin sign-in
    assert all(p.status_code == 302 and p.url.startswith("/admin/login/") for p in pages)
    w.a1.course.refresh_from_db()
    assert w.a1.course.name == "A1 W"


def test_r42_staff_without_a_role_is_not_let_into_the_admin(client, w):
    # given a staff user with no role and no permissions
    client.force_login(UserFactory(username="nobody", is_staff=True))

    # when they open the admin
    index = client.get(reverse("admin:index"))

    # then they are sent to the sign-in page, and the course list too
    assert index.status_code == 302
    assert client.get(_changelist(Course)).status_code == 302


def test_r42_school_admin_without_is_staff_reaches_own_school_setup(client, w):
    # given a school admin of A1 who is not is_staff (like the demo's central-principal)
    user = _staff("principal", ("school_admin", w.a1.school))
    user.is_staff = False
    user.save(update_fields=["is_staff"])
    client.force_login(user)

    # when they open the admin and their school's setup lists
    index = client.get(reverse("admin:index"))
    courses = client.get(_changelist(Course))

    # then they are in, and see their own school's courses only
    assert index.status_code == 200
    assert courses.status_code == 200
    schools = {c.calendar.school_id for c in courses.context["cl"].queryset}
    assert schools == {w.a1.school.pk}


def test_r36_superuser_still_sees_everything(admin_client, w):
    # given the state admin
    # when they list courses and open B's course
    courses = admin_client.get(_changelist(Course))

    # then every district's rows are there
    assert {w.a1.course, w.a2.course, w.b1.course} <= set(courses.context["cl"].queryset)
    assert admin_client.get(_url(w.b1.course)).status_code == 200


# --- R37: no student names in the admin log -------------------------------------------------


def test_r37_admin_log_entry_of_a_student_change_holds_no_name(client, w):
    # given a student enrolled at A1 and a district admin of A
    student = StudentFactory(first_name="Zelda", last_name="Quixotic")
    EnrollmentFactory(student=student, calendar=w.a1.calendar)
    client.force_login(_staff("da", ("district_admin", w.a)))
    data = _post_data(client.get(_url(student)))

    # when they change the student's name in the admin
    data["first_name"] = "Zora"
    resp = client.post(_url(student), data)

    # then the log entry names the row by model and key only
    assert resp.status_code == 302
    entry = LogEntry.objects.get(object_id=str(student.pk), content_type__model="student")
    assert entry.object_repr == f"Student #{student.pk}"
    for name in ("Zelda", "Zora", "Quixotic"):
        assert name not in entry.object_repr and name not in entry.change_message
    assert Student.objects.get(pk=student.pk).first_name == "Zora"


def test_r37_superuser_admin_log_holds_no_student_names_but_setup_names_stay(admin_client, w):
    # given a student and the state admin
    student = StudentFactory(first_name="Ada", last_name="Lovelace")

    # when they delete the student and rename a course
    admin_client.post(reverse("admin:schools_student_delete", args=[student.pk]), {"post": "yes"})
    data = _post_data(admin_client.get(_url(w.a1.course)))
    data["name"] = "Renamed"
    admin_client.post(_url(w.a1.course), data)

    # then the deletion is logged without the name; the course keeps its readable name
    deleted = LogEntry.objects.get(content_type__model="student", object_id=str(student.pk))
    assert deleted.object_repr == f"Student #{student.pk}"
    course_entry = LogEntry.objects.get(content_type__model="course")
    assert "Renamed" in course_entry.object_repr


def test_r36_district_admin_picks_teachers_and_role_holders_of_own_district_only(client, w):
    # given teachers at A1 and B1 and a new user with no role yet
    teacher_a = _staff("teach_a", ("teacher", w.a1.school))
    teacher_b = _staff("teach_b", ("teacher", w.b1.school))
    newcomer = UserFactory(username="newcomer")
    client.force_login(_staff("da", ("district_admin", w.a)))

    # when they open the add pages of a section and of a staff role
    section_form = client.get(reverse("admin:schools_section_add")).context["adminform"].form
    role_form = client.get(reverse("admin:schools_staffrole_add")).context["adminform"].form

    # then the teachers offered hold a role in district A; a staff role may also go to the
    # newcomer; nobody of district B is offered
    teachers = set(section_form.fields["teachers"].queryset)
    assert teacher_a in teachers and teacher_b not in teachers and newcomer not in teachers
    people = set(role_form.fields["user"].queryset)
    assert {teacher_a, newcomer} <= people and teacher_b not in people
    assert set(role_form.fields["school"].queryset) == {w.a1.school, w.a2.school}
