"""API of OneRoster imports and exports (R50, R51). Thin: the work is in the services."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from exchange.models import Import
from exchange.oneroster import services
from exchange.oneroster.exporter import export_zip
from schools.access import require_school_role


class ImportSerializer(serializers.ModelSerializer[Import]):
    errors = serializers.SerializerMethodField()  # type: ignore[assignment]

    class Meta:
        model = Import
        fields = [
            "id",
            "status",
            "dry_run",
            "file_name",
            "created_at",
            "started_at",
            "finished_at",
            "counts",
            "errors",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_errors(self, obj: Import) -> list[dict[str, object]]:
        errors: list[dict[str, object]] = obj.errors
        return errors


class ImportRequestSerializer(serializers.Serializer[None]):
    file = serializers.FileField()
    dry_run = serializers.BooleanField(required=False, default=False)


class ImportUploadView(APIView):
    """``POST imports/oneroster/`` (multipart ``file``: a zip, optional ``dry_run``) -> 202
    ``{id, status}``; the import runs on django-q2 (R50)."""

    parser_classes = [MultiPartParser, FormParser]
    # Who may import is decided below (district and state admins), not by the role-action
    # table: the import writes many models at once, each checked by the importer (R41).
    permission_classes = [IsAuthenticated]

    @extend_schema(request=ImportRequestSerializer, responses={202: ImportSerializer})
    def post(self, request: Request) -> Response:
        if not services.may_import(request.user):
            raise PermissionDenied("District and state admins import OneRoster sets.")
        data = ImportRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        record = services.oneroster_import_upload(
            upload=data.validated_data["file"],
            dry_run=data.validated_data["dry_run"],
            by=request.user,
        )
        return Response({"id": record.pk, "status": record.status}, status=status.HTTP_202_ACCEPTED)


class ImportDetailView(APIView):
    """``GET imports/{id}/`` -> ``{id, status, dry_run, counts, errors: [{file, line,
    sourced_id, field, message}]}``; another admin's import answers 404."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=ImportSerializer)
    def get(self, request: Request, pk: int) -> Response:
        if not services.may_import(request.user):
            raise PermissionDenied("District and state admins read imports.")
        record = get_object_or_404(services.imports_visible_to(request.user), pk=pk)
        return Response(ImportSerializer(record).data)


EXPORT_ROLES = {"registrar", "school_admin"}  # plus district and state admins (R36, R42)


class ExportView(APIView):
    """``GET exports/oneroster/?school=<id>`` -> the school's OneRoster 1.2 CSV zip (R51),
    for the school's registrar, school admin, district admin and state admin."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        parameters=[OpenApiParameter("school", int, required=True)],
        responses={(200, "application/zip"): bytes},
    )
    def get(self, request: Request) -> HttpResponse:
        school_id = request.query_params.get("school", "")
        if not (school_id.isascii() and school_id.isdigit()):
            raise ValidationError({"school": ["Give the id of a school: ?school=<id>."]})
        school = require_school_role(request, school_id, roles=EXPORT_ROLES)
        data = export_zip(school)
        response = HttpResponse(data, content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="oneroster-{school.code}.zip"'
        return response
