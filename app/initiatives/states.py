"""The life cycle of an initiative (SPEC §2)."""

from __future__ import annotations

from app.models import InitiativeStatus as S

TRANSITIONS: dict[S, frozenset[S]] = {
    S.draft: frozenset({S.submitted, S.withdrawn}),
    S.submitted: frozenset({S.changes_requested, S.published, S.rejected, S.withdrawn}),
    S.changes_requested: frozenset({S.submitted, S.withdrawn}),
    S.published: frozenset({S.funded, S.expired, S.cancelled, S.withdrawn}),
    S.funded: frozenset({S.completed}),
    S.completed: frozenset(),
    S.rejected: frozenset(),
    S.withdrawn: frozenset(),
    S.expired: frozenset(),
    S.cancelled: frozenset(),
}

PUBLIC = frozenset({S.published, S.funded, S.completed})
"""Statuses the public (API, pages) can see."""

ENDS_UNFUNDED = frozenset({S.expired, S.cancelled, S.withdrawn})
"""Statuses in which every pledged euro goes back."""


def can_move(current: str, target: str) -> bool:
    return S(target) in TRANSITIONS[S(current)]
