"""Setup services: score groups, grading tasks, credit types, course tasks, grading windows.

Rules that span rows (R4-R12) live here and are called from the admin forms and the API
serializers alike, so both show the same error, with the same code, next to the same field.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from grading.models import (
    CTE_FINAL,
    CTE_NUMERIC,
    CTE_TERM,
    CourseGradingTask,
    CourseTaskTerm,
    CreditType,
    GradingTask,
    GradingWindow,
    ScoreGroup,
    ScoreRow,
)
from grading.scoring import rows_of, thresholds
from schools.models import Course, District, School, Term, coded_error
from schools.services import model_save, record_delete

ROW_FIELDS = ("score", "min_percent", "passing", "gpa_value")


# --- R4: the state's rows ----------------------------------------------------------------


def is_protected_state_row(obj: Any) -> bool:
    """R4: the CTE tasks and CTE Numeric are never changed through the admin or the API."""
    if isinstance(obj, GradingTask):
        return bool(obj.pk) and obj.is_cte
    if isinstance(obj, ScoreGroup):
        return bool(obj.pk) and obj.district_id is None and obj.name == CTE_NUMERIC
    return False


def may_edit_row(obj: Any, *, by: Any = None) -> bool:
    """R4: state rows (district null) are read-only for everyone but superusers."""
    if is_protected_state_row(obj):
        return False
    if getattr(obj, "district_id", None) is None and by is not None:
        return bool(getattr(by, "is_superuser", False))
    return True


def check_state_row_editable(obj: Any, *, by: Any = None, deleting: bool = False) -> None:
    """R4: refuse changes to the state's push-down and, for non-superusers, any state row."""
    if is_protected_state_row(obj):
        what = "delete" if deleting else "change"
        raise ValidationError(
            f"{obj} is provided by the state and cannot be {what}d here; "
            "ask the state to change it.",
            code="state_row_read_only",
        )
    if not may_edit_row(obj, by=by):
        raise coded_error(
            {"district": "Choose your district: rows without a district belong to the state."},
            code="state_row_read_only",
        )


def check_district_move(obj: Any, *, district: District | None) -> None:
    """R6/R10/R4: a row in use on course tasks keeps serving them after its district changes.

    Moving a district's score group, grading task or credit type to another district would
    leave course tasks of the old district using another district's row (the course task
    check refuses exactly that). Moving it to the state is fine for tasks and credit types;
    for a score group it is refused when the group is used on a KTS course (R6).
    ``obj`` is the row as saved; call this before the new district is assigned.
    """
    kinds = {
        ScoreGroup: ("score_group", "score group"),
        GradingTask: ("grading_task", "grading task"),
        CreditType: ("credit_type", "credit type"),
    }
    if type(obj) not in kinds or not obj.pk:
        return
    if obj.district_id == (district.pk if district else None):
        return
    field, what = kinds[type(obj)]
    used = CourseGradingTask.objects.filter(**{field: obj})
    if district is not None:
        used = used.exclude(course__calendar__school__district=district)
    elif isinstance(obj, ScoreGroup):
        used = used.filter(course__is_kts=True)
    else:
        return
    first = used.select_related("course").first()
    if first:
        raise coded_error(
            {
                "district": f"Keep this {what} in its district: it is used on course "
                f"{first.course}; set up those course tasks with another {what} first."
            },
            code="in_use_other_district",
        )


# --- R5: score groups --------------------------------------------------------------------


def validate_score_rows(rows: Sequence[dict[str, Any]]) -> None:
    """R5: at least one row, Min % and score unique in the group, exactly one row at 0 %."""
    if not rows:
        raise coded_error(
            {"rows": "Add at least one row; one of them must have Min % 0."},
            code="score_group_empty",
        )
    mins = [Decimal(str(r["min_percent"])) for r in rows]
    if len(set(mins)) != len(mins):
        dup = next(m for m in mins if mins.count(m) > 1)
        raise coded_error(
            {"rows": f"Give each row a different Min %; {dup} is used twice."},
            code="min_percent_not_unique",
        )
    scores = [str(r["score"]).strip() for r in rows]
    if len(set(scores)) != len(scores):
        dup = next(s for s in scores if scores.count(s) > 1)
        raise coded_error(
            {"rows": f"Give each row a different score; {dup} is used twice."},
            code="score_not_unique",
        )
    if Decimal("0") not in mins:
        raise coded_error(
            {"rows": "Add a row with Min % 0 so that every percent maps to a score."},
            code="no_zero_row",
        )


