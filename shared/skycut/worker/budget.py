"""How many pixels the cutouts of one worker process hold at once.

A worker runs many cutouts at once, since each mostly waits on storage round
trips; what bounds how many is memory, which a cutout needs in proportion
to its pixels. Each cut holds pixels from one process-wide
:class:`PixelBudget` while it reads and writes them, so dozens of stamps
run together while two of the largest cutouts allowed do not, whichever
messages they come from.

A cut whose planning may itself read pixels (a ``DETAIL`` cut reading its
planes on a guess) first holds the most planning can read, then changes its
hold to what the plan says (:meth:`Hold.resize`). A hold never waits while
it holds anything, so holders cannot wait on each other.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["Hold", "PixelBudget"]


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
    def capacity(self) -> int:
        """Pixels all running cutouts may hold together."""
        return self._capacity

    @property
    def free(self) -> int:
        """Pixels no running cutout holds."""
        with self._changed:
            return self._free

    @contextmanager
    def held(self, pixels: int) -> Iterator[Hold]:
        """Hold ``pixels`` of the budget for the block, waiting until they are free."""
        hold = Hold(self)
        hold.resize(pixels)
        try:
            yield hold
        finally:
            hold.resize(0)

    def _take(self, pixels: int) -> int:
        wanted = max(0, min(pixels, self._capacity))
        with self._changed:
            self._changed.wait_for(lambda: self._free >= wanted)
            self._free -= wanted
        return wanted

    def _give(self, pixels: int) -> None:
        if pixels:
            with self._changed:
                self._free += pixels
                self._changed.notify_all()


class Hold:
    """Pixels one cut holds from a `PixelBudget` (see `PixelBudget.held`)."""

    def __init__(self, budget: PixelBudget) -> None:
        self._budget = budget
        self._pixels = 0

    @property
    def pixels(self) -> int:
        """Pixels held now (at most the budget's capacity)."""
        return self._pixels

    def resize(self, pixels: int) -> None:
        """Hold ``pixels`` instead: fewer at once; more by letting go and waiting for all.

        Waiting for more while holding some could leave two cuts each waiting
        for what the other holds; letting go first cannot.
        """
        wanted = max(0, min(pixels, self._budget.capacity))
        if wanted <= self._pixels:
            self._budget._give(self._pixels - wanted)
            self._pixels = wanted
            return
        self._budget._give(self._pixels)
        self._pixels = 0
        self._pixels = self._budget._take(wanted)
