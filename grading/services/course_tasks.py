"""R6-R11: course tasks (a grading task set up on one course) and their term masks.

``course_task_validate`` runs one named check per rule on a :class:`CourseTaskDraft` (the
course task as it will be after the save) and raises one ValidationError keyed by field,
with codes; the admin forms and the API serializers call it, so both show the same error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.db import transaction

from grading.models import (
    CTE_FINAL,
    CTE_TERM,
    CourseGradingTask,
    CourseTaskTerm,
    CreditType,
    GradingTask,
    ScoreGroup,
)
from grading.scoring import rows_of, thresholds
from grading.services.district_rows import setup_row_delete
from grading.services.score_groups import cte_numeric_thresholds
from schools import versions
from schools.actors import Actor
from schools.models import Course, School, Term
from schools.services.writes import model_save

# What a course task is set with, after its course: ``course_task_save``'s values, the
# admin's fields and the API's, in one order. The masks are lists of terms.
MASKS = ("term_mask", "active_mask")
COURSE_TASK_FIELDS = (
    "grading_task",
    "score_group",
    "term_gpa_weight",
    "credit",
    "credit_type",
    *MASKS,
)


@dataclass(frozen=True)
class Sibling:
    """Another task of the same course, as the course will be after the save."""

    pk: int | None
    grading_task: GradingTask
    term_gpa_weight: Decimal | None


def siblings_of(course: Course, *, exclude_pk: int | None) -> list[Sibling]:
    others = course.course_tasks.select_related("grading_task")
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    return [Sibling(ct.pk, ct.grading_task, ct.term_gpa_weight) for ct in others]


class Problem(NamedTuple):
    """One broken rule: the field it is shown next to, what to do, and its code."""

    field: str
    message: str
    code: str


@dataclass(frozen=True)
class CourseTaskDraft:
    """A course task as it will be after the save, and what its checks compare it with."""

    course: Course
    school: School
    grading_task: GradingTask | None
    score_group: ScoreGroup | None
    term_gpa_weight: Decimal | None
    credit: Decimal | None
    credit_type: CreditType | None
    calendar_terms: list[Term]
    mask_ids: set[int]
    active_ids: set[int]
    siblings: Sequence[Sibling]

    @property
    def code(self) -> str:
        return self.grading_task.code if self.grading_task else ""

    def in_scope(self, district_id: int | None) -> bool:
        """A row of the course's district or the state's (R4)."""
        return district_id in (None, self.school.district_id)


def _other_district(
    d: CourseTaskDraft,
    field: str,
    row: GradingTask | ScoreGroup | CreditType | None,
    what: str,
    code: str,
) -> Iterator[Problem]:
    """R4: a setup row of another district than the course's is refused (the state's and the
    district's own are fine)."""
    if row is not None and not d.in_scope(row.district_id):
        yield Problem(field, f"Choose a {what} of this district or the state.", code)


def check_task_district(d: CourseTaskDraft) -> Iterator[Problem]:
    """R4: a grading task of another district is refused."""
    yield from _other_district(
        d, "grading_task", d.grading_task, "grading task", "task_other_district"
    )


def check_kts_tasks(d: CourseTaskDraft) -> Iterator[Problem]:
    """R7: on a KTS course only the three CTE tasks; any task at most once on a course."""
    task = d.grading_task
    if task is None:
        return
    if d.course.is_kts and not task.is_cte:
        yield Problem(
            "grading_task",
            "A KTS course uses only the state's CTE tasks: CTE Term Grade, "
            "CTE Final Grade or CTE Final Exam.",
            "non_cte_task_on_kts_course",
        )
    if any(s.grading_task.pk == task.pk for s in d.siblings):
        yield Problem(
            "grading_task",
            f"{task} is already set up on this course; edit that task instead.",
            "task_twice_on_course",
        )


def check_score_group(d: CourseTaskDraft) -> Iterator[Problem]:
    """R6: a score group of the district or the state; on a KTS course CTE Numeric (a HS may
    use a district group whose Min % column is exactly CTE Numeric's)."""
    group = d.score_group
    if group is None:
        return
    if not d.in_scope(group.district_id):
        yield from _other_district(
            d, "score_group", group, "score group", "score_group_other_district"
        )
    elif d.course.is_kts and not group.is_cte_numeric:
        if d.school.is_technical:
            yield Problem(
                "score_group",
                "A technical school's KTS course uses CTE Numeric; choose CTE Numeric.",
                "cte_numeric_required",
            )
        elif (
            group.district_id is None
            or thresholds(rows_of(group.rows.all())) != cte_numeric_thresholds()
        ):
            yield Problem(
                "score_group",
                "On a KTS course use CTE Numeric, or a district score group whose Min % "
                "column is exactly CTE Numeric's (90, 80, 70, 60, 0).",
                "score_group_not_cte_numeric",
            )