def score_group_save(
    *,
    group: ScoreGroup | None,
    name: str,
    district: District | None,
    rows: Sequence[dict[str, Any]],
    by: Any = None,
) -> ScoreGroup:
    """Create or update a score group; its rows are replaced as a whole (R4, R5)."""
    group = group or ScoreGroup()
    if group.pk:
        check_state_row_editable(group, by=by)
    check_state_row_editable(ScoreGroup(name=name, district=district), by=by)
    validate_score_rows(rows)
    if group.pk:
        _check_kts_thresholds(group, rows)
        check_district_move(group, district=district)
    with transaction.atomic():
        model_save(instance=group, name=name, district=district)
        new_rows = [ScoreRow(group=group, **{k: r[k] for k in ROW_FIELDS if k in r}) for r in rows]
        errors = []
        for row in new_rows:
            try:
                row.full_clean(exclude=["group"], validate_constraints=False)
            except ValidationError as exc:
                errors.extend(exc.messages)
        if errors:
            raise coded_error({"rows": errors}, code="invalid_row")
        group.rows.all().delete()
        ScoreRow.objects.bulk_create(new_rows)
    return group


def _check_kts_thresholds(group: ScoreGroup, rows: Sequence[dict[str, Any]]) -> None:
    """R6: a district group used on a KTS course must keep CTE Numeric's Min % column."""
    if thresholds(rows_of(rows)) == cte_numeric_thresholds():
        return
    used = (
        CourseGradingTask.objects.filter(score_group=group, course__is_kts=True)
        .select_related("course")
        .first()
    )
    if used:
        raise coded_error(
            {
                "rows": f"Keep the Min % column 90, 80, 70, 60, 0: this group is used on the "
                f"KTS course {used.course}, which must match CTE Numeric."
            },
            code="score_group_used_on_kts_course",
        )


def score_group_delete(*, group: ScoreGroup, by: Any = None) -> None:
    check_state_row_editable(group, by=by, deleting=True)
    _delete(group, "score group", "course tasks", by=by)


def _delete(obj: Any, what: str, users: str, *, by: Any = None) -> None:
    from django.db.models import ProtectedError, RestrictedError

    try:
        record_delete(instances=[obj], by=by)
    except (ProtectedError, RestrictedError) as exc:
        raise ValidationError(
            f"This {what} is in use by {users}; remove those first.", code="in_use"
        ) from exc


# --- Grading tasks and credit types (R4) ------------------------------------------------


def grading_task_save(
    *,
    task: GradingTask | None,
    name: str,
    code: str = "",
    district: District | None = None,
    by: Any = None,
) -> GradingTask:
    """Create or update a grading task; the state's CTE tasks cannot be changed (R4)."""
    task = task or GradingTask()
    if task.pk:
        check_state_row_editable(task, by=by)
    check_state_row_editable(GradingTask(name=name, district=district), by=by)
    check_district_move(task, district=district)
    with transaction.atomic():
        return model_save(instance=task, name=name, code=code or "", district=district)


def grading_task_delete(*, task: GradingTask, by: Any = None) -> None:
    check_state_row_editable(task, by=by, deleting=True)
    _delete(task, "grading task", "course tasks or grades", by=by)


def credit_type_save(
    *, credit_type: CreditType | None, name: str, district: District | None, by: Any = None
) -> CreditType:
    """Create or update a credit type; state credit types are for superusers only (R4)."""
    credit_type = credit_type or CreditType()
    if credit_type.pk:
        check_state_row_editable(credit_type, by=by)
    check_state_row_editable(CreditType(name=name, district=district), by=by)
    check_district_move(credit_type, district=district)
    with transaction.atomic():
        return model_save(instance=credit_type, name=name, district=district)


def credit_type_delete(*, credit_type: CreditType, by: Any = None) -> None:
    check_state_row_editable(credit_type, by=by, deleting=True)
    _delete(credit_type, "credit type", "course tasks", by=by)


# --- R6-R11: course tasks ----------------------------------------------------------------


@dataclass(frozen=True)
class Sibling:
    """Another task of the same course, as the course will be after the save."""

    pk: int | None
    grading_task: GradingTask
    term_gpa_weight: Decimal | None


def siblings_of(course: Course, *, exclude_pk: int | None) -> list[Sibling]:
    return [
        Sibling(ct.pk, ct.grading_task, ct.term_gpa_weight)
        for ct in course.course_tasks.exclude(pk=exclude_pk).select_related("grading_task")
    ]


def cte_numeric_thresholds() -> list[Decimal]:
    group = ScoreGroup.objects.get(name=CTE_NUMERIC, district=None)
    return thresholds(rows_of(group.rows.all()))


