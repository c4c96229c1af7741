"""A mosaic's inputs, opened for range reads: their headers, then only the boxes planned.

Each input is read through the cutout engine: the headers by
`skycut.cutout.fitsindex.scan_fits` (one first chunk, kept per object
version), the image HDU as the cutout engine chooses it (the index's HDU
for an indexed image, else ``IMAGE`` or the first 2-D image), and then, for
every reprojection task, only the rows of the task's box by
`skycut.cutout.pixels.read_pixels` (coalesced range requests, tile-compressed
images tile by tile). No input is ever read whole.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from skycut.cutout.fitsindex import HduInfo, named_image, scan_fits, select_image_hdu
from skycut.cutout.geometry import PixelBox
from skycut.cutout.pixels import image_shape, output_image_header, read_pixels
from skycut.cutout.preview import physical_values
from skycut.cutout.reader import RangeReader
from skycut.cutout.readplan import ReadCost
from skycut.errors import UnsupportedSourceError
from skycut.mosaic.plan import InputImage
from skycut.soda.ids import SourceRef

__all__ = ["OpenedInput", "SourceReader", "open_inputs"]

_HEADER_READS = 8  # inputs whose headers are read at once


class SourceReader(RangeReader, Protocol):
    """A range reader pinned to one object version (`skycut.storage.gcs.GcsRangeReader`)."""

    @property
    def generation(self) -> int | None:
        """The generation read, once a read has named it."""
        ...


@dataclass(frozen=True)
class OpenedInput:
    """One input, its header read, ready for box reads.

    Attributes
    ----------
    image
        What the planner needs: ID, celestial WCS, shape.
    reader
        The object's bytes.
    hdu
        The image HDU read.
    header
        The HDU's header as an uncompressed image carries it (BSCALE/BZERO
        apply to what `read_pixels` returns).

    """

    image: InputImage
    reader: SourceReader = field(repr=False)
    hdu: HduInfo = field(repr=False)
    header: fits.Header = field(repr=False)

    @property
    def generation(self) -> int | None:
        """The object generation read."""
        return self.reader.generation

    def read(self, box: PixelBox, *, cost: ReadCost) -> npt.NDArray[np.float64]:
        """Return the physical values of ``box`` (NaN for ``BLANK``), reading only its rows."""
        stored = read_pixels(self.reader, self.hdu, box.slices, cost=cost)
        return physical_values(stored, self.header)


def open_inputs(
    sources: Sequence[tuple[SourceRef, int | None]],
    *,
    open_source: Callable[[SourceRef], SourceReader],
    header_chunk_bytes: int,
) -> list[OpenedInput]:
    """Read the headers of the inputs, several at once.

    Parameters
    ----------
    sources
        Each input's object and, for an indexed image, its image HDU's number.
    open_source
        Opens a range reader of an object's live version.
    header_chunk_bytes
        The first read of each file.

    Returns
    -------
    list of OpenedInput
        In the order given.

    Raises
    ------
    skycut.errors.UsageError
        If a source does not exist or is not readable.
    skycut.errors.UnsupportedSourceError
        If it has no 2-D image HDU with a celestial WCS.

    """

    def one(item: tuple[SourceRef, int | None]) -> OpenedInput:
        source, hdu_number = item
        reader = open_source(source)
        index = scan_fits(reader, stop_after=named_image, chunk_size=header_chunk_bytes)
        hdu = next((h for h in index.hdus if h.index == hdu_number), None)
        if hdu is None:
            hdu = select_image_hdu(index)
        header = output_image_header(hdu)
        shape = image_shape(hdu)
        if len(shape) != 2:
            raise UnsupportedSourceError(
                f"{source.uri}: HDU {hdu.name} has {len(shape)} axes; a mosaic input must be 2-D"
            )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FITSFixedWarning)
                wcs = WCS(header, naxis=2)
        except Exception as e:  # astropy raises many kinds for a broken WCS
            raise UnsupportedSourceError(f"{source.uri}: unusable WCS: {e}") from e
        if not wcs.has_celestial or wcs.wcs.lng != 0:
            raise UnsupportedSourceError(
                f"{source.uri}: HDU {hdu.name} has no celestial WCS (longitude first)"
            )
        return OpenedInput(InputImage(source.uri, wcs, (shape[0], shape[1])), reader, hdu, header)

    with ThreadPoolExecutor(max_workers=min(_HEADER_READS, max(1, len(sources)))) as pool:
        return list(pool.map(one, sources))
