"""Grades (API.md "Grades") and the stale-grades report (R13-R16, R23, R15).

Thin: every write goes through grading/services/grades.py, the same path the teacher pages
use, so the API, the pages and imports answer alike.
"""

import hashlib
from collections import defaultdict
from typing import NamedTuple

import django_filters as df
from django.core.exceptions import EmptyResultSet
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Case, Count, F, QuerySet, Value, When
from django.urls import path
from django.utils.dateparse import parse_date
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from grading.api.idempotency import idempotent
from grading.models import Grade, GradingTask
from grading.selectors.cache import answer, versioned
from grading.selectors.stale import stale_sections
from grading.services.grades import (
    BULK_MAX_ROWS,
    GradeRowsError,
    check_bulk_size,
    grade_post,
    grade_post_bulk,
)
from schools import access, versions
from schools.access import IsScopedUser, scope_queryset
from schools.api_common import ScopedModelViewSet, django_error_to_drf
from schools.models import Section, Student, Term

KEY_FIELDS = ("student", "section", "grading_task", "term")


class GradeFilter(df.FilterSet):
    school = df.NumberFilter(field_name="section__course__calendar__school")
    changed_since = df.IsoDateTimeFilter(field_name="modified_at", lookup_expr="gte")

    class Meta:
        model = Grade
        fields = ["student", "section", "grading_task", "term", "source"]


# The representation of GradeSerializer's percent and modified_at (not declared fields).
_PERCENT = serializers.DecimalField(max_digits=6, decimal_places=2, coerce_to_string=True)
_MODIFIED_AT = serializers.DateTimeField()


class GradeSerializer(serializers.ModelSerializer):
    """A grade; writes are upserts through ``grade_post`` (the view calls it)."""

    percent = serializers.DecimalField(
        max_digits=6, decimal_places=2, required=False, allow_null=True, coerce_to_string=True
    )
    score = serializers.CharField(max_length=20, required=False, allow_blank=True)
    comments = serializers.CharField(required=False, allow_blank=True)
    correction_reason = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        help_text="R16: needed to change a posted CTE Final Grade.",
    )

    class Meta:
        model = Grade
        fields = [
            "id",
            "student",
            "section",
            "grading_task",
            "term",
            "percent",
            "score",
            "comments",
            "correction_reason",
            "source",
            "posted_by",
            "modified_at",
        ]
        read_only_fields = ["source", "posted_by", "modified_at"]
        validators: list = []  # the upsert replaces the unique-together check

    # Issue 13: a grade is read far more often than written; its representation is built
    # directly (the same answer as the fields give, without a bound copy of every field
    # per serializer and five related-field lookups per row).
    def to_representation(self, instance):
        percent = instance.percent
        return {
            "id": instance.pk,
            "student": instance.student_id,
            "section": instance.section_id,
            "grading_task": instance.grading_task_id,
            "term": instance.term_id,
            "percent": None if percent is None else _PERCENT.to_representation(percent),
            "score": instance.score,
            "comments": instance.comments,
            "source": instance.source,
            "posted_by": instance.posted_by_id,
            "modified_at": _MODIFIED_AT.to_representation(instance.modified_at),
        }


class GradeHistorySerializer(serializers.Serializer):
    changed_at = serializers.DateTimeField()
    changed_by = serializers.IntegerField(source="changed_by_id", allow_null=True)
    source = serializers.CharField()
    run = serializers.IntegerField(source="run_id", allow_null=True)
    old_score = serializers.CharField()
    old_percent = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    new_score = serializers.CharField()
    new_percent = serializers.DecimalField(max_digits=5, decimal_places=2, allow_null=True)
    reason = serializers.CharField()
    old_comments = serializers.CharField()
    new_comments = serializers.CharField()


class StaleGradeSerializer(serializers.Serializer):
    section = serializers.IntegerField(source="section.pk")
    section_name = serializers.CharField(source="section.__str__")
    school = serializers.IntegerField(source="section.course.calendar.school_id")
    teachers = serializers.SerializerMethodField()
    last_posted_at = serializers.DateTimeField(allow_null=True)

    def get_teachers(self, item) -> list[int]:
        return [t.pk for t in item.teachers]


