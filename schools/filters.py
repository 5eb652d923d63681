"""django-filter sets for the setup API: every foreign key and flag named in API.md."""

import django_filters as df

from schools.models import (
    Calendar,
    Course,
    Enrollment,
    Roster,
    School,
    Section,
    StaffRole,
    Student,
    Term,
)


class SchoolFilter(df.FilterSet):
    class Meta:
        model = School
        fields = ["district", "kind", "unknown_attendance_sync", "code"]


class CalendarFilter(df.FilterSet):
    district = df.NumberFilter(field_name="school__district")

    class Meta:
        model = Calendar
        fields = ["school", "school_year"]


class TermFilter(df.FilterSet):
    school = df.NumberFilter(field_name="calendar__school")
    school_year = df.NumberFilter(field_name="calendar__school_year")

    class Meta:
        model = Term
        fields = ["calendar", "seq"]


class CourseFilter(df.FilterSet):
    school = df.NumberFilter(field_name="calendar__school")
    district = df.NumberFilter(field_name="calendar__school__district")
    school_year = df.NumberFilter(field_name="calendar__school_year")

    class Meta:
        model = Course
        fields = ["calendar", "is_kts", "number", "state_code"]


class SectionFilter(df.FilterSet):
    calendar = df.NumberFilter(field_name="course__calendar")
    school = df.NumberFilter(field_name="course__calendar__school")
    school_year = df.NumberFilter(field_name="course__calendar__school_year")
    teacher = df.NumberFilter(field_name="teachers")
    is_kts = df.BooleanFilter(field_name="course__is_kts")

    class Meta:
        model = Section
        fields = ["course", "number"]


class StudentFilter(df.FilterSet):
    school = df.NumberFilter(field_name="enrollments__calendar__school", distinct=True)
    calendar = df.NumberFilter(field_name="enrollments__calendar", distinct=True)

    class Meta:
        model = Student
        fields = ["state_id"]


class EnrollmentFilter(df.FilterSet):
    school = df.NumberFilter(field_name="calendar__school")

    class Meta:
        model = Enrollment
        fields = ["student", "calendar", "service_type", "school_year"]


class RosterFilter(df.FilterSet):
    course = df.NumberFilter(field_name="section__course")
    school = df.NumberFilter(field_name="section__course__calendar__school")
    school_year = df.NumberFilter(field_name="section__course__calendar__school_year")

    class Meta:
        model = Roster
        fields = ["student", "section"]


class StaffRoleFilter(df.FilterSet):
    class Meta:
        model = StaffRole
        fields = ["user", "role", "district", "school"]
