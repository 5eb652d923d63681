"""Setup resources of grading (API.md): score groups, grading tasks, credit types, course
tasks, grading windows. Serializers hand every write to the services in grading/services/
(one module per entity), the same validation the admin forms call (R4-R12)."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.relations import PKOnlyObject
from rest_framework.response import Response

from grading import filters
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
    course_task_delete,
    course_task_save,
    course_tasks_check,
)
from grading.services.credit_types import credit_type_delete, credit_type_save
from grading.services.grading_tasks import grading_task_delete, grading_task_save
from grading.services.grading_windows import grading_window_apply_one, grading_window_save
from grading.services.score_groups import ROW_FIELDS, score_group_delete, score_group_save
from schools import api as schools_api
from schools.api import SetupViewSet
from schools.api_common import CleanModelSerializer, django_error_to_drf, register_viewsets
from schools.models import Term

urlpatterns: list = []

# R6-R11 also hold when a course itself changes (e.g. it becomes a KTS course).
if course_tasks_check not in schools_api.COURSE_CHECKS:
    schools_api.COURSE_CHECKS.append(course_tasks_check)


class ServiceSerializer(CleanModelSerializer):
    """Writes go through a service; ``value()`` merges a PATCH with the saved row."""

    def value(self, attrs, name, default=None):
        if name in attrs:
            return attrs[name]
        if self.instance is not None:
            return getattr(self.instance, name)
        return default

    @property
    def by(self):
        request = self.context.get("request")
        return request.user if request else None

    def call(self, fn, **kwargs):
        try:
            return fn(**kwargs)
        except DjangoValidationError as exc:
            raise django_error_to_drf(exc) from exc

    def create(self, validated_data):
        return self.write(None, validated_data)

    def update(self, instance, validated_data):
        return self.write(instance, validated_data)


class ScoreRowSerializer(serializers.ModelSerializer):
    class Meta:
        model = ScoreRow
        fields = ["score", "min_percent", "passing", "gpa_value"]


class ScoreGroupSerializer(ServiceSerializer):
    rows = ScoreRowSerializer(many=True)

    class Meta:
        model = ScoreGroup
        fields = ["id", "name", "district", "rows"]
        validators: list = []  # uniqueness is checked by full_clean() in the service

    def write(self, instance, data):
        rows = data.get("rows")
        if rows is None and instance is not None:
            rows = [{k: getattr(r, k) for k in ROW_FIELDS} for r in instance.rows.all()]
        return self.call(
            score_group_save,
            group=instance,
            name=self.value(data, "name"),
            district=self.value(data, "district"),
            rows=rows or [],
            by=self.by,
        )


class GradingTaskSerializer(ServiceSerializer):
    class Meta:
        model = GradingTask
        fields = ["id", "name", "code", "district", "is_cte"]
        read_only_fields = ["is_cte"]
        validators: list = []

    def write(self, instance, data):
        return self.call(
            grading_task_save,
            task=instance,
            name=self.value(data, "name"),
            code=self.value(data, "code", ""),
            district=self.value(data, "district"),
            by=self.by,
        )


class CreditTypeSerializer(ServiceSerializer):
    class Meta:
        model = CreditType
        fields = ["id", "district", "name"]
        validators: list = []

    def write(self, instance, data):
        return self.call(
            credit_type_save,
            credit_type=instance,
            name=self.value(data, "name"),
            district=self.value(data, "district"),
            by=self.by,
        )


class TermMaskField(serializers.ManyRelatedField):
    """Term ids, read from the course task's CourseTaskTerm rows (prefetched as ``mask``)."""

    def __init__(self, *, active_only: bool, **kwargs):
        self.active_only = active_only
        super().__init__(
            child_relation=serializers.PrimaryKeyRelatedField(queryset=Term.objects.all()),
            **kwargs,
        )

    def get_attribute(self, instance):
        rows = sorted(instance.mask.all(), key=lambda r: r.term_id)
        return [PKOnlyObject(pk=r.term_id) for r in rows if r.active or not self.active_only]


