"""The error raised for an image the footprint index cannot describe."""

from __future__ import annotations

from skycut.errors import UsageError

__all__ = ["UnindexableError"]


class UnindexableError(UsageError):
    """The header has no usable celestial WCS, so the image has no outline on the sky."""
