"""Sign-in with attempt limiting: 5 failures for one username from one address lock that
pair out for 15 minutes (counted in the cache). Used by /accounts/login/ and the admin."""

import hashlib

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache

MAX_FAILURES = 5
LOCK_SECONDS = 15 * 60


def _key(username: str, ip: str) -> str:
    # Hashed so the cache holds no usernames in clear.
    digest = hashlib.sha256(f"{username.strip().lower()}|{ip}".encode()).hexdigest()
    return f"login-failures:{digest}"


def _client_ip(request) -> str:
    return (request.META.get("REMOTE_ADDR") or "") if request is not None else ""


class LimitedLoginMixin:
    """Refuses a locked username+address before checking the password; counts failures."""

    locked = ""
    locked_message = "Too many failed sign-ins. Try again in 15 minutes or ask an administrator."

    def clean(self):
        username = self.data.get("username", "") or ""
        key = _key(username, _client_ip(self.request))
        if (cache.get(key) or 0) >= MAX_FAILURES:
            self.locked = self.locked_message
            raise forms.ValidationError(self.locked_message, code="locked")
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            if cache.add(key, 1, LOCK_SECONDS) is False:
                try:
                    cache.incr(key)
                except ValueError:
                    cache.set(key, 1, LOCK_SECONDS)
            raise
        cache.delete(key)
        return cleaned


class LimitedAuthenticationForm(LimitedLoginMixin, AuthenticationForm):
    pass


class LimitedAdminAuthenticationForm(LimitedLoginMixin, AdminAuthenticationForm):
    pass


class LoginView(auth_views.LoginView):
    authentication_form = LimitedAuthenticationForm