class Blocks(NamedTuple):
    """A list's grades by section block (see ``SectionBlocks``)."""

    sections: list[tuple[list[int], int]]  # (section ids, grades), blocks in order
    term_rank: dict[int, int]  # term id -> its place in Term's order (equal keys: equal)


class SectionBlocks:
    """A grade list in its documented order (``Grade.Meta.ordering``: section - i.e. school
    year, school, course, section number -, then student, task, term), paged without
    sorting every grade of the list (issue 13).

    The order begins with the section's keys, so the list is a run of *blocks*: the grades
    of the sections that share those keys (one section, unless two share year, school,
    course number and section number), blocks in the sections' order. A page needs the
    grades of the blocks it overlaps only: one query counts the grades per section and
    term, one orders the sections and one the terms (by the database, as the grade query
    would: same collation), one reads the page from those blocks, ordered by the block's
    place, the student, the task and the term's place: the same order with three tables
    fewer to join. Exact for any filter and scope. Django's ``Paginator`` calls
    ``count()`` and slices it, as it would a queryset.
    """

    def __init__(self, queryset: QuerySet[Grade], *, school_id: int | None = None) -> None:
        self.queryset = queryset
        self.school_id = school_id  # the list's ?school=: its blocks are cached
        self._blocks: Blocks | None = None

    def blocks(self) -> Blocks:
        if self._blocks is None:
            self._blocks = self._cached() if self.school_id else self._read()
        return self._blocks

    def _cached(self) -> Blocks:
        """The blocks of a list of one school's grades, cached under the versions of the
        school's data (exact: every grade write at the school and every setup write
        changes them) and keyed by the list's whole query (filters and the user's scope)."""
        try:
            sql, params = self.queryset.order_by().query.sql_with_params()
        except EmptyResultSet:
            return Blocks([], {})
        digest = hashlib.blake2b(repr((sql, params)).encode(), digest_size=16).hexdigest()
        return versioned(
            "grade-blocks", school_id=self.school_id, parts=(digest,), compute=self._read
        )

    def _read(self) -> Blocks:
        per_section: dict[int, int] = defaultdict(int)
        terms = set()
        for section_id, term_id, n in (
            self.queryset.order_by()
            .values_list("section_id", "term_id")
            .annotate(n=Count("*"))
            .values_list("section_id", "term_id", "n")
        ):
            per_section[section_id] += n
            terms.add(term_id)
        sections = Section.objects.filter(pk__in=list(per_section)).values_list(
            "pk",
            "course__calendar__school_year",
            "course__calendar__school__name",
            "course__number",
            "number",
        )  # Section.Meta.ordering: the same keys, in the same order, as Grade's
        blocks: list[tuple[list[int], int]] = []
        last = None
        for pk, *keys in sections:
            if keys != last:
                blocks.append(([], 0))
                last = keys
            ids, n = blocks[-1]
            ids.append(pk)
            blocks[-1] = (ids, n + per_section[pk])
        term_rank: dict[int, int] = {}
        last, rank = None, -1
        for pk, *keys in Term.objects.filter(pk__in=list(terms)).values_list(
            "pk", "calendar__school_year", "calendar__school__name", "seq"
        ):  # Term.Meta.ordering, as Grade's order ends
            if keys != last:
                rank, last = rank + 1, keys
            term_rank[pk] = rank
        return Blocks(blocks, term_rank)

    def count(self) -> int:
        return sum(n for _, n in self.blocks().sections)

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, index: slice) -> list[Grade]:
        start, stop = index.start or 0, index.stop
        blocks = self.blocks()
        wanted: dict[int, int] = {}  # section id -> its block's place
        first = None  # position of the first grade of the blocks read
        at = 0
        for place, (ids, n) in enumerate(blocks.sections):
            if at + n > start and (stop is None or at < stop):
                wanted.update(dict.fromkeys(ids, place))
                first = at if first is None else first
            at += n
        if first is None:
            return []
        rows = (
            self.queryset.filter(section_id__in=list(wanted))
            .order_by(
                _place("section_id", wanted),
                "student",  # Student.Meta.ordering, as in Grade's
                "grading_task",  # GradingTask.Meta.ordering
                _place("term_id", blocks.term_rank),
            )
            .annotate(**_SCHOOL)
        )
        return list(rows[start - first : None if stop is None else stop - first])


