"""Report card, honor roll, eligibility, honor-roll tiers and transcripts (R30-R35)."""

from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.views import APIView

from grading.models import HonorRollTier, TranscriptLine
from grading.selectors.gpa import eligibility, honor_roll
from grading.selectors.report_card import check_report_term, report_card
from grading.selectors.transcripts import cumulative_gpa
from grading.services.transcripts import transcript_post
from schools.access import (
    REGISTRAR_ROLES,
    is_state_admin,
    report_access_or_404,
    report_scope_first,
    scope_queryset,
)
from schools.api_common import (
    CleanModelSerializer,
    ScopedModelViewSet,
    ScopedReadOnlyModelViewSet,
    validated_query,
)
from schools.models import Calendar, School, Student, Term


def _two_places(value) -> str | None:
    """A GPA or a percent as the API shows it: text with two decimals (None stays None)."""
    return None if value is None else f"{value:.2f}"


def _school_term(request, report: str) -> dict:
    """The school and term of a school report (honor roll, eligibility), role and scope
    checked first (R42: a bad term tells nothing), then the school's scope (R36)."""
    report_scope_first(request.user, report, "api", request.query_params.get("school"))
    params = validated_query(SchoolTermQuery, request)
    report_access_or_404(request.user, report, "api", params["school"].pk)
    return params


REPORT_CARD_ROLES = set(REGISTRAR_ROLES)


def _in_scope(user, queryset, pk):
    """R36: a record outside the user's scope answers 404."""
    if not scope_queryset(user, queryset.filter(pk=pk)).exists():
        raise Http404


# --- query parameters --------------------------------------------------------------------


class ReportCardQuery(serializers.Serializer):
    student = serializers.PrimaryKeyRelatedField(queryset=Student.objects.all())
    term = serializers.PrimaryKeyRelatedField(
        queryset=Term.objects.select_related("calendar__school")
    )


class SchoolTermQuery(serializers.Serializer):
    school = serializers.PrimaryKeyRelatedField(queryset=School.objects.all())
    term = serializers.PrimaryKeyRelatedField(
        queryset=Term.objects.select_related("calendar__school")
    )

    def validate(self, attrs):
        check_report_term(term=attrs["term"], school=attrs["school"])
        return attrs


def _term_school_id(raw) -> tuple[int | None, bool]:
    """The school of term ``raw`` (a query parameter) and whether it was found; a
    malformed id is (None, True): the query's validation answers it."""
    raw = str(raw or "")
    if not (raw.isascii() and raw.isdigit()):
        return None, True
    if len(raw) > 18:  # beyond any primary key
        return None, False
    school_id = (
        Term.objects.filter(pk=int(raw)).values_list("calendar__school_id", flat=True).first()
    )
    return school_id, school_id is not None


class HonorRollRowSerializer(serializers.Serializer):
    student = serializers.IntegerField()
    student_name = serializers.CharField()
    state_id = serializers.CharField()
    gpa = serializers.CharField(allow_null=True)
    tier = serializers.CharField(allow_null=True)
    incomplete = serializers.BooleanField(
        help_text="R31: a counted course task has no grade for the term; on no tier."
    )
    missing = serializers.IntegerField(help_text="Counted course tasks without a grade.")


class EligibilityRowSerializer(serializers.Serializer):
    student = serializers.IntegerField()
    student_name = serializers.CharField()
    state_id = serializers.CharField()
    section = serializers.IntegerField()
    section_name = serializers.CharField()
    course = serializers.IntegerField()
    course_name = serializers.CharField()
    grading_task = serializers.IntegerField()
    grading_task_name = serializers.CharField()
    score = serializers.CharField(allow_blank=True)
    percent = serializers.CharField(allow_null=True)
    source = serializers.CharField()


class CumulativeGpaSerializer(serializers.Serializer):
    gpa = serializers.CharField(allow_null=True)
    credits_attempted = serializers.CharField()
    credits_earned = serializers.CharField()


class TranscriptPostResultSerializer(serializers.Serializer):
    added = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    needs_review = serializers.IntegerField()
    detail = serializers.CharField(required=False)


# --- reports -----------------------------------------------------------------------------


class ReportCardView(APIView):
    """R32: ``GET reports/report-card/?student=&term=``."""

    @extend_schema(parameters=[ReportCardQuery], responses=OpenApiTypes.OBJECT)
    def get(self, request):
        # R42: role and scope before the query's validation (a bad term tells nothing).
        checked = None  # the student id whose scope is already checked
        if not is_state_admin(request.user):
            school_id, known = _term_school_id(request.query_params.get("term"))
            report_scope_first(request.user, "report-card", "api", school_id, known=known)
            raw = str(request.query_params.get("student") or "")
            if raw.isascii() and raw.isdigit():
                checked = int(raw) if len(raw) <= 18 else 0
                _in_scope(request.user, Student.objects.all(), checked)
        params = validated_query(ReportCardQuery, request)
        if params["student"].pk != checked:
            _in_scope(request.user, Student.objects.all(), params["student"].pk)
        check_report_term(term=params["term"])  # a term of a technical school: 400
        # R42: a report card is the HS's record: its registrar and admins read it.
        report_access_or_404(request.user, "report-card", "api", params["term"].calendar.school_id)
        card = report_card(student=params["student"], term=params["term"], scales=False)
        return Response(
            {
                "student": card["student"].pk,
                "student_name": f"{card['student'].last_name}, {card['student'].first_name}",
                "term": card["term"].pk,
                "term_name": card["term"].name,
                "school": card["school"].pk,
                "school_name": card["school"].name,
                "sections": [
                    {
                        **{k: v for k, v in s.items() if k != "grades"},
                        "grades": [
                            {
                                **g,
                                "percent": _two_places(g["percent"]),
                            }
                            for g in s["grades"]
                        ],
                    }
                    for s in card["sections"]
                ],
                "gpa": _two_places(card["gpa"]),
                "honor_roll": card["honor_roll"],
                "incomplete": card["incomplete"],  # R31: a counted course has no grade yet
                "grade_level": card["grade_level"],
            }
        )