def course_task_validate(
    *,
    course_task: CourseGradingTask | None,
    course: Course,
    grading_task: GradingTask | None,
    score_group: ScoreGroup | None,
    term_gpa_weight: Decimal | None,
    credit: Decimal | None,
    credit_type: CreditType | None,
    term_mask: Iterable[Term],
    active_mask: Iterable[Term],
    siblings: Sequence[Sibling] | None = None,
) -> None:
    """R6-R11 for one course task. Raises one ValidationError keyed by field, with codes.

    ``siblings`` are the course's other tasks as they will be (default: as saved), so an
    admin page that edits several tasks at once checks them against each other.
    """
    errors: dict[str, list[ValidationError]] = {}

    def add(field: str, message: str, code: str) -> None:
        errors.setdefault(field, []).append(ValidationError(message, code=code))

    term_mask = list(term_mask)
    active_mask = list(active_mask)
    pk = course_task.pk if course_task else None
    if siblings is None:
        siblings = siblings_of(course, exclude_pk=pk)
    calendar = course.calendar
    school = calendar.school
    code = grading_task.code if grading_task else ""

    # R4 / scope: a task or score group of another district is refused.
    if grading_task and grading_task.district_id not in (None, school.district_id):
        add(
            "grading_task",
            "Choose a grading task of this district or the state.",
            "task_other_district",
        )
    # R7: on a KTS course, only the three CTE tasks, each at most once.
    if grading_task:
        if course.is_kts and not grading_task.is_cte:
            add(
                "grading_task",
                "A KTS course uses only the state's CTE tasks: CTE Term Grade, "
                "CTE Final Grade or CTE Final Exam.",
                "non_cte_task_on_kts_course",
            )
        if any(s.grading_task.pk == grading_task.pk for s in siblings):
            add(
                "grading_task",
                f"{grading_task} is already set up on this course; edit that task instead.",
                "task_twice_on_course",
            )

    # R6: the score group.
    if score_group:
        if score_group.district_id not in (None, school.district_id):
            add(
                "score_group",
                "Choose a score group of this district or the state.",
                "score_group_other_district",
            )
        elif course.is_kts and not score_group.is_cte_numeric:
            if school.is_technical:
                add(
                    "score_group",
                    "A technical school's KTS course uses CTE Numeric; choose CTE Numeric.",
                    "cte_numeric_required",
                )
            elif (
                score_group.district_id is None
                or thresholds(rows_of(score_group.rows.all())) != cte_numeric_thresholds()
            ):
                add(
                    "score_group",
                    "On a KTS course use CTE Numeric, or a district score group whose Min % "
                    "column is exactly CTE Numeric's (90, 80, 70, 60, 0).",
                    "score_group_not_cte_numeric",
                )

    # R8: Term GPA weight >= 0, on one task per course.
    if term_gpa_weight is not None:
        if term_gpa_weight < 0:
            add("term_gpa_weight", "Enter a Term GPA weight of 0 or more.", "negative_weight")
        other = next((s for s in siblings if s.term_gpa_weight is not None), None)
        if other:
            add(
                "term_gpa_weight",
                f"Set Term GPA on only one task; {other.grading_task} already has it.",
                "term_gpa_on_two_tasks",
            )

    # Credit and credit type.
    if credit is not None and credit < 0:
        add("credit", "Enter a credit of 0 or more.", "negative_credit")
    if credit_type and credit_type.district_id not in (None, school.district_id):
        add(
            "credit_type",
            "Choose a credit type of this district or the state.",
            "credit_type_other_district",
        )

    # R11: the masks.
    calendar_terms = list(calendar.terms.all())
    calendar_ids = {t.pk for t in calendar_terms}
    mask_ids = {t.pk for t in term_mask}
    active_ids = {t.pk for t in active_mask}
    if not mask_ids:
        add("term_mask", "Tick at least one term in the term mask.", "term_mask_required")
    if mask_ids - calendar_ids:
        add("term_mask", "Choose only terms of this course's calendar.", "term_of_other_calendar")
    if active_ids - calendar_ids:
        add("active_mask", "Choose only terms of this course's calendar.", "term_of_other_calendar")
    elif active_ids - mask_ids:
        add(
            "active_mask",
            "Tick the active term in the term mask too: the active mask must lie within it.",
            "active_not_in_term_mask",
        )
    if len(active_ids) > 1:
        add("active_mask", "Mark only one term active for this task.", "two_active_terms")

    # R9: CTE Term Grade.
    if code == CTE_TERM:
        if credit is not None:
            add(
                "credit",
                "Leave credit blank on CTE Term Grade; credit goes on CTE Final Grade.",
                "credit_on_term_grade",
            )
        if credit_type is not None:
            add("credit_type", "Leave credit type blank on CTE Term Grade.", "credit_on_term_grade")
        missing = [t for t in calendar_terms if t.pk not in mask_ids]
        if missing and mask_ids:
            add(
                "term_mask",
                "CTE Term Grade covers every term of the calendar; also tick "
                + ", ".join(t.name for t in missing)
                + ".",
                "term_mask_incomplete",
            )
    # R10: CTE Final Grade.
    if code == CTE_FINAL:
        if credit is None or credit <= 0:
            add(
                "credit",
                "Enter the credit (more than 0) this course earns on the transcript.",
                "credit_required",
            )
        if credit_type is None:
            add(
                "credit_type",
                "Choose the credit type this course earns on the transcript.",
                "credit_type_required",
            )

    if errors:
        raise ValidationError(errors)


