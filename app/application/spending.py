"""Counting what a generation spent, once it is stored."""

from __future__ import annotations

import logging

from app.application.errors import DependencyUnavailable
from app.application.ports import GenerationCost, GenerationLimits
from app.domain.values import UserId

log = logging.getLogger(__name__)


async def count_spent(limits: GenerationLimits, user_id: UserId, cost: GenerationCost) -> None:
    """The page is stored already: a counter that cannot be written must not fail it."""
    try:
        await limits.record(user_id, cost)
    except DependencyUnavailable as error:
        log.warning("could not count a generation against the limits: %s", error)
