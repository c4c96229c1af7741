"""Blanking the pixels of a cutout whose centres lie outside its stencil.

The box of a circle or polygon holds pixels outside it; with masking on,
those pixels say so, in the way each kind of plane can:

- floating-point planes (image, variance): NaN;
- integer mask planes (``EXTNAME`` or ``EXTTYPE`` ``MASK``, or any ``MP_*``
  mask-plane card, as LSST writes them): the ``NO_DATA`` bit is set, the
  bit the header's ``MP_NO_DATA`` card names; if it names none, the lowest
  bit neither declared by another ``MP_*`` card nor set in the cut is
  chosen and declared as ``MP_NO_DATA``;
- other integer planes: the header's ``BLANK`` value, or if there is none,
  the lowest value the stored type holds, declared as ``BLANK``.

Works on stored (unscaled) values and is vectorised: one boolean plane,
broadcast over any spectral, time or Stokes axes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from astropy.io import fits

from skycut.errors import UnsupportedSourceError

__all__ = ["NO_DATA_CARD", "is_mask_plane", "mask_outside"]

NO_DATA_CARD = "MP_NO_DATA"
"""The card naming the bit set on mask-plane pixels outside the stencil."""


def is_mask_plane(header: fits.Header) -> bool:
    """Whether an integer image HDU is a bit mask (by name or by ``MP_*`` cards)."""
    names = {str(header.get(k, "")).strip().upper() for k in ("EXTNAME", "EXTTYPE")}
    return "MASK" in names or any(str(k).startswith("MP_") for k in header)


def _mask_bit(array: npt.NDArray[Any], header: fits.Header) -> int:
    declared = header.get(NO_DATA_CARD)
    if isinstance(declared, int) and not isinstance(declared, bool):
        return declared
    used = {v for k, v in header.items() if str(k).startswith("MP_") and isinstance(v, int)}
    set_bits = int(np.bitwise_or.reduce(array.ravel().astype(np.uint64), initial=0))
    for bit in range(array.dtype.itemsize * 8 - 1):  # the sign bit is no mask bit
        if bit not in used and not set_bits >> bit & 1:
            header[f"HIERARCH {NO_DATA_CARD}"] = (bit, "skycut: outside the stencil")
            return bit
    raise UnsupportedSourceError("the mask plane has no free bit to mark pixels outside")


def mask_outside(
    array: npt.NDArray[Any],
    header: fits.Header,
    inside: npt.NDArray[np.bool_],
    celestial: tuple[int, int],
) -> npt.NDArray[Any]:
    """Blank the pixels of a cut whose centres are outside the stencil.

    Parameters
    ----------
    array
        The cut's stored values; not changed.
    header
        The cut's header; a ``BLANK`` or ``MP_NO_DATA`` card is added if
        the blanking needs one.
    inside
        Which pixel centres of the celestial plane are inside, shape ``(ny, nx)``.
    celestial
        The numpy axes ``(y, x)`` of that plane in ``array``.

    Returns
    -------
    numpy.ndarray
        A copy of ``array`` with the outside pixels blanked.

    Raises
    ------
    skycut.errors.UnsupportedSourceError
        If a mask plane has no free bit, or is scaled in a way bits do not survive.

    """
    shape = [1] * array.ndim
    shape[celestial[0]], shape[celestial[1]] = inside.shape
    outside = np.broadcast_to(~inside.reshape(shape), array.shape)
    out = array.copy()
    if out.dtype.kind == "f":
        out[outside] = np.nan
        return out
    if is_mask_plane(header):
        bits = out.dtype.itemsize * 8
        bzero = header.get("BZERO", 0)
        # BZERO = 2**(bits - 1) (unsigned data) flips only the sign bit, which
        # no mask bit uses, so bits set in the stored value are the same bits.
        if header.get("BSCALE", 1) != 1 or bzero not in (0, 2 ** (bits - 1)):
            raise UnsupportedSourceError("a scaled mask plane cannot take a mask bit")
        bit = _mask_bit(out, header)
        out[outside] |= np.array(1 << bit).astype(out.dtype)
        return out
    blank = header.get("BLANK")
    if not isinstance(blank, int) or isinstance(blank, bool):
        blank = int(np.iinfo(out.dtype).min)
        header["BLANK"] = (blank, "skycut: outside the stencil, or undefined")
    out[outside] = blank
    return out