@transaction.atomic
def course_task_save(
    *,
    course_task_or_None: CourseGradingTask | None,
    course: Course,
    grading_task: GradingTask,
    score_group: ScoreGroup,
    term_gpa_weight: Decimal | None = None,
    credit: Decimal | None = None,
    credit_type: CreditType | None = None,
    term_mask: Iterable[Term],
    active_mask: Iterable[Term] = (),
    by: Any = None,
) -> CourseGradingTask:
    """Create or update a course task and its term mask rows (R6-R11)."""
    term_mask = list(term_mask)
    active_mask = list(active_mask)
    course_task_validate(
        course_task=course_task_or_None,
        course=course,
        grading_task=grading_task,
        score_group=score_group,
        term_gpa_weight=term_gpa_weight,
        credit=credit,
        credit_type=credit_type,
        term_mask=term_mask,
        active_mask=active_mask,
    )
    course_task = course_task_or_None or CourseGradingTask()
    model_save(
        instance=course_task,
        course=course,
        grading_task=grading_task,
        score_group=score_group,
        term_gpa_weight=term_gpa_weight,
        credit=credit,
        credit_type=credit_type,
    )
    mask_ids = {t.pk for t in term_mask}
    active_ids = {t.pk for t in active_mask}
    rows = CourseTaskTerm.objects.filter(course_task=course_task)
    rows.exclude(term_id__in=mask_ids).delete()
    # Clear before setting so the one-active-term constraint holds after every statement.
    rows.filter(active=True).exclude(term_id__in=active_ids).update(active=False)
    existing = set(rows.values_list("term_id", flat=True))
    CourseTaskTerm.objects.bulk_create(
        CourseTaskTerm(course_task=course_task, term_id=t, active=False)
        for t in sorted(mask_ids - existing)
    )
    rows.filter(term_id__in=active_ids, active=False).update(active=True)
    return course_task


def course_tasks_check(course: Course) -> None:
    """R6-R11 for every task of ``course`` as it stands (after a change of the course itself,
    e.g. making it a KTS course). Refuses with one message per broken task."""
    problems = []
    tasks = list(
        course.course_tasks.select_related(
            "grading_task", "score_group", "credit_type"
        ).prefetch_related("mask__term")
    )
    for ct in tasks:
        rows = list(ct.mask.all())
        try:
            course_task_validate(
                course_task=ct,
                course=course,
                grading_task=ct.grading_task,
                score_group=ct.score_group,
                term_gpa_weight=ct.term_gpa_weight,
                credit=ct.credit,
                credit_type=ct.credit_type,
                term_mask=[r.term for r in rows],
                active_mask=[r.term for r in rows if r.active],
                siblings=[
                    Sibling(o.pk, o.grading_task, o.term_gpa_weight) for o in tasks if o is not ct
                ],
            )
        except ValidationError as exc:
            problems.extend(f"{ct.grading_task}: {m}" for m in exc.messages)
    if problems:
        raise ValidationError(
            "Fix this course's grading tasks first. " + " ".join(problems),
            code="course_tasks_invalid",
        )


def course_task_delete(*, course_task: CourseGradingTask, by: Any = None) -> None:
    _delete(course_task, "course task", "grades", by=by)


# --- R12: grading windows ----------------------------------------------------------------


