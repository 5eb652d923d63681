"""Course task setup R6-R11 through the service, the admin (course page inline) and the API;
the one-active-term rule also as a database constraint."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from grading.models import (
    CTE_EXAM,
    CTE_FINAL,
    CTE_TERM,
    CourseGradingTask,
    CourseTaskTerm,
    GradingTask,
    ScoreGroup,
    ScoreRow,
)
from grading.services.course_tasks import course_task_save
from tests.factories import (
    CalendarFactory,
    CourseFactory,
    CreditTypeFactory,
    SchoolFactory,
    cte_numeric,
    cte_task,
    quarters,
    semesters,
    setup_cte_tasks,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def hs_course():
    course = CourseFactory(is_kts=True, calendar=CalendarFactory())
    quarters(course.calendar)
    return course


@pytest.fixture
def tech_course():
    school = SchoolFactory(kind="technical_school")
    course = CourseFactory(is_kts=True, calendar=CalendarFactory(school=school))
    semesters(course.calendar)
    return course


@pytest.fixture
def credit_type():
    return CreditTypeFactory(name="Career and Technical")


def district_group(district, mins=(90, 80, 70, 60, 0), name="HS Letters"):
    group = ScoreGroup.objects.create(name=name, district=district)
    ScoreRow.objects.bulk_create(
        ScoreRow(group=group, score=s, min_percent=Decimal(m), passing=m > 0, gpa_value=Decimal(g))
        for s, m, g in zip("ABCDF", mins, (4, 3, 2, 1, 0), strict=True)
    )
    return group


def save(course, code, **kw):
    terms = list(course.calendar.terms.all())
    args = {
        "course_task_or_None": None,
        "course": course,
        "grading_task": cte_task(code) if isinstance(code, str) else code,
        "score_group": cte_numeric(),
        "term_gpa_weight": None,
        "credit": None,
        "credit_type": None,
        "term_mask": terms,
        "active_mask": [],
    }
    args.update(kw)
    return course_task_save(**args)


def codes(exc: ValidationError, field: str) -> list[str]:
    return [e.code for e in exc.error_dict.get(field, [])]


# --- R6 ------------------------------------------------------------------------------------


def test_r6_kts_course_accepts_cte_numeric(tech_course):
    ct = save(tech_course, CTE_TERM, term_gpa_weight=Decimal("1"))
    assert ct.score_group.is_cte_numeric


def test_r6_hs_may_use_district_group_with_cte_numeric_thresholds(hs_course):
    group = district_group(hs_course.calendar.school.district)
    ct = save(hs_course, CTE_TERM, score_group=group)
    assert ct.score_group == group


def test_r6_hs_district_group_with_other_thresholds_refused(hs_course):
    group = district_group(hs_course.calendar.school.district, mins=(93, 85, 77, 70, 0))
    with pytest.raises(ValidationError) as exc:
        save(hs_course, CTE_TERM, score_group=group)
    assert codes(exc.value, "score_group") == ["score_group_not_cte_numeric"]
    assert not CourseGradingTask.objects.exists()


def test_r6_tech_school_must_use_cte_numeric(tech_course):
    group = district_group(tech_course.calendar.school.district)
    with pytest.raises(ValidationError) as exc:
        save(tech_course, CTE_TERM, score_group=group)
    assert codes(exc.value, "score_group") == ["cte_numeric_required"]
    assert not CourseGradingTask.objects.exists()


def test_r6_score_group_of_other_district_refused(hs_course):
    group = district_group(SchoolFactory().district)
    with pytest.raises(ValidationError) as exc:
        save(hs_course, CTE_TERM, score_group=group)
    assert codes(exc.value, "score_group") == ["score_group_other_district"]


# --- R7 ------------------------------------------------------------------------------------


def test_r7_kts_course_accepts_each_cte_task_once(hs_course, credit_type):
    last = list(hs_course.calendar.terms.all())[-1:]
    save(hs_course, CTE_TERM, term_gpa_weight=Decimal("1"))
    save(hs_course, CTE_FINAL, credit=Decimal("1"), credit_type=credit_type, term_mask=last)
    save(hs_course, CTE_EXAM, term_mask=last)
    assert hs_course.course_tasks.count() == 3


def test_r7_non_cte_task_on_kts_course_refused(hs_course):
    task = GradingTask.objects.create(
        name="Semester Grade", district=hs_course.calendar.school.district
    )
    with pytest.raises(ValidationError) as exc:
        save(hs_course, task)
    assert codes(exc.value, "grading_task") == ["non_cte_task_on_kts_course"]
    assert not CourseGradingTask.objects.exists()


def test_r7_non_cte_task_on_ordinary_course_accepted():
    course = CourseFactory(is_kts=False)
    quarters(course.calendar)
    task = GradingTask.objects.create(
        name="Semester Grade", district=course.calendar.school.district
    )
    assert save(course, task).pk


def test_r7_same_cte_task_twice_refused(hs_course):
    save(hs_course, CTE_TERM)
    with pytest.raises(ValidationError) as exc:
        save(hs_course, CTE_TERM)
    assert codes(exc.value, "grading_task") == ["task_twice_on_course"]
    assert hs_course.course_tasks.count() == 1


# --- R8 ------------------------------------------------------------------------------------


def test_r8_term_gpa_weight_on_one_task_accepted_and_optional(hs_course, credit_type):
    save(hs_course, CTE_TERM, term_gpa_weight=Decimal("1"))
    final = save(
        hs_course,
        CTE_FINAL,
        credit=Decimal("1"),
        credit_type=credit_type,
        term_mask=list(hs_course.calendar.terms.all())[-1:],
    )
    assert final.term_gpa_weight is None


def test_r8_term_gpa_on_two_tasks_refused(hs_course, credit_type):
    save(hs_course, CTE_TERM, term_gpa_weight=Decimal("1"))
    with pytest.raises(ValidationError) as exc:
        save(
            hs_course,
            CTE_FINAL,
            term_gpa_weight=Decimal("1"),
            credit=Decimal("1"),
            credit_type=credit_type,
            term_mask=list(hs_course.calendar.terms.all())[-1:],
        )
    assert codes(exc.value, "term_gpa_weight") == ["term_gpa_on_two_tasks"]
    assert "CTE Term Grade already has it" in exc.value.message_dict["term_gpa_weight"][0]
    assert hs_course.course_tasks.count() == 1


def test_r8_negative_term_gpa_weight_refused(hs_course):
    with pytest.raises(ValidationError) as exc:
        save(hs_course, CTE_TERM, term_gpa_weight=Decimal("-1"))
    assert "negative_weight" in codes(exc.value, "term_gpa_weight")


# --- R9 ------------------------------------------------------------------------------------


def test_r9_term_grade_with_credit_and_partial_mask_refused(hs_course, credit_type):
    terms = list(hs_course.calendar.terms.all())
    with pytest.raises(ValidationError) as exc:
        save(hs_course, CTE_TERM, credit=Decimal("1"), credit_type=credit_type, term_mask=terms[:2])
    assert codes(exc.value, "credit") == ["credit_on_term_grade"]
    assert codes(exc.value, "credit_type") == ["credit_on_term_grade"]
    assert codes(exc.value, "term_mask") == ["term_mask_incomplete"]
    assert not CourseTaskTerm.objects.exists()


def test_r9_term_grade_on_every_term_accepted(hs_course):
    ct = save(hs_course, CTE_TERM)
    assert ct.mask.count() == 4


# --- R10 -----------------------------------------------------------------------------------


def test_r10_final_grade_needs_credit_and_credit_type(hs_course):
    with pytest.raises(ValidationError) as exc:
        save(hs_course, CTE_FINAL, credit=Decimal("0"))
    assert codes(exc.value, "credit") == ["credit_required"]
    assert codes(exc.value, "credit_type") == ["credit_type_required"]
    assert not CourseGradingTask.objects.exists()


def test_r10_credit_type_of_other_district_refused(hs_course):
    other = CreditTypeFactory(district=SchoolFactory().district)
    with pytest.raises(ValidationError) as exc:
        save(hs_course, CTE_FINAL, credit=Decimal("1"), credit_type=other)
    assert codes(exc.value, "credit_type") == ["credit_type_other_district"]


def test_r10_final_grade_with_district_credit_type_accepted(hs_course):
    mine = CreditTypeFactory(district=hs_course.calendar.school.district)
    ct = save(hs_course, CTE_FINAL, credit=Decimal("1.5"), credit_type=mine)
    assert ct.credit == Decimal("1.5")


# --- R11 -----------------------------------------------------------------------------------


def test_r11_one_active_term_inside_mask_accepted_and_replaced(hs_course):
    terms = list(hs_course.calendar.terms.all())
    ct = save(hs_course, CTE_TERM, active_mask=[terms[0]])
    ct = save(hs_course, CTE_TERM, course_task_or_None=ct, active_mask=[terms[1]])
    assert list(ct.mask.filter(active=True).values_list("term_id", flat=True)) == [terms[1].pk]


def test_r11_two_active_terms_refused(hs_course):
    terms = list(hs_course.calendar.terms.all())
    with pytest.raises(ValidationError) as exc:
        save(hs_course, CTE_TERM, active_mask=terms[:2])
    assert codes(exc.value, "active_mask") == ["two_active_terms"]
    assert not CourseTaskTerm.objects.exists()


def test_r11_active_term_outside_mask_refused(hs_course, credit_type):
    terms = list(hs_course.calendar.terms.all())
    with pytest.raises(ValidationError) as exc:
        save(
            hs_course,
            CTE_FINAL,
            credit=Decimal("1"),
            credit_type=credit_type,
            term_mask=terms[-1:],
            active_mask=terms[:1],
        )
    assert codes(exc.value, "active_mask") == ["active_not_in_term_mask"]


def test_r11_term_of_other_calendar_refused(hs_course, tech_course):
    with pytest.raises(ValidationError) as exc:
        save(hs_course, CTE_EXAM, term_mask=list(tech_course.calendar.terms.all()))
    assert codes(exc.value, "term_mask") == ["term_of_other_calendar"]


def test_r11_database_refuses_second_active_term_on_raw_insert(hs_course):
    # given a course task with one active term, written by the factory helper
    terms = list(hs_course.calendar.terms.all())
    tasks = setup_cte_tasks(hs_course, active_term=terms[0])
    # when a second active row is inserted bypassing clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        CourseTaskTerm.objects.filter(course_task=tasks[CTE_TERM], term=terms[1]).update(
            active=True
        )
    # then the first stays the only active term
    assert tasks[CTE_TERM].mask.filter(active=True).count() == 1


def test_r11_database_refuses_two_active_rows_in_bulk_create(hs_course):
    ct = CourseGradingTask.objects.create(
        course=hs_course, grading_task=cte_task(CTE_EXAM), score_group=cte_numeric()
    )
    terms = list(hs_course.calendar.terms.all())
    with pytest.raises(IntegrityError), transaction.atomic():
        CourseTaskTerm.objects.bulk_create(
            [CourseTaskTerm(course_task=ct, term=t, active=True) for t in terms[:2]]
        )
    assert not CourseTaskTerm.objects.exists()


# --- The API -------------------------------------------------------------------------------


def payload(course, code, **kw):
    data = {
        "course": course.pk,
        "grading_task": cte_task(code).pk,
        "score_group": cte_numeric().pk,
        "term_mask": [t.pk for t in course.calendar.terms.all()],
        "active_mask": [],
    }
    data.update(kw)
    return data


def test_r11_api_creates_course_task_with_masks(api, hs_course):
    terms = list(hs_course.calendar.terms.all())
    resp = api.post(
        "/api/v1/course-grading-tasks/",
        payload(hs_course, CTE_TERM, active_mask=[terms[0].pk], term_gpa_weight="1.00"),
        format="json",
    )
    assert resp.status_code == 201, resp.content
    body = resp.json()
    assert body["term_mask"] == [t.pk for t in terms]
    assert body["active_mask"] == [terms[0].pk]
    # a PATCH of the active mask keeps the term mask
    patch = api.patch(
        f"/api/v1/course-grading-tasks/{body['id']}/", {"active_mask": [terms[2].pk]}, format="json"
    )
    assert patch.status_code == 200, patch.content
    assert patch.json()["active_mask"] == [terms[2].pk]
    assert patch.json()["term_mask"] == [t.pk for t in terms]
    listed = api.get(f"/api/v1/course-grading-tasks/?active_term={terms[2].pk}").json()
    assert listed["count"] == 1


def test_r8_api_term_gpa_on_two_tasks_is_400(api, hs_course, credit_type):
    setup_cte_tasks(hs_course, active_term=None)  # CTE Term Grade carries Term GPA
    exam = api.post(
        "/api/v1/course-grading-tasks/",
        payload(hs_course, CTE_EXAM, term_gpa_weight="1.00"),
        format="json",
    )
    assert exam.status_code == 400
    err = exam.json()["term_gpa_weight"][0]
    assert err == "Set Term GPA on only one task; CTE Term Grade already has it."
    assert hs_course.course_tasks.count() == 2


def test_r7_r11_api_refusals_are_400_with_fields(api, hs_course):
    task = GradingTask.objects.create(name="Other", district=hs_course.calendar.school.district)
    terms = list(hs_course.calendar.terms.all())
    resp = api.post(
        "/api/v1/course-grading-tasks/",
        {
            **payload(hs_course, CTE_TERM, active_mask=[terms[0].pk, terms[1].pk]),
            "grading_task": task.pk,
        },
        format="json",
    )
    assert resp.status_code == 400
    assert set(resp.json()) >= {"grading_task", "active_mask"}
    unknown = api.post(
        "/api/v1/course-grading-tasks/",
        payload(hs_course, CTE_TERM, term_mask=[999999]),
        format="json",
    )
    assert unknown.status_code == 400 and "term_mask" in unknown.json()
    assert not CourseGradingTask.objects.exists()


def test_r10_api_final_grade_without_credit_is_400(api, hs_course):
    resp = api.post(
        "/api/v1/course-grading-tasks/",
        payload(hs_course, CTE_FINAL, term_mask=[hs_course.calendar.terms.last().pk]),
        format="json",
    )
    assert resp.status_code == 400
    assert resp.json()["credit"][0].startswith("Enter the credit")
    assert not CourseGradingTask.objects.exists()


# --- The admin: the course page's inline ---------------------------------------------------


def inline_post(course, forms, initial=0):
    data = {
        "calendar": course.calendar_id,
        "number": course.number,
        "name": course.name,
        "state_code": course.state_code,
        "is_kts": "on" if course.is_kts else "",
        "course_tasks-TOTAL_FORMS": str(len(forms)),
        "course_tasks-INITIAL_FORMS": str(initial),
        "course_tasks-MIN_NUM_FORMS": "0",
        "course_tasks-MAX_NUM_FORMS": "1000",
    }
    for i, form in enumerate(forms):
        for key, value in form.items():
            data[f"course_tasks-{i}-{key}"] = value
        data[f"course_tasks-{i}-course"] = course.pk
    return data


def test_r9_admin_course_page_saves_tasks_with_checkbox_masks(
    admin_client_su, hs_course, credit_type
):
    terms = list(hs_course.calendar.terms.all())
    url = reverse("admin:schools_course_change", args=[hs_course.pk])
    page = admin_client_su.get(url)
    assert page.status_code == 200
    assert 'type="checkbox" name="course_tasks-0-term_mask"' in page.content.decode()
    resp = admin_client_su.post(
        url,
        inline_post(
            hs_course,
            [
                {
                    "grading_task": cte_task(CTE_TERM).pk,
                    "score_group": cte_numeric().pk,
                    "term_gpa_weight": "1",
                    "term_mask": [t.pk for t in terms],
                    "active_mask": [terms[0].pk],
                },
                {
                    "grading_task": cte_task(CTE_FINAL).pk,
                    "score_group": cte_numeric().pk,
                    "credit": "1",
                    "credit_type": credit_type.pk,
                    "term_mask": [terms[-1].pk],
                },
            ],
        ),
    )
    assert resp.status_code == 302, resp.content.decode()[:3000]
    term_task = hs_course.course_tasks.get(grading_task__code=CTE_TERM)
    assert term_task.mask.count() == 4
    assert term_task.mask.get(active=True).term == terms[0]


def test_r8_admin_inline_refuses_term_gpa_on_two_tasks_next_to_field(
    admin_client_su, hs_course, credit_type
):
    terms = list(hs_course.calendar.terms.all())
    url = reverse("admin:schools_course_change", args=[hs_course.pk])
    resp = admin_client_su.post(
        url,
        inline_post(
            hs_course,
            [
                {
                    "grading_task": cte_task(CTE_TERM).pk,
                    "score_group": cte_numeric().pk,
                    "term_gpa_weight": "1",
                    "term_mask": [t.pk for t in terms],
                },
                {
                    "grading_task": cte_task(CTE_FINAL).pk,
                    "score_group": cte_numeric().pk,
                    "term_gpa_weight": "1",
                    "credit": "1",
                    "credit_type": credit_type.pk,
                    "term_mask": [terms[-1].pk],
                },
            ],
        ),
    )
    assert resp.status_code == 200
    formset = resp.context["inline_admin_formsets"][0].formset
    assert any(
        "term_gpa_weight" in f.errors and "already has it" in f.errors["term_gpa_weight"][0]
        for f in formset.forms
    )
    assert not CourseGradingTask.objects.exists()


def test_r9_r11_admin_inline_errors_next_to_masks(admin_client_su, hs_course):
    terms = list(hs_course.calendar.terms.all())
    url = reverse("admin:schools_course_change", args=[hs_course.pk])
    resp = admin_client_su.post(
        url,
        inline_post(
            hs_course,
            [
                {
                    "grading_task": cte_task(CTE_TERM).pk,
                    "score_group": cte_numeric().pk,
                    "term_mask": [terms[0].pk],
                    "active_mask": [terms[1].pk, terms[2].pk],
                }
            ],
        ),
    )
    assert resp.status_code == 200
    form = resp.context["inline_admin_formsets"][0].formset.forms[0]
    assert [e.code for e in form.errors.as_data()["term_mask"]] == ["term_mask_incomplete"]
    assert {e.code for e in form.errors.as_data()["active_mask"]} == {
        "active_not_in_term_mask",
        "two_active_terms",
    }
    assert not CourseGradingTask.objects.exists()


def test_r8_admin_inline_moves_term_gpa_between_tasks(admin_client_su, hs_course):
    terms = list(hs_course.calendar.terms.all())
    tasks = setup_cte_tasks(hs_course, active_term=terms[0])
    url = reverse("admin:schools_course_change", args=[hs_course.pk])
    forms = []
    for ct in hs_course.course_tasks.order_by("grading_task__name"):
        forms.append(
            {
                "id": ct.pk,
                "grading_task": ct.grading_task_id,
                "score_group": ct.score_group_id,
                "term_gpa_weight": "" if ct.grading_task.code == CTE_TERM else "1",
                "credit": ct.credit or "",
                "credit_type": ct.credit_type_id or "",
                "term_mask": [r.term_id for r in ct.mask.all()],
                "active_mask": [r.term_id for r in ct.mask.filter(active=True)],
            }
        )
    resp = admin_client_su.post(url, inline_post(hs_course, forms, initial=2))
    assert resp.status_code == 302, [
        f.errors for f in resp.context["inline_admin_formsets"][0].formset.forms
    ] + [resp.context["adminform"].form.errors]
    tasks[CTE_FINAL].refresh_from_db()
    tasks[CTE_TERM].refresh_from_db()
    assert tasks[CTE_FINAL].term_gpa_weight == Decimal("1")
    assert tasks[CTE_TERM].term_gpa_weight is None


def test_r6_admin_course_task_changelist_and_change_form(admin_client_su, tech_course):
    tasks = setup_cte_tasks(tech_course, active_term=None)
    assert (
        admin_client_su.get(reverse("admin:grading_coursegradingtask_changelist")).status_code
        == 200
    )
    url = reverse("admin:grading_coursegradingtask_change", args=[tasks[CTE_TERM].pk])
    group = district_group(tech_course.calendar.school.district)
    resp = admin_client_su.post(
        url,
        {
            "grading_task": tasks[CTE_TERM].grading_task_id,
            "score_group": group.pk,
            "term_gpa_weight": "1",
            "term_mask": [t.pk for t in tech_course.calendar.terms.all()],
        },
    )
    assert resp.status_code == 200
    assert "cte_numeric_required" in [
        e.code for e in resp.context["adminform"].form.errors.as_data()["score_group"]
    ]
    tasks[CTE_TERM].refresh_from_db()
    assert tasks[CTE_TERM].score_group.is_cte_numeric


# --- A change of the course or of its score group keeps R6/R7 --------------------------------


def test_r7_api_making_course_kts_with_non_cte_task_is_400(api):
    course = CourseFactory(is_kts=False)
    quarters(course.calendar)
    task = GradingTask.objects.create(name="Semester", district=course.calendar.school.district)
    save(course, task)
    resp = api.patch(f"/api/v1/courses/{course.pk}/", {"is_kts": True}, format="json")
    assert resp.status_code == 400
    assert "Semester" in resp.json()["non_field_errors"][0]
    course.refresh_from_db()
    assert course.is_kts is False


def test_r7_api_making_course_kts_with_cte_tasks_accepted(api):
    course = CourseFactory(is_kts=False)
    terms = quarters(course.calendar)
    setup_cte_tasks(course, active_term=terms[0])
    resp = api.patch(f"/api/v1/courses/{course.pk}/", {"is_kts": True}, format="json")
    assert resp.status_code == 200, resp.content


def test_r7_admin_making_course_kts_with_non_cte_task_refused(admin_client_su):
    course = CourseFactory(is_kts=False)
    terms = quarters(course.calendar)
    task = GradingTask.objects.create(name="Semester", district=course.calendar.school.district)
    ct = save(course, task)
    course.is_kts = True  # what the admin posts
    resp = admin_client_su.post(
        reverse("admin:schools_course_change", args=[course.pk]),
        inline_post(
            course,
            [
                {
                    "id": ct.pk,
                    "grading_task": task.pk,
                    "score_group": cte_numeric().pk,
                    "term_mask": [t.pk for t in terms],
                }
            ],
            initial=1,
        ),
    )
    assert resp.status_code == 200
    course.refresh_from_db()
    assert course.is_kts is False


def test_r6_changing_thresholds_of_group_used_on_kts_course_refused(hs_course):
    from grading.services.score_groups import score_group_save

    group = district_group(hs_course.calendar.school.district)
    save(hs_course, CTE_TERM, score_group=group)
    rows = [
        {"score": s, "min_percent": m, "passing": m > 0, "gpa_value": g}
        for s, m, g in zip("ABCDF", (93, 85, 77, 70, 0), (4, 3, 2, 1, 0), strict=True)
    ]
    with pytest.raises(ValidationError) as exc:
        score_group_save(group=group, name=group.name, district=group.district, rows=rows)
    assert exc.value.error_dict["rows"][0].code == "score_group_used_on_kts_course"
    assert sorted(group.rows.values_list("min_percent", flat=True)) == [0, 60, 70, 80, 90]
