"""PNG/JPEG previews of a mosaic, one band in grey or three in colour.

A mosaic can be far larger than a screen, and is never whole in memory:
`PreviewCanvas` collects it tile by tile, binned by the smallest whole
factor that fits ``MAX_PREVIEW_SIDE`` (each preview pixel the mean of the
finite mosaic pixels of its block, NaN if none), so a preview costs one
small plane however large the mosaic.

- One band: :func:`render_mosaic_preview` uses the cutout previews' asinh
  stretch (`skycut.cutout.preview`): sky dark with its noise visible,
  sources bright; no-data pixels transparent (PNG) or black (JPEG).
- Three bands: :func:`render_rgb_preview` uses the colour-preserving asinh
  stretch of Lupton et al. (2004, PASP 116, 133) through astropy's
  ``make_lupton_rgb``. Each band's sky level (its median) is set to black;
  ``stretch`` defaults to five times the mean of the bands' noise (median
  absolute deviation), which shows faint sources, and ``Q = 8``.

North is where the grid puts it: pixel (0, 0) at the bottom-left, as in DS9.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from skycut.cutout.geometry import PixelBox
from skycut.cutout.preview import MAX_PREVIEW_SIDE, PNG_COMPRESS_LEVEL, render_preview
from skycut.cutout.selection import JPEG, PNG, ResponseFormat

__all__ = ["PreviewCanvas", "render_mosaic_preview", "render_rgb_preview"]

_Float = npt.NDArray[np.float64]
_MAD_TO_SIGMA = 1.4826
_DEFAULT_Q = 8.0
_STRETCH_SIGMAS = 5.0
_JPEG_QUALITY = 90


@dataclass
class PreviewCanvas:
    """A binned copy of a mosaic, filled tile by tile.

    A canvas may hold only a band of the mosaic's rows (`band`): workers
    that each bin a band of the mosaic send their bands (`to_bytes`) to one
    that adds them up (`merge`).

    Parameters
    ----------
    shape
        The mosaic's ``(ny, nx)``.
    max_side
        The longest side of the preview, in pixels.
    rows
        The mosaic rows ``(y0, y1)`` this canvas holds (all by default).

    """

    shape: tuple[int, int]
    max_side: int = MAX_PREVIEW_SIDE
    rows: tuple[int, int] | None = None
    factor: int = field(init=False)
    _origin: int = field(init=False, repr=False)
    _sum: _Float = field(init=False, repr=False)
    _count: _Float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.factor = max(1, -(-max(self.shape) // self.max_side))
        y0, y1 = self.rows if self.rows is not None else (0, self.shape[0])
        if not 0 <= y0 < y1 <= self.shape[0]:
            raise ValueError(f"rows {y0} to {y1} are not in a mosaic of {self.shape[0]}")
        self._origin = y0 // self.factor
        binned = ((y1 - 1) // self.factor + 1 - self._origin, -(-self.shape[1] // self.factor))
        self._sum = np.zeros(binned)
        self._count = np.zeros(binned)

    def band(self, y0: int, y1: int) -> PreviewCanvas:
        """Return an empty canvas of mosaic rows ``y0`` to ``y1``, binned as this one."""
        return PreviewCanvas(self.shape, self.max_side, (y0, y1))

    def add(self, box: PixelBox, values: _Float) -> None:
        """Add one tile's mosaic values (NaN where none)."""
        finite = np.isfinite(values)
        y, x = np.nonzero(finite)
        # Preview pixels of this tile only: a window of the canvas, filled by bincount.
        by0, bx0 = box.y0 // self.factor, box.x0 // self.factor
        by1, bx1 = (box.y1 - 1) // self.factor + 1, (box.x1 - 1) // self.factor + 1
        width = bx1 - bx0
        index = ((y + box.y0) // self.factor - by0) * width + (x + box.x0) // self.factor - bx0
        size = (by1 - by0) * width
        window = (slice(by0 - self._origin, by1 - self._origin), slice(bx0, bx1))
        self._sum[window] += np.bincount(index, weights=values[finite], minlength=size).reshape(
            by1 - by0, width
        )
        self._count[window] += np.bincount(index, minlength=size).reshape(by1 - by0, width)

    def merge(self, other: PreviewCanvas) -> None:
        """Add a band's canvas of the same mosaic (`band`) into this one.

        Raises
        ------
        ValueError
            If ``other`` bins another mosaic or differently.

        """
        if (other.shape, other.factor) != (self.shape, self.factor):
            raise ValueError(f"a canvas of {other.shape} by {other.factor} is not of this mosaic")
        start = other._origin - self._origin
        window = slice(start, start + other._sum.shape[0])
        self._sum[window] += other._sum
        self._count[window] += other._count

    def to_bytes(self) -> bytes:
        """Return the canvas as ``.npz`` bytes (`from_bytes` reads them).

        Sums as float32 and counts as uint16: 6 bytes a preview pixel, not
        16 (a band's share is then a fraction of the band's own bytes), and
        far more precise than the preview's 256 grey levels.
        """
        out = io.BytesIO()
        y0, y1 = self.rows if self.rows is not None else (0, self.shape[0])
        count = self._count.astype(np.uint16 if self.factor < 256 else np.uint32)
        np.savez(
            out, sum=self._sum.astype(np.float32), count=count, shape=np.array(self.shape),
            max_side=np.array(self.max_side), rows=np.array((y0, y1)),
        )  # fmt: skip
        return out.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> PreviewCanvas:
        """Return the canvas `to_bytes` gave."""
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            ny, nx = (int(n) for n in arrays["shape"])
            y0, y1 = (int(n) for n in arrays["rows"])
            canvas = cls((ny, nx), int(arrays["max_side"]), (y0, y1))
            if arrays["sum"].shape != canvas._sum.shape:
                raise ValueError(f"a canvas of shape {arrays['sum'].shape} for rows {y0} to {y1}")
            canvas._sum = arrays["sum"].astype(np.float64)
            canvas._count = arrays["count"].astype(np.float64)
        return canvas

    def plane(self) -> _Float:
        """Return the binned mosaic: block means, NaN where a block had no value."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self._count > 0, self._sum / self._count, np.nan)


def render_mosaic_preview(
    plane: _Float, *, response_format: ResponseFormat = PNG, text: dict[str, str] | None = None
) -> bytes:
    """Render a (binned) mosaic plane as a grey PNG or JPEG.

    Parameters
    ----------
    plane
        The mosaic, or `PreviewCanvas.plane` of it.
    response_format
        ``image/png`` or ``image/jpeg``.
    text
        Provenance to embed.

    Returns
    -------
    bytes
        The encoded image.

    """
    return render_preview(plane, (0, 1), response_format=response_format, text=text)


def _sky_and_noise(values: _Float) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 0.0
    sky = float(np.median(finite))
    return sky, _MAD_TO_SIGMA * float(np.median(np.abs(finite - sky)))


def render_rgb_preview(
    red: _Float,
    green: _Float,
    blue: _Float,
    *,
    response_format: ResponseFormat = PNG,
    stretch: float | None = None,
    q: float = _DEFAULT_Q,
) -> bytes:
    """Render three bands of the same grid as a colour image (Lupton et al. asinh).

    Parameters
    ----------
    red, green, blue
        The bands' planes, same shape (e.g. i, r, g), NaN where no data.
    response_format
        ``image/png`` (no-data transparent) or ``image/jpeg`` (black).
    stretch
        The linear range of the stretch; by default five times the bands'
        mean noise.
    q
        The asinh softening (Lupton's ``Q``).

    Returns
    -------
    bytes
        The encoded image.

    Raises
    ------
    ValueError
        If the bands differ in shape or the format is not an image one.

    """
    from astropy.visualization import make_lupton_rgb
    from PIL import Image

    if not red.shape == green.shape == blue.shape:
        raise ValueError(f"bands of shapes {red.shape}, {green.shape}, {blue.shape}")
    if response_format not in (PNG, JPEG):
        raise ValueError(f"not a preview format: {response_format}")
    levels = [_sky_and_noise(b) for b in (red, green, blue)]
    if stretch is None:
        noise = float(np.mean([n for _, n in levels]))
        stretch = _STRETCH_SIGMAS * noise if noise > 0 else 1.0
    valid = np.isfinite(red) & np.isfinite(green) & np.isfinite(blue)
    skies = [sky for sky, _ in levels]
    bands = [np.where(valid, b, sky) for b, sky in zip((red, green, blue), skies, strict=True)]
    with np.errstate(invalid="ignore", divide="ignore"):  # 0/0 where all bands are at sky
        rgb = make_lupton_rgb(*bands, minimum=skies, stretch=stretch, Q=q)
    rgb = np.flipud(rgb)  # image formats start at the top row
    out = io.BytesIO()
    if response_format == PNG:
        alpha = np.flipud(np.where(valid, 255, 0).astype(np.uint8))
        Image.fromarray(np.dstack([rgb, alpha])).save(
            out, format="PNG", compress_level=PNG_COMPRESS_LEVEL
        )
    else:
        Image.fromarray(np.where(np.flipud(valid)[..., None], rgb, 0).astype(np.uint8)).save(
            out, format="JPEG", quality=_JPEG_QUALITY
        )
    return out.getvalue()
