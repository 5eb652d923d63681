"""The one coded-error helper (STYLE "Errors carry codes"): every app raises its refusals
through these, with a code from its ``error_codes`` enum, so clients and tests rely on the
code and the message is free to say what to do."""

from __future__ import annotations

from enum import StrEnum

from django.core.exceptions import ValidationError


class ErrorCode(StrEnum):
    """The base of each app's ``error_codes`` enum (STYLE "Errors carry codes"). Clients and
    tests rely on the values: add freely, never rename one."""


def coded_error(message, *, code: str) -> ValidationError:
    """A ValidationError whose ``code`` survives a ``{field: message}`` dict: Django drops the
    code when the dict's messages are plain strings, and tests and clients rely on it."""
    if isinstance(message, dict):
        return ValidationError({f: ValidationError(m, code=code) for f, m in message.items()})
    return ValidationError(message, code=code)


def field_error(field: str, message: str, *, code: str) -> ValidationError:
    """A refusal of one field (``__all__`` for the whole row) with its code."""
    return coded_error({field: message}, code=code)
