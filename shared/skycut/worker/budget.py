"""How many pixels the cutouts of one worker process hold at once.

A worker runs many cutouts at once, since each mostly waits on storage round
trips; what bounds how many is memory, which a cutout needs in proportion
to its pixels. Each cut holds its planned pixels from one process-wide
:class:`PixelBudget` while it reads and writes them, so dozens of stamps
run together while two of the largest cutouts allowed do not, whichever
messages they come from.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["PixelBudget"]


class PixelBudget:
    """Pixels shared by the cutouts running in one process.

    Parameters
    ----------
    capacity
        Pixels all running cutouts may hold together. A cutout larger than
        the whole budget runs alone (it holds all of it).

    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"a pixel budget must hold at least one pixel, not {capacity}")
        self._capacity = capacity
        self._free = capacity
        self._changed = threading.Condition()

    @property
    def free(self) -> int:
        """Pixels no running cutout holds."""
        with self._changed:
            return self._free

    @contextmanager
    def held(self, pixels: int) -> Iterator[None]:
        """Hold ``pixels`` of the budget for the block, waiting until they are free."""
        wanted = max(0, min(pixels, self._capacity))
        with self._changed:
            self._changed.wait_for(lambda: self._free >= wanted)
            self._free -= wanted
        try:
            yield
        finally:
            with self._changed:
                self._free += wanted
                self._changed.notify_all()
