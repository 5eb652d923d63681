"""Security headers and request-size limits for every response.

Django's SecurityMiddleware sets HSTS, nosniff and Referrer-Policy from settings; this adds a
Content-Security-Policy, a Permissions-Policy and ``Cache-Control: no-store`` on API answers
(student records must not sit in shared caches), and answers an oversized body with 413
before any parser reads it (DRF's parsers do not apply DATA_UPLOAD_MAX_MEMORY_SIZE).
"""

from django.conf import settings
from django.http import Http404, JsonResponse

# Pages use small inline styles and scripts; everything else must come from this site.
DEFAULT_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
# The interactive API docs (Swagger UI, ReDoc) come from this site's static files
# (drf-spectacular-sidecar); ReDoc runs its renderer in a blob: worker.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"
)
PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"
)


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if (
            limit is not None
            and length > limit
            and not request.META.get("CONTENT_TYPE", "").startswith("multipart/")
        ):
            response = JsonResponse(
                {"detail": f"The request body is too large; send at most {limit} bytes."},
                status=413,
            )
        else:
            response = self.get_response(request)
        docs = request.path.startswith(("/api/docs/", "/api/redoc/"))
        csp = DOCS_CSP if docs else getattr(settings, "CONTENT_SECURITY_POLICY", DEFAULT_CSP)
        response.headers.setdefault("Content-Security-Policy", csp)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        if request.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    def process_exception(self, request, exception):
        """An id in the path too large for the database (SQLite raises OverflowError) names
        no record: 404, never a 500."""
        if isinstance(exception, OverflowError):
            from django.views.defaults import page_not_found

            return page_not_found(request, Http404("No such record."))
        return None
