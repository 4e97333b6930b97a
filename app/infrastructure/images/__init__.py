"""Embedded image storage: the local disk, signed URLs served by the app, the staging sweep."""

from app.infrastructure.images.local import LocalImageStorage
from app.infrastructure.images.signing import ImageUrlSigner
from app.infrastructure.images.sweep import run_sweeper, sweep_staging

__all__ = ["ImageUrlSigner", "LocalImageStorage", "run_sweeper", "sweep_staging"]
