"""Writing the FITS files of the sample survey, plain or as RICE_1 tile-compressed copies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from astropy.io import fits
from numpy.typing import NDArray

from skycut.sample.atomic import atomic_path

__all__ = ["rice_compressed", "write_fits"]

_TILE = 256


def write_fits(path: Path, primary: fits.PrimaryHDU, extensions: list[Any]) -> None:
    """Write ``primary`` and ``extensions`` to ``path``, replacing it all at once."""
    with atomic_path(path) as tmp:
        fits.HDUList([primary, *extensions]).writeto(tmp, overwrite=True)


def rice_compressed(
    data: NDArray[Any], header: fits.Header, name: str, *, dither_seed: int
) -> fits.CompImageHDU:
    """Tile-compress one plane with RICE_1; floats are quantised, integers lossless.

    Parameters
    ----------
    data
        The plane.
    header
        Its header.
    name
        Its ``EXTNAME``.
    dither_seed
        Seed of the quantisation dither (1 to 10000).

    """
    return fits.CompImageHDU(
        data,
        header=header,
        name=name,
        compression_type="RICE_1",
        tile_shape=(min(_TILE, data.shape[0]), min(_TILE, data.shape[1])),
        quantize_level=16.0,  # step = 1/16 of the tile's background noise
        quantize_method=2,  # SUBTRACTIVE_DITHER_2: zeros stay exact
        dither_seed=dither_seed,  # fixed, not the clock, so the file is reproducible
    )
