"""Admin for grading setup: score groups, grading tasks, credit types, course tasks on the
course page, grading windows. The forms call the services in grading/services/ (one module
per entity), the validation the API uses, so each error shows next to the field to change
(R4-R12)."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from grading.models import (
    CourseGradingTask,
    CreditType,
    GradingTask,
    GradingWindow,
    ScoreGroup,
    ScoreRow,
)
from grading.services.course_tasks import (
    COURSE_TASK_FIELDS,
    MASKS,
    Sibling,
    course_task_delete,
    course_task_save,
    course_task_validate,
)
from grading.services.district_rows import (
    check_district_move,
    check_state_row_editable,
    may_edit_row,
)
from grading.services.grading_windows import grading_window_apply_one, grading_window_validate
from grading.services.score_groups import ROW_FIELDS, score_group_save, validate_score_rows
from schools.admin import CourseAdmin
from schools.admin_scoping import ScopedAdminMixin, ScopedInlineMixin
from schools.models import Course, Term


def _add_errors(form: forms.BaseForm, exc: ValidationError) -> None:
    """Put each error next to its field (or at the top when the form has no such field)."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for field, errors in exc.error_dict.items():
        form.add_error(field if field in form.fields else None, errors)


def _may_edit(request, obj) -> bool:
    """R4: the page's row (or, on an inline, its parent row) may be edited by the user."""
    return obj is None or may_edit_row(obj, by=request.user)