def _place(field: str, places: dict[int, int]) -> Case:
    return Case(*(When(**{field: pk}, then=Value(p)) for pk, p in places.items()))


MAX_PK = 2**63 - 1
# Each grade read with its school: the disclosure check (R37) needs no query for a page of
# the user's own school's grades.
_SCHOOL = {access.SCHOOL_HINT: F("section__course__calendar__school_id")}


def _as_pk(value) -> int | None:
    """A primary key from a request value, or None when it cannot be one."""
    if isinstance(value, bool):
        return None
    try:
        pk = int(str(value))
    except (TypeError, ValueError):
        return None
    return pk if 0 < pk <= MAX_PK else None


class BulkStudentField(serializers.PrimaryKeyRelatedField):
    """A row's student, found in the students the whole request names, read once by
    ``BulkSerializer`` (issue 13: one query for every row, not one per row). The errors
    are the related field's: an unknown or out-of-scope id is ``does_not_exist``."""

    def to_internal_value(self, data):
        students = getattr(self.root, "_bulk_students", None)
        if students is None:  # used on its own: the related field's one-row lookup
            return super().to_internal_value(data)
        if isinstance(data, bool) or not isinstance(data, (int, str)):
            self.fail("incorrect_type", data_type=type(data).__name__)
        try:
            int(data)
        except ValueError:
            self.fail("incorrect_type", data_type=type(data).__name__)
        student = students.get(_as_pk(data))
        if student is None:
            self.fail("does_not_exist", pk_value=data)
        return student


class BulkRowSerializer(serializers.Serializer):
    student = BulkStudentField(queryset=Student.objects.all())
    percent = serializers.DecimalField(
        max_digits=6, decimal_places=2, required=False, allow_null=True
    )
    score = serializers.CharField(max_length=20, required=False, allow_blank=True)
    comments = serializers.CharField(required=False, allow_blank=True)
    correction_reason = serializers.CharField(required=False, allow_blank=True)


class BulkSerializer(serializers.Serializer):
    section = serializers.PrimaryKeyRelatedField(queryset=Section.objects.all())
    grading_task = serializers.PrimaryKeyRelatedField(queryset=GradingTask.objects.all())
    term = serializers.PrimaryKeyRelatedField(queryset=Term.objects.all())
    grades = BulkRowSerializer(many=True, allow_empty=False, max_length=BULK_MAX_ROWS)

    def to_internal_value(self, data):
        # Issue 13: read every row's student in one query (in the user's scope) before the
        # rows are validated; each row then finds its own.
        rows = data.get("grades") if isinstance(data, dict) else None
        ids = set()
        for row in rows if isinstance(rows, list) else ():
            pk = _as_pk(row.get("student")) if isinstance(row, dict) else None
            if pk is not None:
                ids.add(pk)
        students = Student.objects.filter(pk__in=ids)
        request = self.context.get("request")
        if request is not None:
            students = scope_queryset(request.user, students)
        self._bulk_students = {s.pk: s for s in students} if ids else {}
        return super().to_internal_value(data)


def _rows_error(exc: GradeRowsError, count: int) -> DRFValidationError:
    """DRF's list shape for nested rows: one dict per row, empty for the good ones."""
    detail = []
    for index in range(count):
        errors = exc.rows.get(index, {})
        detail.append(
            {
                ("non_field_errors" if field == "__all__" else field): [
                    serializers.ErrorDetail(str(m), code=e.code or "invalid")
                    for e in errs
                    for m in e.messages
                ]
                for field, errs in errors.items()
            }
        )
    return DRFValidationError({"grades": detail})