def grading_window_validate(
    *,
    window: GradingWindow | None,
    school: School,
    term: Term,
    grading_tasks: Iterable[GradingTask],
    opens_on: Any,
    closes_on: Any,
) -> None:
    """R12: tasks of the school's district or the state; no overlap with another window
    of the same school that shares a task."""
    tasks = list(grading_tasks)
    if not tasks:
        raise coded_error(
            {"grading_tasks": "Choose the grading tasks this window opens."}, code="required"
        )
    if any(t.district_id not in (None, school.district_id) for t in tasks):
        raise coded_error(
            {"grading_tasks": "Choose grading tasks of this district or the state."},
            code="task_other_district",
        )
    if not (opens_on and closes_on) or opens_on > closes_on:
        return
    calendar = term.calendar
    if opens_on < calendar.start_date or closes_on > calendar.end_date:
        raise coded_error(
            {
                "opens_on": f"Choose dates inside the {calendar.school_year} school year "
                f"({calendar.start_date} to {calendar.end_date}) of {term.name}."
            },
            code="window_outside_school_year",
        )
    if closes_on < term.start_date or opens_on > term.end_date:
        raise coded_error(
            {
                "opens_on": f"Choose dates that overlap {term.name} ({term.start_date} to "
                f"{term.end_date}); this window would open no day of its term."
            },
            code="window_outside_term",
        )
    clash = (
        GradingWindow.objects.filter(
            school=school,
            opens_on__lte=closes_on,
            closes_on__gte=opens_on,
            grading_tasks__in=[t.pk for t in tasks],
        )
        .exclude(pk=window.pk if window else None)
        .select_related("term")
        .first()
    )
    if clash:
        raise coded_error(
            {
                "opens_on": f"Change the dates or the tasks: the {clash.term.name} window "
                f"({clash.opens_on} to {clash.closes_on}) already covers one of these tasks."
            },
            code="windows_overlap",
        )


@transaction.atomic
def grading_window_save(
    *,
    window: GradingWindow | None,
    school: School,
    term: Term,
    grading_tasks: Iterable[GradingTask],
    opens_on: Any,
    closes_on: Any,
    by: Any = None,
) -> GradingWindow:
    """Create or update a grading window (R12)."""
    tasks = list(grading_tasks)
    window = window or GradingWindow()
    model_save(instance=window, school=school, term=term, opens_on=opens_on, closes_on=closes_on)
    grading_window_validate(
        window=window,
        school=school,
        term=term,
        grading_tasks=tasks,
        opens_on=opens_on,
        closes_on=closes_on,
    )
    window.grading_tasks.set(tasks)
    return window


def _window_course_tasks(window: GradingWindow):
    """The window's course tasks: its tasks, on the school's courses, with the term in the mask."""
    return CourseGradingTask.objects.filter(
        course__calendar__school_id=window.school_id,
        grading_task__in=window.grading_tasks.all(),
        mask__term_id=window.term_id,
    ).values("pk")


@transaction.atomic
def grading_window_apply_one(*, window: GradingWindow, today: Any) -> dict[str, int]:
    """R12 for one window: open -> the term is the only active term of the window's course
    tasks; closed -> the term is made inactive. Set-based; safe to run twice."""
    if today < window.opens_on:
        raise ValidationError(
            f"This window opens on {window.opens_on}; there is nothing to apply yet.",
            code="window_not_open",
        )
    course_tasks = _window_course_tasks(window)
    rows = CourseTaskTerm.objects.filter(course_task_id__in=course_tasks)
    if today <= window.closes_on:
        # Clear other active terms first: one active term per course task (R11).
        cleared = rows.filter(active=True).exclude(term_id=window.term_id).update(active=False)
        opened = rows.filter(term_id=window.term_id, active=False).update(active=True)
        result = {"activated": opened, "deactivated": cleared}
    else:
        closed = rows.filter(term_id=window.term_id, active=True).update(active=False)
        result = {"activated": 0, "deactivated": closed}
    GradingWindow.objects.filter(pk=window.pk).update(applied_at=timezone.now())
    return result


def grading_window_apply(*, today: Any) -> dict[str, int]:
    """R12, the daily job: close the windows that have closed and not yet been closed, then
    open every window open today. One query set per window, never one per course.

    A window edited since it was last applied (e.g. shortened to a date already past) is
    closed again: ``applied_at`` is set by ``update()``, which leaves ``modified_at`` alone."""
    totals = {"windows": 0, "activated": 0, "deactivated": 0}
    to_close = GradingWindow.objects.filter(closes_on__lt=today).filter(
        Q(applied_at__isnull=True)
        | Q(applied_at__date__lte=F("closes_on"))
        | Q(modified_at__gt=F("applied_at"))
    )
    open_now = GradingWindow.objects.filter(opens_on__lte=today, closes_on__gte=today)
    for window in [*to_close.order_by("closes_on"), *open_now.order_by("opens_on")]:
        result = grading_window_apply_one(window=window, today=today)
        totals["windows"] += 1
        totals["activated"] += result["activated"]
        totals["deactivated"] += result["deactivated"]
    return totals
