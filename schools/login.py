"""Sign-in with attempt limiting (R44), counted in the cache for 15 minutes:

* 5 failures for one username lock that username, from any address; the username is
  canonical (Unicode NFKC, then case-folded), so ``ｎｏｒｔｈ-ｍａｔｈ`` and ``North-Math``
  count against ``north-math`` (Django's sign-in form NFKC-normalises the name too);
* 20 failures from one client address lock that address, whichever usernames it tried.

Used by /accounts/login/ and the admin.
"""

import hashlib
import unicodedata

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache

MAX_FAILURES = 5  # per canonical username
MAX_FAILURES_PER_ADDRESS = 20  # per client address, any usernames
LOCK_SECONDS = 15 * 60


def canonical_username(username: str) -> str:
    """R44: one spelling per account for counting failures: NFKC, case-folded, trimmed."""
    return unicodedata.normalize("NFKC", username or "").casefold().strip()


def _digest(kind: str, value: str) -> str:
    # Hashed so the cache holds no usernames or addresses in clear.
    return f"login-failures:{kind}:{hashlib.sha256(value.encode()).hexdigest()}"


def _keys(username: str, ip: str) -> list[tuple[str, int]]:
    """The counters one attempt touches, each with the failures that lock it."""
    return [
        (_digest("user", canonical_username(username)), MAX_FAILURES),
        (_digest("addr", ip), MAX_FAILURES_PER_ADDRESS),
    ]


def _client_ip(request) -> str:
    return (request.META.get("REMOTE_ADDR") or "") if request is not None else ""


def _count_failure(key: str) -> None:
    if cache.add(key, 1, LOCK_SECONDS) is False:
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, LOCK_SECONDS)


class LimitedLoginMixin:
    """Refuses a locked username or address before checking the password; counts failures.
    A success clears the username's counter (not the address's)."""

    locked = ""
    locked_message = "Too many failed sign-ins. Try again in 15 minutes or ask an administrator."

    def clean(self):
        username = self.data.get("username", "") or ""
        keys = _keys(str(username), _client_ip(self.request))
        counts = cache.get_many([key for key, _ in keys])
        if any((counts.get(key) or 0) >= limit for key, limit in keys):
            self.locked = self.locked_message
            raise forms.ValidationError(self.locked_message, code="locked")
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            for key, _ in keys:
                _count_failure(key)
            raise
        cache.delete(keys[0][0])
        return cleaned


class LimitedAuthenticationForm(LimitedLoginMixin, AuthenticationForm):
    pass


class LimitedAdminAuthenticationForm(LimitedLoginMixin, AdminAuthenticationForm):
    pass


class LoginView(auth_views.LoginView):
    authentication_form = LimitedAuthenticationForm
