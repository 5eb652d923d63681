"""django-filter sets for grading's setup API (API.md: every foreign key and flag)."""

import django_filters as df

from grading.models import CourseGradingTask, CreditType, GradingTask, GradingWindow, ScoreGroup


class ScoreGroupFilter(df.FilterSet):
    is_state = df.BooleanFilter(field_name="district", lookup_expr="isnull")

    class Meta:
        model = ScoreGroup
        fields = ["district", "name"]


class GradingTaskFilter(df.FilterSet):
    is_state = df.BooleanFilter(field_name="district", lookup_expr="isnull")

    class Meta:
        model = GradingTask
        fields = ["district", "is_cte", "code"]


class CreditTypeFilter(df.FilterSet):
    is_state = df.BooleanFilter(field_name="district", lookup_expr="isnull")

    class Meta:
        model = CreditType
        fields = ["district"]


class CourseGradingTaskFilter(df.FilterSet):
    calendar = df.NumberFilter(field_name="course__calendar")
    school = df.NumberFilter(field_name="course__calendar__school")
    district = df.NumberFilter(field_name="course__calendar__school__district")
    school_year = df.NumberFilter(field_name="course__calendar__school_year")
    is_kts = df.BooleanFilter(field_name="course__is_kts")
    term = df.NumberFilter(field_name="mask__term", distinct=True)
    active_term = df.NumberFilter(method="filter_active_term")

    class Meta:
        model = CourseGradingTask
        fields = ["course", "grading_task", "score_group", "credit_type"]

    def filter_active_term(self, queryset, name, value):
        return queryset.filter(mask__term=value, mask__active=True)


class GradingWindowFilter(df.FilterSet):
    school_year = df.NumberFilter(field_name="term__calendar__school_year")
    grading_task = df.NumberFilter(field_name="grading_tasks", distinct=True)
    open_on = df.DateFilter(method="filter_open_on")

    class Meta:
        model = GradingWindow
        fields = ["school", "term"]

    def filter_open_on(self, queryset, name, value):
        return queryset.filter(opens_on__lte=value, closes_on__gte=value)