class GradeViewSet(ScopedModelViewSet):
    """Grades: ``POST`` upserts on (student, section, grading_task, term) - 201 created,
    200 updated; ``PATCH``/``PUT`` change the value through the same service. Grades are
    never deleted through the API: their history (R14) must stay."""

    queryset = Grade.objects.all()
    serializer_class = GradeSerializer
    filterset_class = GradeFilter
    ordering_fields = ["modified_at", "id"]
    http_method_names = ["get", "post", "put", "patch", "head", "options"]
    audited_by_service = True  # grade_post/grade_post_bulk audit create vs update (R43)

    def paginate_queryset(self, queryset):
        # Issue 13: in the documented order (no ?ordering=, no feed order), page by section
        # blocks instead of sorting every grade of the list through nine joins.
        # A section's own list is one block: nothing to gain there.
        # A section's own list needs no blocks: its section's keys are one value, and so are
        # its term's when the list names one, so the order need not join them (ten tables
        # to plan, the most of a small list's database time, become seven).
        params = self.request.query_params
        if self.paginator is None or queryset.query.order_by:
            return super().paginate_queryset(queryset.annotate(**_SCHOOL))
        if _as_pk(params.get("section")) is not None:
            pinned = ["student", "grading_task"]  # Grade.Meta.ordering after "section"
            if _as_pk(params.get("term")) is None:
                pinned.append("term")
            return super().paginate_queryset(queryset.order_by(*pinned).annotate(**_SCHOOL))
        # Cached for a school's list; not for a feed's (a new timestamp every poll).
        school_id = None if params.get("changed_since") else _as_pk(params.get("school"))
        return super().paginate_queryset(SectionBlocks(queryset, school_id=school_id))

    def list(self, request, *args, **kwargs):
        """Issue 13: a page of one school's (or one section's) grades is cached whole under
        the versions of that school's data (exact: every grade write at the school and
        every setup write change them), keyed by the request's URL and the user's scope
        (``shared_scope_key``). Authentication, role and throttling ran before; the R37
        disclosure log is written for a cached page as for a computed one."""
        school_id, now = self._versions(request)
        scope = access.shared_scope_key(request.user) if now is not None else None
        if now is None or scope is None or school_id is None:
            return super().list(request, *args, **kwargs)
        computed = []
        body, hints = answer(
            "grade-page",
            school_id=school_id,
            parts=(request.build_absolute_uri(), scope),
            compute=lambda: computed.append(True) or self._page(request),
            now=now,
        )
        if not computed:
            self._log_cached_reads(request.user, hints)
        return Response(body)

    def _versions(self, request) -> tuple[int | None, tuple | None]:
        """The key's school (a section's id for a section's list) and the versions of the
        list's school, or (None, None) for a list not held to one school (or a feed)."""
        params = request.query_params
        if params.get("changed_since") or self.paginator is None:
            return None, None
        school = _as_pk(params.get("school"))
        if school is not None:
            return school, versions.current(school_id=school)
        section = _as_pk(params.get("section"))
        if section is not None:
            return section, versions.current_of_section(section_id=section)
        return None, None

    def _page(self, request) -> tuple[dict, tuple[tuple[int, int | None], ...]]:
        """ListModelMixin.list's page (the R37 log written as it reads) as plain data,
        and each row's (id, school) for the log of a cached read."""
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        serializer = self.get_serializer(page, many=True)
        data = self.get_paginated_response(serializer.data).data
        body = {k: list(v) if k == "results" else v for k, v in data.items()}
        return body, tuple((g.pk, getattr(g, access.SCHOOL_HINT, None)) for g in page)

    def _log_cached_reads(self, user, hints: tuple[tuple[int, int | None], ...]) -> None:
        """R37 for a cached page: the rows of schools not the user's own are logged."""
        if not hints or access.is_state_admin(user):
            return
        own = access.user_school_ids(user)
        if all(school is not None and school in own for _, school in hints):
            return
        rows = []
        for pk, school in hints:
            grade = Grade(pk=pk)
            setattr(grade, access.SCHOOL_HINT, school)
            rows.append(grade)
        access.log_cross_school_reads(user, rows, resource=self.basename or "")

    def _post(self, data: dict, *, instance: Grade | None = None):
        keys = {k: data.get(k) or getattr(instance, k, None) for k in KEY_FIELDS}
        missing = [k for k, v in keys.items() if v is None]
        if missing:
            raise DRFValidationError({k: ["This field is required."] for k in missing})
        if instance is not None:
            changed = [k for k in KEY_FIELDS if k in data and data[k] != getattr(instance, k)]
            if changed:
                raise DRFValidationError(
                    {k: ["A grade cannot be moved; post a new grade instead."] for k in changed}
                )
        if instance is not None and "percent" not in data and "score" not in data:
            percent, score = instance.percent, instance.score
        else:
            percent, score = data.get("percent"), data.get("score", "")
        try:
            return grade_post(
                **keys,
                percent=percent,
                score=score or "",
                comments=data.get("comments"),
                correction_reason=data.get("correction_reason", ""),
                by=self.request.user,
            )
        except DjangoValidationError as exc:
            raise django_error_to_drf(exc) from exc

    @extend_schema(responses={201: GradeSerializer, 200: GradeSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        grade, created = self._post(serializer.validated_data)
        return Response(
            GradeSerializer(grade, context=self.get_serializer_context()).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    def update(self, request, *args, **kwargs):
        instance = self.get_object()
        serializer = self.get_serializer(
            instance, data=request.data, partial=kwargs.get("partial", False)
        )
        serializer.is_valid(raise_exception=True)
        grade, _ = self._post(serializer.validated_data, instance=instance)
        return Response(GradeSerializer(grade, context=self.get_serializer_context()).data)

    @extend_schema(
        request=BulkSerializer,
        responses={
            200: GradeSerializer(many=True),
            422: OpenApiResponse(
                description="The Idempotency-Key was already used with another body (R49)."
            ),
        },
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="R49: a retry with the same key and body gets the first answer.",
            )
        ],
    )
    @action(detail=False, methods=["post"], serializer_class=BulkSerializer)
    @idempotent
    def bulk(self, request):
        """All or nothing (R13): 200 with the saved grades, 400 naming each bad row.
        At most 1,000 rows (R44), refused before any row is read."""
        rows = request.data.get("grades") if isinstance(request.data, dict) else None
        if isinstance(rows, list):
            try:
                check_bulk_size(len(rows))
            except DjangoValidationError as exc:
                raise django_error_to_drf(exc) from exc
        serializer = BulkSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            grades = grade_post_bulk(
                section=data["section"],
                grading_task=data["grading_task"],
                term=data["term"],
                rows=data["grades"],
                by=request.user,
            )
        except GradeRowsError as exc:
            raise _rows_error(exc, len(data["grades"])) from exc
        except DjangoValidationError as exc:
            raise django_error_to_drf(exc) from exc
        context = self.get_serializer_context()
        return Response(GradeSerializer(grades, many=True, context=context).data)

    @extend_schema(responses=GradeHistorySerializer(many=True))
    @action(
        detail=True,
        methods=["get"],
        serializer_class=GradeHistorySerializer,
        filter_backends=[],
        pagination_class=None,
    )
    def history(self, request, pk=None):
        """R14: every change of this grade, newest first."""
        grade = self.get_object()
        # R37/R43: a HS reading a tech grade's history is a disclosure, like reading the grade.
        access.log_cross_school_reads(request.user, [grade], resource="grade-history")
        return Response(GradeHistorySerializer(grade.history.all(), many=True).data)


class StaleGradesView(APIView):
    """R15: tech sections without a CTE Term Grade posted in the last 7 days.

    ``?school=`` narrows to one school; ``?as_of=YYYY-MM-DD`` (default today).
    """

    permission_classes = [IsScopedUser]

    @extend_schema(
        parameters=[
            OpenApiParameter("school", OpenApiTypes.INT),
            OpenApiParameter("as_of", OpenApiTypes.DATE),
        ],
        responses=StaleGradeSerializer(many=True),
    )
    def get(self, request):
        school = request.query_params.get("school")
        as_of_raw = request.query_params.get("as_of")
        errors = {}
        if school is not None and not (school.isascii() and school.isdigit()):
            errors["school"] = ["Give the school's id (a whole number)."]
        as_of = None
        if as_of_raw:
            try:
                as_of = parse_date(as_of_raw)
            except ValueError:
                as_of = None
            if as_of is None:
                errors["as_of"] = ["Give the date as YYYY-MM-DD."]
        if errors:
            raise DRFValidationError(errors)
        items = stale_sections(as_of=as_of, school_id=int(school) if school else None)
        visible = set(
            scope_queryset(
                request.user, Section.objects.filter(pk__in=[i.section.pk for i in items])
            ).values_list("pk", flat=True)
        )
        return Response(
            StaleGradeSerializer([i for i in items if i.section.pk in visible], many=True).data
        )


urlpatterns: list = [
    path("reports/stale-grades/", StaleGradesView.as_view(), name="report-stale-grades"),
]


def register(router) -> None:
    """Add this module's viewsets to the /api/v1/ router."""
    router.register("grades", GradeViewSet, basename="grade")