class CourseGradingTaskSerializer(ServiceSerializer):
    """term_mask / active_mask are lists of term ids, derived from the CourseTaskTerm rows."""

    term_mask = TermMaskField(active_only=False)
    active_mask = TermMaskField(active_only=True, required=False)

    class Meta:
        model = CourseGradingTask
        fields = ["id", "course", *COURSE_TASK_FIELDS]
        validators: list = []

    def _mask(self, data, name):
        if name in data:
            return data[name]
        if self.instance is None:
            return []
        rows = self.instance.mask.select_related("term")
        if name == "active_mask":
            rows = rows.filter(active=True)
        return [r.term for r in rows]

    def write(self, instance, data):
        values = {
            name: self._mask(data, name) if name in MASKS else self.value(data, name)
            for name in COURSE_TASK_FIELDS
        }
        return self.call(
            course_task_save,
            course_task_or_None=instance,
            course=self.value(data, "course"),
            **values,
            by=self.by,
        )


class GradingWindowSerializer(ServiceSerializer):
    class Meta:
        model = GradingWindow
        fields = ["id", "school", "term", "grading_tasks", "opens_on", "closes_on", "applied_at"]
        read_only_fields = ["applied_at"]

    def write(self, instance, data):
        tasks = data.get("grading_tasks")
        if tasks is None:
            tasks = list(instance.grading_tasks.all()) if instance else []
        return self.call(
            grading_window_save,
            window=instance,
            school=self.value(data, "school"),
            term=self.value(data, "term"),
            grading_tasks=tasks,
            opens_on=self.value(data, "opens_on"),
            closes_on=self.value(data, "closes_on"),
            by=self.by,
        )


class ServiceDeleteMixin:
    delete_service = None
    delete_arg = ""

    def perform_destroy(self, instance):
        try:
            type(self).delete_service(**{self.delete_arg: instance, "by": self.request.user})
        except DjangoValidationError as exc:
            raise django_error_to_drf(exc) from exc


class ScoreGroupViewSet(ServiceDeleteMixin, SetupViewSet):
    queryset = ScoreGroup.objects.prefetch_related("rows")
    serializer_class = ScoreGroupSerializer
    filterset_class = filters.ScoreGroupFilter
    search_fields = ["name"]
    delete_service = score_group_delete
    delete_arg = "group"


class GradingTaskViewSet(ServiceDeleteMixin, SetupViewSet):
    queryset = GradingTask.objects.all()
    serializer_class = GradingTaskSerializer
    filterset_class = filters.GradingTaskFilter
    search_fields = ["name", "code"]
    delete_service = grading_task_delete
    delete_arg = "task"


class CreditTypeViewSet(ServiceDeleteMixin, SetupViewSet):
    queryset = CreditType.objects.all()
    serializer_class = CreditTypeSerializer
    filterset_class = filters.CreditTypeFilter
    search_fields = ["name"]
    delete_service = credit_type_delete
    delete_arg = "credit_type"


class CourseGradingTaskViewSet(ServiceDeleteMixin, SetupViewSet):
    queryset = CourseGradingTask.objects.prefetch_related("mask")
    serializer_class = CourseGradingTaskSerializer
    filterset_class = filters.CourseGradingTaskFilter
    search_fields = ["course__number", "course__name", "grading_task__name"]
    delete_service = course_task_delete
    delete_arg = "course_task"


class GradingWindowViewSet(SetupViewSet):
    queryset = GradingWindow.objects.select_related("term").prefetch_related("grading_tasks")
    serializer_class = GradingWindowSerializer
    filterset_class = filters.GradingWindowFilter
    search_fields = ["term__name", "school__name"]

    @action(detail=True, methods=["post"])
    def apply(self, request, pk=None):
        """R12: apply this window now (open: make its term the only active one; closed:
        make it inactive)."""
        window = self.get_object()
        try:
            result = grading_window_apply_one(window=window, today=timezone.localdate())
        except DjangoValidationError as exc:
            raise django_error_to_drf(exc) from exc
        return Response({"id": window.pk, **result}, status=status.HTTP_200_OK)


VIEWSETS = {
    "score-groups": ScoreGroupViewSet,
    "grading-tasks": GradingTaskViewSet,
    "credit-types": CreditTypeViewSet,
    "course-grading-tasks": CourseGradingTaskViewSet,
    "grading-windows": GradingWindowViewSet,
}


def register(router) -> None:
    """Add this module's viewsets to the /api/v1/ router."""
    register_viewsets(router, VIEWSETS)
