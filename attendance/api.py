"""API resources of this app (serializers and thin views)."""


def register(router) -> None:
    """Add this app's viewsets to the /api/v1/ router."""
