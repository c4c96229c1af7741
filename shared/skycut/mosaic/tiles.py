"""Cutting the output grid into tiles, and which inputs touch which tile.

A tile is the unit of work after planning: every (input, tile) pair that
overlaps is one reprojection, every tile one coaddition. Tiles are
``size`` x ``size`` pixels from the grid's pixel (0, 0), the last row and
column cut short by the grid's edge; each has its own WCS, the grid's with
``CRPIX`` shifted, so pixel (0, 0) of a tile is pixel ``(x0, y0)`` of the
grid and whatever is computed on a tile drops into the mosaic unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from astropy.wcs import WCS

from skycut.cutout.geometry import PixelBox
from skycut.errors import UsageError
from skycut.mosaic.grid import OutputGrid
from skycut.mosaic.sampling import border_points, pixel_scale, transfer

__all__ = ["DEFAULT_TILE_SIZE", "Tile", "Tiling"]

DEFAULT_TILE_SIZE = 2048
"""Tile side in pixels: a 2048² float64 plane is 32 MiB, a few of them fit a small worker."""

_MARGIN = 1.0  # output pixels: more than the border samples' spacing, so none slips between


@dataclass(frozen=True)
class Tile:
    """One tile of the output grid.

    Attributes
    ----------
    row, col
        The tile's position in the tiling, from the grid's bottom-left.
    box
        Its pixels in the grid, ``grid_values[box.slices]``.
    wcs
        Its WCS: the grid's, with pixel (0, 0) at ``(box.x0, box.y0)``.

    """

    row: int
    col: int
    box: PixelBox
    wcs: WCS = field(compare=False, repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        """``(ny, nx)`` of the tile."""
        return self.box.shape

    @property
    def key(self) -> str:
        """A name for the tile in object names and messages, ``r<row>c<col>``."""
        return f"r{self.row}c{self.col}"


@dataclass(frozen=True)
class Tiling:
    """An output grid cut into square tiles.

    Parameters
    ----------
    grid
        The output grid.
    size
        Tile side in pixels.

    Raises
    ------
    skycut.errors.UsageError
        If ``size`` is not a positive integer.

    """

    grid: OutputGrid
    size: int = DEFAULT_TILE_SIZE

    def __post_init__(self) -> None:
        if self.size < 1:
            raise UsageError(f"the tile size must be a positive number of pixels, not {self.size}")

    @property
    def rows(self) -> int:
        """Tiles along y."""
        return -(-self.grid.shape[0] // self.size)

    @property
    def cols(self) -> int:
        """Tiles along x."""
        return -(-self.grid.shape[1] // self.size)

    def __len__(self) -> int:
        return self.rows * self.cols

    def tile(self, row: int, col: int) -> Tile:
        """Return the tile at ``(row, col)``."""
        if not (0 <= row < self.rows and 0 <= col < self.cols):
            raise IndexError(f"no tile ({row}, {col}) in a {self.rows}x{self.cols} tiling")
        ny, nx = self.grid.shape
        box = PixelBox(
            x0=col * self.size,
            x1=min((col + 1) * self.size, nx),
            y0=row * self.size,
            y1=min((row + 1) * self.size, ny),
        )
        return Tile(row=row, col=col, box=box, wcs=self.grid.wcs.slice(box.slices))

    def __iter__(self) -> Iterator[Tile]:
        """Tiles row by row, from the bottom (the order the FITS file stores them)."""
        for row in range(self.rows):
            for col in range(self.cols):
                yield self.tile(row, col)

    def touched_by(self, wcs: WCS, shape: tuple[int, int]) -> list[Tile]:
        """Return the tiles an input image lands on, row by row.

        A tile counts if the input's pixels land on it or within a pixel of
        its edge: a cheap and safe first cut (no tile that needs the input
        is left out). `skycut.mosaic.reproject_tile.input_box` then gives
        the pixels each tile needs, or None for a tile the input only grazes.

        Parameters
        ----------
        wcs
            The input's 2-D celestial WCS.
        shape
            The input's ``(ny, nx)``.

        Returns
        -------
        list of Tile
            Possibly empty.

        """
        rows, cols = self.rows, self.cols
        ny, nx = self.grid.shape
        hit = np.zeros((rows, cols), dtype=bool)
        # The input's border, under half an output pixel apart, on the grid.
        step = 0.5 * min(1.0, pixel_scale(self.grid.wcs) / pixel_scale(wcs))
        x, y = transfer(wcs, self.grid.wcs, *border_points(shape, step))
        ok = np.isfinite(x) & np.isfinite(y)
        x, y = x[ok] + 0.5, y[ok] + 0.5  # from the grid's outer corner
        for dx in (-_MARGIN, _MARGIN):
            for dy in (-_MARGIN, _MARGIN):
                col = np.floor((x + dx) / self.size).astype(np.int64)
                row = np.floor((y + dy) / self.size).astype(np.int64)
                inside = (col >= 0) & (col < cols) & (row >= 0) & (row < rows)
                inside &= (x + dx <= nx) & (y + dy <= ny)
                hit[row[inside], col[inside]] = True
        # A tile wholly inside the input has no border point: its centre is on the input.
        centre_y, centre_x = np.meshgrid(
            [(self.tile(r, 0).box.y0 + self.tile(r, 0).box.y1 - 1) / 2 for r in range(rows)],
            [(self.tile(0, c).box.x0 + self.tile(0, c).box.x1 - 1) / 2 for c in range(cols)],
            indexing="ij",
        )
        ix, iy = transfer(self.grid.wcs, wcs, centre_x.ravel(), centre_y.ravel())
        with np.errstate(invalid="ignore"):
            on = (ix >= -0.5) & (ix <= shape[1] - 0.5) & (iy >= -0.5) & (iy <= shape[0] - 0.5)
        hit |= on.reshape(rows, cols)
        return [self.tile(int(r), int(c)) for r, c in zip(*np.nonzero(hit), strict=True)]
