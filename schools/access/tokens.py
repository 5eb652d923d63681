"""API token authentication (API.md: ``Authorization: Token <key>``) in one query.

DRF's ``TokenAuthentication``, same header, same answers and refusals, except that the
token, its user and the user's roles (``roles.grants_for``) are read together: one query
per request instead of two. The roles are the ones in the database at this request, read
for this request's user object only; nothing is kept between requests.
"""

from __future__ import annotations

import functools
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Model
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from schools.access.roles import grants_from_rows, roles_columns, roles_join
from schools.access.sql import columns, from_row, width
from schools.access.sql import quoted_column as col
from schools.access.sql import quoted_table as table


@functools.cache  # a query text; the models and the database do not change
def _sql(token_model: type[Model], user_model: type[Model]) -> str:
    """The token, its user (their concrete fields, in order) and the user's roles."""
    user_pk = f"u.{col(user_model)}"
    return (
        f"SELECT {columns(token_model, 't')}, {columns(user_model, 'u')}, {roles_columns()}"
        f" FROM {table(token_model)} t"
        f" JOIN {table(user_model)} u ON {user_pk} = t.{col(token_model, 'user')}"
        f" {roles_join(user_pk)} WHERE t.{col(token_model)} = %s"
    )


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        token_model = self.get_model()
        user_model = get_user_model()
        with connection.cursor() as cursor:
            cursor.execute(_sql(token_model, user_model), [key])
            rows = cursor.fetchall()
        if not rows:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        n_token, n_user = width(token_model), width(user_model)
        first = rows[0]
        token: Any = from_row(token_model, first[:n_token])
        user: Any = from_row(user_model, first[n_token : n_token + n_user])
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        token.user = user
        user._kts_grants = grants_from_rows(row[n_token + n_user :] for row in rows)
        token._kts_grants_of = user  # IsScopedUser: read with this request's user
        return user, token
