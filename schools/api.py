"""API resources of this app (serializers and thin views): API.md "Setup resources"."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import ProtectedError, RestrictedError
from rest_framework import serializers

from schools import access, filters
from schools.api_common import (
    CleanModelSerializer,
    ScopedModelViewSet,
    django_error_to_drf,
    register_viewsets,
)
from schools.models import (
    Calendar,
    Course,
    District,
    Enrollment,
    Roster,
    School,
    Section,
    StaffRole,
    Student,
    Term,
)
from schools.services.writes import record_delete


class SetupViewSet(ScopedModelViewSet):
    """A setup resource: deleting a row still in use answers 400, not 500."""

    def perform_destroy(self, instance):
        try:
            record_delete(instances=[instance], by=self.request.user)
        except (ProtectedError, RestrictedError) as exc:
            raise django_error_to_drf(
                DjangoValidationError(
                    f"{instance} is still in use; remove what refers to it first.",
                    code="in_use",
                )
            ) from exc


class DistrictSerializer(CleanModelSerializer):
    class Meta:
        model = District
        fields = ["id", "code", "name"]


class SchoolSerializer(CleanModelSerializer):
    class Meta:
        model = School
        fields = ["id", "district", "code", "name", "kind", "unknown_attendance_sync", "address"]

    def _state_admin_only(self, name: str, value):
        """R41: a school's district and kind change only by a state admin."""
        request = self.context.get("request")
        user = getattr(request, "user", None)
        if self.instance is None or user is None or access.is_state_admin(user):
            return value
        if getattr(self.instance, name) != value:
            raise serializers.ValidationError(
                f"Only a state admin changes a school's {name}; ask the state office.",
                code="state_admin_only",
            )
        return value

    def validate_district(self, value):
        return self._state_admin_only("district", value)

    def validate_kind(self, value):
        return self._state_admin_only("kind", value)


class CalendarSerializer(CleanModelSerializer):
    class Meta:
        model = Calendar
        fields = ["id", "school", "school_year", "name", "start_date", "end_date"]


class TermSerializer(CleanModelSerializer):
    class Meta:
        model = Term
        fields = ["id", "calendar", "name", "seq", "start_date", "end_date"]


# Checks other apps run on a saved course (grading's R6-R11 on its course tasks), so that
# schools does not import them. Each takes the course and raises Django's ValidationError;
# the save is then rolled back.
COURSE_CHECKS: list = []


class CourseSerializer(CleanModelSerializer):
    class Meta:
        model = Course
        fields = ["id", "calendar", "number", "name", "state_code", "is_kts"]

    def after_save(self, instance, m2m) -> None:
        for check in COURSE_CHECKS:
            check(instance)


class SectionSerializer(CleanModelSerializer):
    class Meta:
        model = Section
        fields = ["id", "course", "number", "teachers"]
        extra_kwargs = {"teachers": {"required": False}}

    def after_save(self, instance, m2m) -> None:
        # R41: checked after the save so a course moved to another school is caught too.
        instance.clean_teachers(instance.teachers.all())


class StudentSerializer(CleanModelSerializer):
    class Meta:
        model = Student
        fields = ["id", "state_id", "first_name", "last_name", "birth_date"]


class EnrollmentSerializer(CleanModelSerializer):
    class Meta:
        model = Enrollment
        fields = [
            "id",
            "student",
            "calendar",
            "school_year",
            "service_type",
            "grade_level",
            "start_date",
            "end_date",
        ]
        read_only_fields = ["school_year"]


class RosterSerializer(CleanModelSerializer):
    class Meta:
        model = Roster
        fields = ["id", "student", "section", "start_date", "end_date", "modified_at"]
        read_only_fields = ["modified_at"]


class StaffRoleSerializer(CleanModelSerializer):
    class Meta:
        model = StaffRole
        fields = ["id", "user", "role", "district", "school"]


class DistrictViewSet(SetupViewSet):
    queryset = District.objects.all()
    serializer_class = DistrictSerializer
    filterset_fields = ["code"]
    search_fields = ["name", "code"]


class SchoolViewSet(SetupViewSet):
    queryset = School.objects.all()
    serializer_class = SchoolSerializer
    filterset_class = filters.SchoolFilter
    search_fields = ["name", "code"]


class CalendarViewSet(SetupViewSet):
    queryset = Calendar.objects.select_related("school")
    serializer_class = CalendarSerializer
    filterset_class = filters.CalendarFilter
    search_fields = ["name", "school__name"]


class TermViewSet(SetupViewSet):
    queryset = Term.objects.all()
    serializer_class = TermSerializer
    filterset_class = filters.TermFilter
    search_fields = ["name"]


class CourseViewSet(SetupViewSet):
    queryset = Course.objects.all()
    serializer_class = CourseSerializer
    filterset_class = filters.CourseFilter
    search_fields = ["name", "number", "state_code"]


class SectionViewSet(SetupViewSet):
    queryset = Section.objects.select_related("course").prefetch_related("teachers")
    serializer_class = SectionSerializer
    filterset_class = filters.SectionFilter
    search_fields = ["number", "course__number", "course__name"]


class StudentViewSet(SetupViewSet):
    queryset = Student.objects.all()
    serializer_class = StudentSerializer
    filterset_class = filters.StudentFilter
    search_fields = ["state_id", "first_name", "last_name"]


class EnrollmentViewSet(SetupViewSet):
    queryset = Enrollment.objects.all()
    serializer_class = EnrollmentSerializer
    filterset_class = filters.EnrollmentFilter
    search_fields = ["student__state_id", "student__last_name"]


class RosterViewSet(SetupViewSet):
    queryset = Roster.objects.all()
    serializer_class = RosterSerializer
    filterset_class = filters.RosterFilter
    search_fields = ["student__state_id", "student__last_name", "section__number"]


class StaffRoleViewSet(SetupViewSet):
    queryset = StaffRole.objects.all()
    serializer_class = StaffRoleSerializer
    filterset_class = filters.StaffRoleFilter
    search_fields = ["user__username"]


VIEWSETS = {
    "districts": DistrictViewSet,
    "schools": SchoolViewSet,
    "calendars": CalendarViewSet,
    "terms": TermViewSet,
    "courses": CourseViewSet,
    "sections": SectionViewSet,
    "students": StudentViewSet,
    "enrollments": EnrollmentViewSet,
    "rosters": RosterViewSet,
    "staff-roles": StaffRoleViewSet,
}


def register(router) -> None:
    """Add this app's viewsets to the /api/v1/ router."""
    register_viewsets(router, VIEWSETS)