class HonorRollView(APIView):
    """R31: ``GET reports/honor-roll/?school=&term=`` → ``[{student, gpa, tier}]``."""

    @extend_schema(parameters=[SchoolTermQuery], responses=HonorRollRowSerializer(many=True))
    def get(self, request):
        params = _school_term(request, "honor-roll")
        rows = honor_roll(school=params["school"], term=params["term"])
        return Response([{**r, "gpa": _two_places(r["gpa"])} for r in rows])


class EligibilityView(APIView):
    """R33: ``GET reports/eligibility/?school=&term=``."""

    @extend_schema(parameters=[SchoolTermQuery], responses=EligibilityRowSerializer(many=True))
    def get(self, request):
        params = _school_term(request, "eligibility")
        rows = eligibility(school=params["school"], term=params["term"])
        return Response([{**r, "percent": _two_places(r["percent"])} for r in rows])


class CumulativeGpaView(APIView):
    """R35: ``GET students/{id}/cumulative-gpa/``."""

    @extend_schema(responses=CumulativeGpaSerializer)
    def get(self, request, pk: int):
        student = get_object_or_404(scope_queryset(request.user, Student.objects.all()), pk=pk)
        result = cumulative_gpa(student=student)
        return Response(
            {
                "gpa": _two_places(result["gpa"]),
                "credits_attempted": f"{result['credits_attempted']:.2f}",
                "credits_earned": f"{result['credits_earned']:.2f}",
            }
        )


# --- resources ---------------------------------------------------------------------------


class HonorRollTierSerializer(CleanModelSerializer):
    class Meta:
        model = HonorRollTier
        fields = ["id", "school", "name", "min_gpa", "min_percent"]

    def validate_school(self, school):
        if school.kind != "high_school":
            raise serializers.ValidationError(
                "Choose a high school; honor roll tiers belong to the home high school.",
                code="not_a_high_school",
            )
        return school


class HonorRollTierViewSet(ScopedModelViewSet):
    """R31: a HS's honor roll tiers."""

    queryset = HonorRollTier.objects.all()
    serializer_class = HonorRollTierSerializer
    filterset_fields = ["school"]


class TranscriptLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = TranscriptLine
        fields = [
            "id",
            "student",
            "school",
            "school_year",
            "course_number",
            "course_name",
            "state_code",
            "score",
            "percent",
            "credits_attempted",
            "credits_earned",
            "credit_type",
            "gpa_value",
            "gpa_weight",
            "needs_review",
        ]
        read_only_fields = fields


class TranscriptPostSerializer(serializers.Serializer):
    school = serializers.PrimaryKeyRelatedField(queryset=School.objects.all())
    calendar = serializers.PrimaryKeyRelatedField(queryset=Calendar.objects.all())


class TranscriptLineViewSet(ScopedReadOnlyModelViewSet):
    """R34: transcript lines (read); ``POST transcripts/post/`` posts a calendar."""

    queryset = TranscriptLine.objects.all()
    serializer_class = TranscriptLineSerializer
    filterset_fields = ["student", "school", "school_year", "needs_review"]
    access_actions = {"post_calendar": "post"}  # R36: the registrar's "post" action

    @extend_schema(request=TranscriptPostSerializer, responses=TranscriptPostResultSerializer)
    @action(
        detail=False, methods=["post"], url_path="post", serializer_class=TranscriptPostSerializer
    )
    def post_calendar(self, request):
        s = TranscriptPostSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        _in_scope(request.user, School.objects.all(), s.validated_data["school"].pk)
        result = transcript_post(
            school=s.validated_data["school"],
            calendar=s.validated_data["calendar"],
            by=request.user,
        )
        body = {k: result[k] for k in ("added", "updated", "unchanged", "needs_review")}
        if not result["final_grades"]:
            body["detail"] = (
                "This calendar has no final grades yet (grades on a course task with credit); "
                "nothing was posted."
            )
        return Response(body)


urlpatterns = [
    path("reports/report-card/", ReportCardView.as_view(), name="api-report-card"),
    path("reports/honor-roll/", HonorRollView.as_view(), name="api-honor-roll"),
    path("reports/eligibility/", EligibilityView.as_view(), name="api-eligibility"),
    path(
        "students/<int:pk>/cumulative-gpa/",
        CumulativeGpaView.as_view(),
        name="api-student-cumulative-gpa",
    ),
]


def register(router) -> None:
    """Add this module's viewsets to the /api/v1/ router."""
    router.register("honor-roll-tiers", HonorRollTierViewSet, basename="honor-roll-tier")
    router.register("transcripts", TranscriptLineViewSet, basename="transcript")
