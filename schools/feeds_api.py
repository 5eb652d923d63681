"""``GET /api/v1/deletions/``: the deletions half of the change feeds (R40); see
``schools.feeds`` for how a client stays in sync."""

from django.urls import path
from rest_framework import generics, serializers

from schools.access import scope_queryset
from schools.models import Tombstone


class TombstoneSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tombstone
        fields = ["id", "model", "object_id", "school", "deleted_at"]


class DeletionList(generics.ListAPIView):
    """``GET deletions/?changed_since=&model=``: rows deleted through the API (R40)."""

    serializer_class = TombstoneSerializer
    changed_since_field = "deleted_at"
    filterset_fields = ["school"]
    ordering = ["deleted_at", "id"]

    def get_queryset(self):
        qs = Tombstone.objects.all().order_by("deleted_at", "id")
        model = self.request.query_params.get("model")
        if model:
            qs = qs.filter(model__iexact=model)
        return scope_queryset(self.request.user, qs)


urlpatterns = [path("deletions/", DeletionList.as_view(), name="deletions")]
