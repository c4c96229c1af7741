"""What the mosaic stages hand each other, as bytes and JSON.

Between the fan-out stages a worker stores an input's reprojected plane on
a tile (an object under the job in the results bucket) and the sums of each
overlapping pair on a tile (small enough for a message or a document):

- a `TilePlane` is ``.npz`` bytes of the box of ``data`` and ``footprint``
  that the input covers (an input on a tile's corner costs its corner), as
  float32 by default: half the bytes, and float32's 1e-7 relative precision
  is far below any noise an image has (float64 on request), and a footprint
  of only 0 and 1 (interpolation's) as bytes; not compressed,
  since noise does not compress and zlib would cost more than it saves;
- `OverlapSums` and `Plane` are JSON objects of plain numbers.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from skycut.mosaic.background import OverlapSums, Plane
from skycut.mosaic.reproject_tile import TilePlane

__all__ = [
    "decode_overlaps",
    "decode_plane",
    "decode_tile_plane",
    "encode_overlaps",
    "encode_plane",
    "encode_tile_plane",
]


def encode_tile_plane(
    plane: TilePlane, *, dtype: Literal["float32", "float64"] = "float32"
) -> bytes:
    """Return a tile plane as ``.npz`` bytes: only the box of pixels it covers is stored."""
    rows = np.flatnonzero(plane.footprint.any(axis=1))
    cols = np.flatnonzero(plane.footprint.any(axis=0))
    y0, y1 = (int(rows[0]), int(rows[-1]) + 1) if rows.size else (0, 0)
    x0, x1 = (int(cols[0]), int(cols[-1]) + 1) if cols.size else (0, 0)
    out = io.BytesIO()
    np.savez(
        out,
        shape=np.array(plane.data.shape),
        origin=np.array([y0, x0]),
        data=plane.data[y0:y1, x0:x1].astype(dtype),
        footprint=_footprint(plane.footprint[y0:y1, x0:x1], dtype),
    )
    return out.getvalue()


def _footprint(values: npt.NDArray[np.float64], dtype: str) -> npt.NDArray[np.generic]:
    """Interpolation footprints are 0 or 1: a byte each is enough."""
    if np.isin(values, (0.0, 1.0)).all():
        return values.astype(np.uint8)
    return values.astype(dtype)


def decode_tile_plane(blob: bytes) -> TilePlane:
    """Return the tile plane that `encode_tile_plane` encoded, as float64."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as arrays:
        ny, nx = (int(v) for v in arrays["shape"])
        y0, x0 = (int(v) for v in arrays["origin"])
        part, weight = arrays["data"], arrays["footprint"]
    data, footprint = np.full((ny, nx), np.nan), np.zeros((ny, nx))
    data[y0 : y0 + part.shape[0], x0 : x0 + part.shape[1]] = part
    footprint[y0 : y0 + part.shape[0], x0 : x0 + part.shape[1]] = weight
    return TilePlane(data=data, footprint=footprint)


def encode_overlaps(overlaps: Mapping[tuple[str, str], OverlapSums]) -> list[dict[str, Any]]:
    """Return one tile's pair sums as a JSON-ready list."""
    return [
        {
            "first": first,
            "second": second,
            "moments": list(sums.moments),
            "rhs": list(sums.rhs),
            "pixels": sums.pixels,
            "grid_shape": list(sums.grid_shape),
        }
        for (first, second), sums in sorted(overlaps.items())
    ]


def decode_overlaps(items: list[dict[str, Any]]) -> dict[tuple[str, str], OverlapSums]:
    """Return the pair sums that `encode_overlaps` encoded."""
    return {
        (str(item["first"]), str(item["second"])): OverlapSums(
            moments=tuple(float(v) for v in item["moments"]),
            rhs=tuple(float(v) for v in item["rhs"]),
            pixels=int(item["pixels"]),
            grid_shape=(int(item["grid_shape"][0]), int(item["grid_shape"][1])),
        )
        for item in items
    }


def encode_plane(plane: Plane) -> dict[str, float]:
    """Return a background plane as JSON-ready numbers."""
    return {"a": plane.a, "b": plane.b, "c": plane.c}


def decode_plane(item: Mapping[str, Any]) -> Plane:
    """Return the background plane that `encode_plane` encoded."""
    return Plane(a=float(item["a"]), b=float(item["b"]), c=float(item["c"]))