def check_term_gpa_weight(d: CourseTaskDraft) -> Iterator[Problem]:
    """R8: Term GPA weight >= 0, on one task per course at most."""
    if d.term_gpa_weight is None:
        return
    if d.term_gpa_weight < 0:
        yield Problem("term_gpa_weight", "Enter a Term GPA weight of 0 or more.", "negative_weight")
    other = next((s for s in d.siblings if s.term_gpa_weight is not None), None)
    if other:
        yield Problem(
            "term_gpa_weight",
            f"Set Term GPA on only one task; {other.grading_task} already has it.",
            "term_gpa_on_two_tasks",
        )


def check_credit(d: CourseTaskDraft) -> Iterator[Problem]:
    """R10: credit >= 0; a credit type of the course's district or the state."""
    if d.credit is not None and d.credit < 0:
        yield Problem("credit", "Enter a credit of 0 or more.", "negative_credit")
    yield from _other_district(
        d, "credit_type", d.credit_type, "credit type", "credit_type_other_district"
    )


def check_masks(d: CourseTaskDraft) -> Iterator[Problem]:
    """R11: a term mask of the course's calendar, the active mask within it, one active term."""
    calendar_ids = {t.pk for t in d.calendar_terms}
    if not d.mask_ids:
        yield Problem("term_mask", "Tick at least one term in the term mask.", "term_mask_required")
    if d.mask_ids - calendar_ids:
        yield Problem(
            "term_mask", "Choose only terms of this course's calendar.", "term_of_other_calendar"
        )
    if d.active_ids - calendar_ids:
        yield Problem(
            "active_mask", "Choose only terms of this course's calendar.", "term_of_other_calendar"
        )
    elif d.active_ids - d.mask_ids:
        yield Problem(
            "active_mask",
            "Tick the active term in the term mask too: the active mask must lie within it.",
            "active_not_in_term_mask",
        )
    if len(d.active_ids) > 1:
        yield Problem("active_mask", "Mark only one term active for this task.", "two_active_terms")


def check_cte_term_grade(d: CourseTaskDraft) -> Iterator[Problem]:
    """R9: CTE Term Grade has no credit nor credit type and covers every calendar term."""
    if d.code != CTE_TERM:
        return
    if d.credit is not None:
        yield Problem(
            "credit",
            "Leave credit blank on CTE Term Grade; credit goes on CTE Final Grade.",
            "credit_on_term_grade",
        )
    if d.credit_type is not None:
        yield Problem(
            "credit_type", "Leave credit type blank on CTE Term Grade.", "credit_on_term_grade"
        )
    missing = [t for t in d.calendar_terms if t.pk not in d.mask_ids]
    if missing and d.mask_ids:
        yield Problem(
            "term_mask",
            "CTE Term Grade covers every term of the calendar; also tick "
            + ", ".join(t.name for t in missing)
            + ".",
            "term_mask_incomplete",
        )


def check_cte_final_grade(d: CourseTaskDraft) -> Iterator[Problem]:
    """R10: CTE Final Grade needs a credit above 0 and a credit type (it posts transcripts)."""
    if d.code != CTE_FINAL:
        return
    if d.credit is None or d.credit <= 0:
        yield Problem(
            "credit",
            "Enter the credit (more than 0) this course earns on the transcript.",
            "credit_required",
        )
    if d.credit_type is None:
        yield Problem(
            "credit_type",
            "Choose the credit type this course earns on the transcript.",
            "credit_type_required",
        )


# In this order: a field's messages read in rule order.
COURSE_TASK_CHECKS: tuple[Callable[[CourseTaskDraft], Iterator[Problem]], ...] = (
    check_task_district,
    check_kts_tasks,
    check_score_group,
    check_term_gpa_weight,
    check_credit,
    check_masks,
    check_cte_term_grade,
    check_cte_final_grade,
)


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
    pk = course_task.pk if course_task else None
    draft = CourseTaskDraft(
        course=course,
        school=course.calendar.school,
        grading_task=grading_task,
        score_group=score_group,
        term_gpa_weight=term_gpa_weight,
        credit=credit,
        credit_type=credit_type,
        calendar_terms=list(course.calendar.terms.all()),
        mask_ids={t.pk for t in term_mask},
        active_ids={t.pk for t in active_mask},
        siblings=siblings_of(course, exclude_pk=pk) if siblings is None else siblings,
    )
    errors: dict[str, list[ValidationError]] = {}
    for check in COURSE_TASK_CHECKS:
        for problem in check(draft):
            errors.setdefault(problem.field, []).append(
                ValidationError(problem.message, code=problem.code)
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
    by: Actor = None,
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
    versions.bump_setup()  # issue 13 (model_save bumps too; the masks are written here)
    return course_task


def course_tasks_check(course: Course) -> None:
    """R6-R11 for every task of ``course`` as it stands (after a change of the course itself,
    e.g. making it a KTS course). Refuses with one message per broken task."""
    problems: list[str] = []
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


def course_task_delete(*, course_task: CourseGradingTask, by: Actor = None) -> None:
    setup_row_delete(course_task, what="course task", users="grades", by=by)
