"""API resources of the exchange: KTS links (R17), runs and outcomes (R21, R28, R29, R39),
the readiness report (R38). Thin: every write goes through ``exchange.services``."""

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from exchange import selectors, services
from exchange.models import (
    RUN_FIELDS,
    Action,
    ExchangeOutcome,
    ExchangeRun,
    Flow,
    KtsLink,
    Reason,
    RunTrigger,
)
from exchange.oneroster import api as oneroster_api
from schools import access
from schools.access import scope_queryset
from schools.api_common import CleanModelSerializer, ScopedModelViewSet


class KtsLinkSerializer(CleanModelSerializer):
    class Meta:
        model = KtsLink
        fields = ["id", "hs_section", "tech_section", "created_at", "modified_at"]
        read_only_fields = ["created_at", "modified_at"]
        # The one-to-one's uniqueness is checked below with a message that says what to do.
        extra_kwargs = {"hs_section": {"validators": []}}

    def validate_hs_section(self, value):
        """R17: a HS section links to at most one tech section."""
        other = KtsLink.objects.filter(hs_section=value).select_related("tech_section")
        if self.instance is not None:
            other = other.exclude(pk=self.instance.pk)
        existing = other.first()
        if existing:
            raise serializers.ValidationError(
                f"This HS section is already linked to {existing.tech_section}; a HS section "
                "links to one tech section only. Edit or delete that link instead.",
                code="hs_section_already_linked",
            )
        return value


class KtsLinkViewSet(ScopedModelViewSet):
    queryset = KtsLink.objects.select_related("hs_section", "tech_section").order_by("id")
    serializer_class = KtsLinkSerializer
    filterset_fields = ["hs_section", "tech_section"]


class ExchangeRunSerializer(serializers.ModelSerializer):
    class Meta:
        model = ExchangeRun
        fields = ["id", *RUN_FIELDS]
        read_only_fields = fields


class RunRequestSerializer(serializers.Serializer):
    as_of = serializers.DateField(required=False)
    dry_run = serializers.BooleanField(required=False, default=False)


class ExchangeOutcomeSerializer(serializers.ModelSerializer):
    class Meta:
        model = ExchangeOutcome
        fields = [
            "id",
            "flow",
            "action",
            "reason",
            "student",
            "hs_section",
            "tech_school",
            "source_id",
            "target_id",
            "message",
        ]
        read_only_fields = fields


# The body of a 409 from the runs endpoints (R44, R45).
RUN_CONFLICT = inline_serializer(
    "RunConflict",
    {
        "non_field_errors": serializers.ListField(child=serializers.CharField()),
        "code": serializers.CharField(),
    },
)


class ExchangeRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """``POST exchange/runs/`` queues a run on django-q2 (inline in sync mode): 202."""

    queryset = ExchangeRun.objects.order_by("-created_at", "-id")
    serializer_class = ExchangeRunSerializer
    filterset_fields = ["status", "dry_run", "as_of", "trigger"]

    def get_queryset(self):
        return scope_queryset(self.request.user, super().get_queryset())

    def get_serializer_class(self):
        if self.action == "create":
            return RunRequestSerializer
        return super().get_serializer_class()

    # R45: cancelling takes the same role as starting a run.
    access_actions = {"cancel": "create"}

    @extend_schema(
        request=RunRequestSerializer,
        responses={
            202: inline_serializer(
                "RunQueued", {"id": serializers.IntegerField(), "status": serializers.CharField()}
            ),
            409: OpenApiResponse(RUN_CONFLICT, "A real run is already queued or running (R44)."),
        },
    )
    def create(self, request, *args, **kwargs):
        data = RunRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            run = services.exchange_run_request(
                as_of=data.validated_data.get("as_of") or timezone.localdate(),
                dry_run=data.validated_data["dry_run"],
                trigger=RunTrigger.API,
                by=request.user,
            )
        except DjangoValidationError as exc:
            # R44: a date outside the two school years is a 400; a second real run a 409.
            if hasattr(exc, "error_dict"):
                raise ValidationError(exc.message_dict) from None
            return Response(
                {"non_field_errors": exc.messages, "code": "run_already_active"},
                status=status.HTTP_409_CONFLICT,
            )
        if settings.Q_CLUSTER.get("sync"):
            run = services.exchange_run_start(run_id=run.pk, inline=True)
        else:
            from django_q.tasks import async_task

            async_task("exchange.tasks.start_run", run.pk, task_name=f"exchange-run-{run.pk}")
        return Response({"id": run.pk, "status": run.status}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=None,
        responses={
            200: ExchangeRunSerializer,
            409: OpenApiResponse(RUN_CONFLICT, "The run has already ended (R45)."),
        },
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """R45: ``POST exchange/runs/{id}/cancel/`` cancels a queued or running run (409 when
        it already ended)."""
        run = self.get_object()
        try:
            run = services.exchange_run_cancel(run=run, by=request.user)
        except DjangoValidationError as exc:
            return Response(
                {"non_field_errors": exc.messages, "code": "run_not_active"},
                status=status.HTTP_409_CONFLICT,
            )
        return Response(ExchangeRunSerializer(run).data)

    @action(detail=True, methods=["get"], serializer_class=ExchangeOutcomeSerializer)
    def outcomes(self, request, pk=None):
        """R21: the run's per-record outcomes (``unchanged`` ones are only counted)."""
        run = self.get_object()
        qs = scope_queryset(request.user, ExchangeOutcome.objects.filter(run=run)).order_by("id")
        choices = {"flow": Flow, "action": Action, "reason": Reason}
        for name, enum in choices.items():
            value = request.query_params.get(name)
            if value:
                if value not in enum.values:
                    raise ValidationError(
                        {name: [f"Choose one of: {', '.join(enum.values)}."]}, code="invalid"
                    )
                qs = qs.filter(**{name: value})
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(ExchangeOutcomeSerializer(page, many=True).data)


class ReadinessRowSerializer(serializers.Serializer):
    hs_section = serializers.IntegerField()
    tech_section = serializers.IntegerField()
    hs_section_name = serializers.CharField()
    tech_section_name = serializers.CharField()
    hs_school = serializers.CharField()
    tech_school = serializers.CharField()
    code = serializers.CharField()
    problem = serializers.CharField()
    fix = serializers.CharField()


@extend_schema(
    parameters=[
        OpenApiParameter("school", int, required=True),
        OpenApiParameter("as_of", OpenApiTypes.DATE),
    ],
    responses=ReadinessRowSerializer(many=True),
)
class ReadinessView(APIView):
    """R38: ``GET reports/readiness/?school=[&as_of=]`` ->
    ``[{hs_section, tech_section, problem, fix}]`` for the school year of ``as_of`` (today)."""

    def get(self, request):
        school_id = request.query_params.get("school", "")
        if not (school_id.isascii() and school_id.isdigit()):
            raise ValidationError({"school": ["Give the id of a school: ?school=<id>."]})
        as_of = request.query_params.get("as_of")
        try:
            as_of = dt.date.fromisoformat(as_of) if as_of else None
        except ValueError:
            raise ValidationError({"as_of": ["Give the date as YYYY-MM-DD."]}) from None
        # R42: the school's admins, the district's and the state admin; others 404.
        school = access.report_school_or_404(request.user, "readiness", "api", school_id)
        return Response(selectors.readiness_report(school=school, as_of=as_of))


urlpatterns = [
    path("reports/readiness/", ReadinessView.as_view(), name="readiness-report"),
    path("imports/oneroster/", oneroster_api.ImportUploadView.as_view(), name="import-oneroster"),
    path("imports/<int:pk>/", oneroster_api.ImportDetailView.as_view(), name="import-detail"),
    path("exports/oneroster/", oneroster_api.ExportView.as_view(), name="export-oneroster"),
]


def register(router) -> None:
    """Add this app's viewsets to the /api/v1/ router."""
    router.register("kts-links", KtsLinkViewSet, basename="kts-link")
    router.register("exchange/runs", ExchangeRunViewSet, basename="exchange-run")