class StateRowsReadOnly:
    """R4: state rows (district null) are read-only for non-superusers; the state's CTE
    tasks and CTE Numeric for everyone (a superuser changes them only from the shell)."""

    def has_change_permission(self, request, obj=None):
        return _may_edit(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return _may_edit(request, obj) and super().has_delete_permission(request, obj)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.request_user = request.user
        return form


class StateRowForm(forms.ModelForm):
    request_user = None

    def clean(self):
        cleaned = super().clean()
        probe = self._meta.model(name=cleaned.get("name", ""), district=cleaned.get("district"))
        try:
            check_state_row_editable(probe, by=self.request_user)
            check_district_move(self.instance, district=cleaned.get("district"))
        except ValidationError as exc:
            _add_errors(self, exc)
        return cleaned


# --- R5: score groups ----------------------------------------------------------------------


class ScoreRowFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        if any(form.errors for form in self.forms):
            return
        rows = [
            form.cleaned_data
            for form in self.forms
            if form.cleaned_data and not form.cleaned_data.get("DELETE")
        ]
        try:
            validate_score_rows(rows)
        except ValidationError as exc:
            raise ValidationError(exc.message_dict.get("rows", exc.messages)) from exc


class ScoreRowInline(ScopedInlineMixin, admin.TabularInline):
    model = ScoreRow
    formset = ScoreRowFormSet
    extra = 1
    fields = ["score", "min_percent", "passing", "gpa_value"]

    def has_change_permission(self, request, obj=None):
        return _may_edit(request, obj) and super().has_change_permission(request, obj)

    has_add_permission = has_change_permission
    has_delete_permission = has_change_permission


@admin.register(ScoreGroup)
class ScoreGroupAdmin(StateRowsReadOnly, ScopedAdminMixin, admin.ModelAdmin):
    form = StateRowForm
    list_display = ["name", "district", "is_state"]
    list_filter = [("district", admin.EmptyFieldListFilter), "district"]
    list_select_related = ["district"]
    search_fields = ["name"]
    inlines = [ScoreRowInline]

    @admin.display(boolean=True)
    def is_state(self, obj):
        return obj.district_id is None

    def save_related(self, request, form, formsets, change):
        form.save_m2m()
        for formset in formsets:
            if formset.model is not ScoreRow:
                self.save_formset(request, form, formset, change)
                continue
            # R5: the rows are replaced as a whole, as the API does.
            rows = [
                {k: f.cleaned_data[k] for k in ROW_FIELDS}
                for f in formset.forms
                if f.cleaned_data and not f.cleaned_data.get("DELETE")
            ]
            score_group_save(
                group=form.instance,
                name=form.instance.name,
                district=form.instance.district,
                rows=rows,
                by=request.user,
            )
            formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []


# --- R4: grading tasks and credit types ----------------------------------------------------


@admin.register(GradingTask)
class GradingTaskAdmin(StateRowsReadOnly, ScopedAdminMixin, admin.ModelAdmin):
    form = StateRowForm
    list_display = ["name", "code", "district", "is_cte"]
    list_filter = ["is_cte", ("district", admin.EmptyFieldListFilter), "district"]
    list_select_related = ["district"]
    search_fields = ["name", "code"]
    readonly_fields = ["is_cte"]


@admin.register(CreditType)
class CreditTypeAdmin(StateRowsReadOnly, ScopedAdminMixin, admin.ModelAdmin):
    form = StateRowForm
    list_display = ["name", "district"]
    list_filter = [("district", admin.EmptyFieldListFilter), "district"]
    list_select_related = ["district"]
    search_fields = ["name"]


# --- R6-R11: course tasks ------------------------------------------------------------------


class CourseTaskForm(forms.ModelForm):
    """A course task with its term mask and active mask as checkboxes of the calendar's terms."""

    term_mask = forms.ModelMultipleChoiceField(
        queryset=Term.objects.none(), widget=forms.CheckboxSelectMultiple, required=False
    )
    active_mask = forms.ModelMultipleChoiceField(
        queryset=Term.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="At most one term, inside the term mask.",
    )
    # Set by the inline formset: it checks the forms against each other instead.
    in_formset = False

    class Meta:
        model = CourseGradingTask
        fields = [
            "grading_task",
            "score_group",
            "term_gpa_weight",
            "credit",
            "credit_type",
        ]

    def __init__(self, *args, course: Course | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        course = course or (self.instance.course if self.instance.course_id else None)
        self.course = course
        terms = (
            Term.objects.filter(calendar_id=course.calendar_id) if course else Term.objects.none()
        )
        for name in ("term_mask", "active_mask"):
            self.fields[name].queryset = terms
        if self.instance.pk:
            rows = list(self.instance.mask.all())
            self.initial.setdefault("term_mask", [r.term_id for r in rows])
            self.initial.setdefault("active_mask", [r.term_id for r in rows if r.active])

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        values = {name: data.get(name) for name in COURSE_TASK_FIELDS}
        for name in MASKS:
            values[name] = list(values[name] or [])
        return {"course": self.course, **values}

    def validate_with(self, siblings=None) -> None:
        if self.course is None:
            return
        try:
            course_task_validate(
                course_task=self.instance if self.instance.pk else None,
                siblings=siblings,
                **self.service_kwargs(),
            )
        except ValidationError as exc:
            _add_errors(self, exc)

    def clean(self):
        cleaned = super().clean()
        if not self.in_formset and not self.errors:
            self.validate_with()
        return cleaned

    def _post_clean(self):
        if self.course is not None:
            self.instance.course = self.course
        super()._post_clean()

    def save(self, commit=True):
        if not commit:
            return super().save(commit=False)
        self.instance = course_task_save(
            course_task_or_None=self.instance if self.instance.pk else None,
            **self.service_kwargs(),
        )
        return self.instance


class CourseTaskFormSet(forms.BaseInlineFormSet):
    """Checks each course task against the others as they will be after the save (R7, R8)."""

    def get_form_kwargs(self, index):
        kwargs = super().get_form_kwargs(index)
        kwargs["course"] = self.instance if self.instance.pk else None
        return kwargs

    def _construct_form(self, i, **kwargs):
        form = super()._construct_form(i, **kwargs)
        form.in_formset = True
        return form

    def _kept_forms(self):
        return [
            f
            for f in self.forms
            if hasattr(f, "cleaned_data")
            and not (self.can_delete and self._should_delete_form(f))
            and (f.instance.pk or f.has_changed())
        ]

    def clean(self):
        super().clean()
        kept = self._kept_forms()
        if any(f.errors for f in kept):
            return
        for form in kept:
            siblings = [
                Sibling(
                    other.instance.pk,
                    other.cleaned_data["grading_task"],
                    other.cleaned_data.get("term_gpa_weight"),
                )
                for other in kept
                if other is not form and other.cleaned_data.get("grading_task")
            ]
            form.validate_with(siblings)

    def save(self, commit=True):
        if not commit:
            return super().save(commit=False)
        self.new_objects, self.changed_objects, self.deleted_objects = [], [], []
        with transaction.atomic():
            for form in self.deleted_forms:
                if form.instance.pk:
                    course_task_delete(course_task=form.instance)
                    self.deleted_objects.append(form.instance)
            # Forms without Term GPA first, so moving it between tasks passes R8 row by row.
            kept = [f for f in self._kept_forms() if f.has_changed()]
            kept.sort(key=lambda f: f.cleaned_data.get("term_gpa_weight") is not None)
            for form in kept:
                is_new = form.instance.pk is None
                obj = form.save()
                if is_new:
                    self.new_objects.append(obj)
                else:
                    self.changed_objects.append((obj, form.changed_data))
        return self.new_objects + [o for o, _ in self.changed_objects]


class CourseTaskInline(ScopedInlineMixin, admin.StackedInline):
    model = CourseGradingTask
    form = CourseTaskForm
    formset = CourseTaskFormSet
    extra = 1
    fields = COURSE_TASK_FIELDS

    def get_extra(self, request, obj=None, **kwargs):
        # Terms come from the course's calendar: save the course first, then add tasks.
        return 1 if obj is not None else 0

    def has_add_permission(self, request, obj=None):
        return obj is not None and super().has_add_permission(request, obj)


admin.site.unregister(Course)


@admin.register(Course)
class CourseWithTasksAdmin(CourseAdmin):
    """The course page with its Grading Tasks tab (R6-R11)."""

    inlines = [*CourseAdmin.inlines, CourseTaskInline]


@admin.register(CourseGradingTask)
class CourseGradingTaskAdmin(ScopedAdminMixin, admin.ModelAdmin):
    """A list of every course task; add and edit them on the course page."""

    form = CourseTaskForm
    list_display = [
        "course",
        "grading_task",
        "score_group",
        "term_gpa_weight",
        "credit",
        "credit_type",
        "active_term",
    ]
    list_filter = [
        "grading_task",
        "course__is_kts",
        "course__calendar__school_year",
        "course__calendar__school__district",
        "course__calendar__school",
    ]
    list_select_related = ["course__calendar__school", "grading_task", "score_group", "credit_type"]
    search_fields = ["course__number", "course__name", "grading_task__name"]
    readonly_fields = ["course"]
    fields = ["course", *COURSE_TASK_FIELDS]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("mask__term")

    @admin.display(description="Active term")
    def active_term(self, obj):
        return ", ".join(r.term.name for r in obj.mask.all() if r.active) or "-"

    def has_add_permission(self, request):
        return False

    def save_model(self, request, obj, form, change):
        form.save(commit=True)

    def save_related(self, request, form, formsets, change):
        pass


# --- R12: grading windows ------------------------------------------------------------------


class GradingWindowForm(forms.ModelForm):
    class Meta:
        model = GradingWindow
        fields = ["school", "term", "grading_tasks", "opens_on", "closes_on"]

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        try:
            grading_window_validate(
                window=self.instance if self.instance.pk else None,
                school=cleaned["school"],
                term=cleaned["term"],
                grading_tasks=cleaned["grading_tasks"],
                opens_on=cleaned["opens_on"],
                closes_on=cleaned["closes_on"],
            )
        except ValidationError as exc:
            _add_errors(self, exc)
        return cleaned


@admin.register(GradingWindow)
class GradingWindowAdmin(ScopedAdminMixin, admin.ModelAdmin):
    form = GradingWindowForm
    list_display = ["term", "school", "opens_on", "closes_on", "applied_at"]
    list_filter = ["term__calendar__school_year", "school__district", "school"]
    list_select_related = ["term__calendar__school", "school"]
    search_fields = ["school__name", "term__name"]
    autocomplete_fields = ["school", "term"]
    filter_horizontal = ["grading_tasks"]
    readonly_fields = ["applied_at"]
    actions = ["apply_now"]

    @admin.action(description="Apply grading window now")
    def apply_now(self, request, queryset):
        today = timezone.localdate()
        for window in queryset:
            try:
                result = grading_window_apply_one(window=window, today=today)
            except ValidationError as exc:
                self.message_user(request, f"{window}: {exc.messages[0]}", messages.WARNING)
                continue
            self.message_user(
                request,
                f"{window}: {result['activated']} term(s) made active, "
                f"{result['deactivated']} made inactive.",
                messages.SUCCESS,
            )
