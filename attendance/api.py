"""API resources of this app (serializers and thin views): R25-R27, R37."""

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from attendance import selectors, services
from attendance.models import Attendance, AttendanceCode, Excuse, Status
from schools import access
from schools.access import IsScopedUser, scope_queryset
from schools.api_common import (
    CleanModelSerializer,
    ScopedModelViewSet,
    django_error_to_drf,
    validated_query,
)
from schools.models import School


# --- Codes (R25) -------------------------------------------------------------------------
class AttendanceCodeSerializer(CleanModelSerializer):
    class Meta:
        model = AttendanceCode
        fields = ["id", "school", "code", "description", "status", "excuse"]


class AttendanceCodeViewSet(ScopedModelViewSet):
    queryset = AttendanceCode.objects.select_related("school").order_by("school_id", "code")
    serializer_class = AttendanceCodeSerializer
    filterset_fields = ["school", "status", "excuse"]
    search_fields = ["code", "description"]


# --- Records (R25) -----------------------------------------------------------------------
class AttendanceFilter(django_filters.FilterSet):
    school = django_filters.NumberFilter(field_name="section__course__calendar__school")
    start = django_filters.DateFilter(field_name="date", lookup_expr="gte")
    end = django_filters.DateFilter(field_name="date", lookup_expr="lte")

    class Meta:
        model = Attendance
        fields = ["student", "section", "date", "code", "source"]


class AttendanceSerializer(CleanModelSerializer):
    """Fields of API.md; writes go through ``services.attendance_record`` (the serializer's
    foreign keys are limited to the user's scope by CleanModelSerializer)."""

    class Meta:
        model = Attendance
        fields = [
            "id",
            "student",
            "section",
            "date",
            "code",
            "comments",
            "source",
            "resolved_at",
            "modified_at",
        ]
        read_only_fields = ["source", "resolved_at", "modified_at"]
        # POST upserts on (student, section, date): the service decides create or update.
        validators: list = []


class UnknownQuery(serializers.Serializer):
    school = serializers.IntegerField(help_text="The high school whose worklist to show.")


class ResolveSerializer(serializers.Serializer):
    code = serializers.PrimaryKeyRelatedField(queryset=AttendanceCode.objects.all())


