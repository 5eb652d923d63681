"""R44: a JSON parser with a nesting limit, so a body nested thousands of levels deep answers
400 instead of a RecursionError (500)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 32  # the API's deepest real body (a bulk post) is 3 levels


def too_deep(data: Any, limit: int) -> bool:
    """Whether ``data`` nests lists/objects more than ``limit`` levels. Level by level, no
    recursion; a 50,000-row bulk body takes a few tens of milliseconds."""
    level = [data] if type(data) in (dict, list) else []
    depth = 1
    while level:
        if depth > limit:
            return True
        below: list = []
        for value in level:
            children = value.values() if type(value) is dict else value
            below += [c for c in children if type(c) is dict or type(c) is list]
        level = below
        depth += 1
    return False


class DepthLimitedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = getattr(settings, "API_JSON_MAX_DEPTH", MAX_DEPTH)
        message = f"The JSON body is nested more than {limit} levels deep; send a flatter body."
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(message) from exc
        if too_deep(data, limit):
            raise ParseError(message)
        return data
