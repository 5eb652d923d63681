"""The student page (R52): one page per student whose blocks come from the apps that own
the data. ``schools`` imports no other app, so grading and attendance register their blocks
here from ``AppConfig.ready()``; each block applies R42 itself (returns None when the user
may not see it) and logs any cross-school read (R37)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from schools import access
from schools.models import Student


@dataclass
class Block:
    key: str
    title: str
    template: str
    context: dict = field(default_factory=dict)


BlockFn = Callable[..., "Block | None"]
_BLOCKS: list[tuple[int, BlockFn]] = []


def _register_in(registry: list[tuple[int, BlockFn]], order: int) -> Callable[[BlockFn], BlockFn]:
    """A decorator adding its function to ``registry`` at ``order`` (once: an app's ready()
    may run twice)."""

    def wrap(fn: BlockFn) -> BlockFn:
        if all(existing is not fn for _, existing in registry):
            registry.append((order, fn))
            registry.sort(key=lambda pair: pair[0])
        return fn

    return wrap


def register_block(order: int) -> Callable[[BlockFn], BlockFn]:
    """Register ``fn(*, user, student) -> Block | None`` at position ``order``."""
    return _register_in(_BLOCKS, order)


def blocks_for(*, user, student: Student) -> list[Block]:
    return [b for _, fn in _BLOCKS if (b := fn(user=user, student=student)) is not None]


def reads(user, roles: set[str]) -> bool:
    """Whether ``user`` holds one of ``roles`` somewhere (the state admin always): R42 names
    the roles of each block; scope_queryset then limits the rows to the user's scope."""
    return access.is_state_admin(user) or bool(access.user_school_ids(user, roles))


def student_search(*, user, query: str) -> QuerySet:
    """R52: the students ``user`` may see whose name or state id matches every word of
    ``query`` ("Lovelace Ada", "ada", "KY0001234"), by name. Empty query: none."""
    words = [w for w in query.replace(",", " ").split() if w][:5]
    if not words:
        return Student.objects.none()
    qs = access.scope_queryset(user, Student.objects.all())
    for word in words:
        qs = qs.filter(
            Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(state_id__iexact=word)
            | Q(state_id__istartswith=word)
        )
    return qs.order_by("last_name", "first_name", "pk").distinct()


def may_search(user) -> bool:
    """Every staff role sees some students (R36): the header shows them the search box."""
    return bool(
        user.is_authenticated and (access.is_state_admin(user) or access.user_school_ids(user))
    )


# --- home page panels (the registrar's worklist etc.) --------------------------------------

_HOME_PANELS: list[tuple[int, BlockFn]] = []


def register_home_panel(order: int) -> Callable[[BlockFn], BlockFn]:
    """Register ``fn(*, user) -> Block | None`` shown on the home page at ``order``."""
    return _register_in(_HOME_PANELS, order)


def home_panels_for(*, user) -> list[Block]:
    return [b for _, fn in _HOME_PANELS if (b := fn(user=user)) is not None]