class AttendanceViewSet(ScopedModelViewSet):
    """R25 records; ``unknown`` and ``resolve`` are the clerks' worklist (R27)."""

    queryset = Attendance.objects.order_by("-date", "section_id", "student_id")
    serializer_class = AttendanceSerializer
    filterset_class = AttendanceFilter
    audited_by_service = True  # the attendance services audit each change (R43)

    def _save(self, data: dict, *, request, action: str) -> tuple[Attendance, bool]:
        try:
            with transaction.atomic():
                record, created = services.attendance_record(
                    student=data["student"],
                    section=data["section"],
                    date=data["date"],
                    code=data["code"],
                    comments=data.get("comments", ""),
                    by=request.user,
                )
                # R36: the saved row must be inside the user's write scope (own section).
                if not access.can_write(request.user, record, "create" if created else action):
                    raise PermissionDenied("Your role may not record attendance here.")
        except DjangoValidationError as exc:
            raise django_error_to_drf(exc) from exc
        return record, created

    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        record, created = self._save(serializer.validated_data, request=request, action="update")
        return Response(
            self.get_serializer(record).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    def update(self, request, *args, **kwargs):
        instance = self.get_object()
        partial = kwargs.pop("partial", False)
        serializer = self.get_serializer(instance, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = {
            "student": instance.student,
            "section": instance.section,
            "date": instance.date,
            "code": instance.code,
            "comments": instance.comments,
            **serializer.validated_data,
        }
        for key in ("student", "section", "date"):
            if data[key] != getattr(instance, key):
                raise serializers.ValidationError(
                    {key: ["Student, section and date cannot change; record that day instead."]}
                )
        record, _ = self._save(data, request=request, action="update")
        return Response(self.get_serializer(record).data)

    @extend_schema(parameters=[UnknownQuery], responses=AttendanceSerializer(many=True))
    @action(detail=False, methods=["get"])
    def unknown(self, request):
        """R27: the clerks' worklist for ``?school=`` (oldest first)."""
        school_id = request.query_params.get("school")
        if not school_id or not (school_id.isascii() and school_id.isdigit()):
            raise serializers.ValidationError({"school": ["Give ?school=<id> of a high school."]})
        # R42: the worklist is the clerks' and admins' report (the same table as the page).
        if not access.may_read_report(request.user, "unknown-attendance", "api", school_id):
            return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
        school = School.objects.get(pk=school_id)
        qs = scope_queryset(request.user, selectors.unknown_worklist(school=school))
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(request=ResolveSerializer, responses=AttendanceSerializer)
    @action(detail=True, methods=["post"], serializer_class=ResolveSerializer)
    def resolve(self, request, pk=None):
        """R27: a clerk resolves a worklist record: ``{"code"}``."""
        record = self.get_object()
        serializer = ResolveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            record = services.attendance_resolve(
                record=record, code=serializer.validated_data["code"], by=request.user
            )
        except DjangoValidationError as exc:
            raise django_error_to_drf(exc) from exc
        return Response(AttendanceSerializer(record).data)


# --- R26 real-time report ----------------------------------------------------------------
class TechAttendanceQuery(serializers.Serializer):
    school = serializers.PrimaryKeyRelatedField(queryset=School.objects.all())
    start = serializers.DateField()
    end = serializers.DateField()
    student = serializers.IntegerField(required=False, min_value=1)
    status = serializers.ChoiceField(choices=Status.choices, required=False)
    excuse = serializers.ChoiceField(choices=Excuse.choices, required=False)

    def validate(self, attrs):
        if attrs["start"] > attrs["end"]:
            raise serializers.ValidationError({"end": ["Choose an end date on or after start."]})
        if (attrs["end"] - attrs["start"]).days > 366:
            raise serializers.ValidationError({"end": ["Ask for at most one year at a time."]})
        return attrs


class TechAttendanceRowSerializer(serializers.Serializer):
    student = serializers.IntegerField()
    state_id = serializers.CharField()
    tech_school = serializers.IntegerField()
    section = serializers.IntegerField()
    date = serializers.DateField()
    code = serializers.IntegerField()
    status = serializers.CharField()
    excuse = serializers.CharField()
    tech_school_name = serializers.CharField()
    section_label = serializers.CharField()
    code_label = serializers.CharField()


# HS staff who may read their students' tech attendance (R36); district admins hold every
# school of their district.


class TechAttendanceReport(GenericAPIView):
    """R26: a HS's own students' attendance at any tech school, as it stands now.

    Paginated like every list (``{count, next, previous, results}``, ``?page=``,
    ``?page_size=`` up to 1000). Every answer is recorded in the disclosure log (R37): one
    row per tech school whose rows the page discloses.
    """

    permission_classes = [IsScopedUser]
    serializer_class = TechAttendanceRowSerializer
    queryset = Attendance.objects.none()  # for the schema only; rows come from the selector

    @extend_schema(
        parameters=[TechAttendanceQuery], responses=TechAttendanceRowSerializer(many=True)
    )
    def get(self, request):
        # R42: role and scope before the query's validation (bad dates tell nothing).
        access.report_scope_first(
            request.user, "tech-attendance", "api", request.query_params.get("school")
        )
        params = validated_query(TechAttendanceQuery, request)
        school = params["school"]
        if not access.may_read_report(request.user, "tech-attendance", "api", school.pk):
            return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
        rows = self.paginate_queryset(
            selectors.tech_attendance_report(
                school=school,
                start=params["start"],
                end=params["end"],
                student=params.get("student"),
                status=params.get("status"),
                excuse=params.get("excuse"),
            )
        )
        services.disclosure_log_tech_attendance(
            reader_school=school, rows=rows, user=request.user, purpose="API tech-attendance"
        )
        return self.get_paginated_response(TechAttendanceRowSerializer(rows, many=True).data)


def register(router) -> None:
    """Add this app's viewsets to the /api/v1/ router."""
    router.register("attendance-codes", AttendanceCodeViewSet, basename="attendance-code")
    router.register("attendance", AttendanceViewSet, basename="attendance")


urlpatterns = [
    path(
        "reports/tech-attendance/",
        TechAttendanceReport.as_view(),
        name="report-tech-attendance",
    ),
]
