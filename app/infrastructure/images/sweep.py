"""Expiry of staged images on the local disk, the stand-in for the S3 lifecycle rule."""

from __future__ import annotations

import asyncio
import logging
import os
from contextlib import suppress
from datetime import datetime, timedelta
from pathlib import Path

from app.application.image_keys import STAGING_PREFIX
from app.application.ports.system import Clock

log = logging.getLogger(__name__)


def sweep_staging(root: Path, older_than: timedelta, now: datetime) -> int:
    """Delete the staged files under `root` last modified before `now - older_than` and the
    folders left empty; returns how many files were deleted. Permanent images are never visited."""
    if older_than <= timedelta(0):
        raise ValueError("staged images must be kept for a positive time")
    staging = root / STAGING_PREFIX.rstrip("/")
    cutoff = (now - older_than).timestamp()
    removed = 0
    for folder, _, names in os.walk(staging, topdown=False):
        for name in names:
            path = Path(folder, name)
            try:
                if path.lstat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
            except OSError:
                log.warning("could not sweep the staged file %s", path, exc_info=True)
        if Path(folder) != staging:
            with suppress(OSError):  # not empty, or already gone
                os.rmdir(folder)
    return removed


async def run_sweeper(
    storage_root: Path, older_than: timedelta, clock: Clock, interval: timedelta
) -> None:
    """Sweep now and then every `interval` until cancelled."""
    if interval <= timedelta(0) or older_than <= timedelta(0):
        raise ValueError("the sweep interval and the staging lifetime must be positive")
    while True:
        try:
            removed = await asyncio.to_thread(sweep_staging, storage_root, older_than, clock.now())
        except Exception:
            log.exception("the staged image sweep failed; trying again in %s", interval)
        else:
            log.info("the staged image sweep removed %d file(s)", removed)
        await asyncio.sleep(interval.total_seconds())
