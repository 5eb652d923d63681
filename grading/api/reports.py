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
from grading.selectors.cache import answer
from grading.selectors.gpa import eligibility, honor_roll
from grading.selectors.report_card import (
    check_report_term,
    report_card,
    section_teachers,
    term_with_school,
)
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
    raw_school = request.query_params.get("school")
    report_scope_first(request.user, report, "api", raw_school)
    term, _ = _term_of(request.query_params.get("term"))
    if term is not None and str(term.calendar.school_id) == str(raw_school):
        # The term of the school asked for: what the query's validation would answer,
        # without reading the school again.
        params = {"school": term.calendar.school, "term": term}
        check_report_term(term=term, school=params["school"])
    else:
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
    """R32: ``GET reports/report-card/?student=&term=``.

    Issue 13: the answer is cached under the versions of the term's school's data (exact:
    every write of what it shows changes them), keyed by the student and the term; the
    role and scope checks run on every request before the cache is asked, and the
    teachers (user names are not versioned) are read on every request."""

    @extend_schema(parameters=[ReportCardQuery], responses=OpenApiTypes.OBJECT)
    def get(self, request):
        user = request.user
        # R42: role and scope before the query's validation (a bad term tells nothing).
        checked = None  # the student id whose scope is already checked
        term = None  # the term, read with its school, when its id is well formed
        if not is_state_admin(user):
            term, known = _term_of(request.query_params.get("term"))
            school_id = term.calendar.school_id if term is not None else None
            report_scope_first(user, "report-card", "api", school_id, known=known)
            raw = str(request.query_params.get("student") or "")
            if raw.isascii() and raw.isdigit():
                checked = int(raw) if len(raw) <= 18 else 0
                _in_scope(user, Student.objects.all(), checked)
        if checked is not None and term is not None:
            # Both found (the student in the user's scope): what the query's validation
            # would answer, without reading the student before the cache is asked.
            student_id = checked
        else:
            params = validated_query(ReportCardQuery, request)
            term, student_id = params["term"], params["student"].pk
            if student_id != checked:
                _in_scope(user, Student.objects.all(), student_id)
        check_report_term(term=term)  # a term of a technical school: 400
        # R42: a report card is the HS's record: its registrar and admins read it.
        report_access_or_404(user, "report-card", "api", term.calendar.school_id)
        body = answer(
            "report-card-api",
            school_id=term.calendar.school_id,
            parts=(student_id, term.pk),
            compute=lambda: _report_card_body(student_id, term),
        )
        teachers = section_teachers([s["section"] for s in body["sections"]])
        return Response(
            {
                **body,
                "sections": [
                    {
                        **s,
                        "teachers": [uid for uid, _ in teachers.get(s["section"], ())],
                        "teacher_names": [name for _, name in teachers.get(s["section"], ())],
                    }
                    for s in body["sections"]
                ],
            }
        )


def _term_of(raw) -> tuple[Term | None, bool]:
    """Term ``raw`` (a query parameter) with its calendar and school, and whether it was
    found; a malformed id is (None, True): the query's validation answers it."""
    raw = str(raw or "")
    if not (raw.isascii() and raw.isdigit()):
        return None, True
    if len(raw) > 18:  # beyond any primary key
        return None, False
    term = term_with_school(int(raw))
    return term, term is not None


def _report_card_body(student_id: int, term: Term) -> dict:
    """The report card's answer (its sections' teachers left to the caller)."""
    card = report_card(student=Student.objects.get(pk=student_id), term=term, scales=False)
    return {
        "student": card["student"].pk,
        "student_name": f"{card['student'].last_name}, {card['student'].first_name}",
        "term": card["term"].pk,
        "term_name": card["term"].name,
        "school": card["school"].pk,
        "school_name": card["school"].name,
        "sections": [
            {
                **{k: v for k, v in s.items() if k != "grades"},
                "teachers": [],  # read on every request (keeps the fields' order)
                "teacher_names": [],
                "grades": [{**g, "percent": _two_places(g["percent"])} for g in s["grades"]],
            }
            for s in card["sections"]
        ],
        "gpa": _two_places(card["gpa"]),
        "honor_roll": card["honor_roll"],
        "incomplete": card["incomplete"],  # R31: a counted course has no grade yet
        "grade_level": card["grade_level"],
    }


class HonorRollView(APIView):
    """R31: ``GET reports/honor-roll/?school=&term=`` → ``[{student, gpa, tier}]``."""

    @extend_schema(parameters=[SchoolTermQuery], responses=HonorRollRowSerializer(many=True))
    def get(self, request):
        params = _school_term(request, "honor-roll")
        school, term = params["school"], params["term"]
        return Response(
            answer(
                "honor-roll-api",
                school_id=school.pk,
                parts=(term.pk,),
                compute=lambda: [
                    {**r, "gpa": _two_places(r["gpa"])}
                    for r in honor_roll(school=school, term=term)
                ],
            )
        )


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
