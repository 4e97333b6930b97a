"""Taking a generation from the limits, and giving back what produced nothing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from app.application.errors import DependencyUnavailable
from app.application.ports import GenerationCost, GenerationLimits
from app.domain.values import UserId

log = logging.getLogger(__name__)


async def give_back(limits: GenerationLimits, user_id: UserId, cost: GenerationCost) -> None:
    """What is given back failed already: a counter that cannot be reached must not add to it
    (the generation stays counted, in the service's favour)."""
    try:
        await limits.give_back(user_id, cost)
    except DependencyUnavailable as error:
        log.warning("could not give a generation back to the limits: %s", error)


@asynccontextmanager
async def taken(
    limits: GenerationLimits, user_id: UserId, cost: GenerationCost
) -> AsyncIterator[None]:
    """Take `cost` from the limits for what runs inside (which pays for nothing yet: checks and
    the claim), and give it back if that fails."""
    await limits.take(user_id, cost)
    try:
        yield
    except BaseException:
        await asyncio.shield(give_back(limits, user_id, cost))
        raise
