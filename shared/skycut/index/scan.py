"""Index one object: read its headers, describe the image SODA would cut from it.

Only headers are read, through the engine's header index
(:func:`skycut.cutout.fitsindex.scan_fits`): one first chunk, which holds
the headers of most files, and one block-aligned read per later header.
The image is the HDU a SODA cutout of the object's ``ID`` cuts
(:func:`skycut.cutout.fitsindex.select_image_hdu`: the one named ``IMAGE``,
else the first 2-D image), so every row the index returns leads to a
cutout of the image it describes.
"""

from __future__ import annotations

from datetime import UTC, datetime

from skycut.cutout.fitsindex import named_image, scan_fits, select_image_hdu
from skycut.cutout.reader import RangeReader
from skycut.cutout.tilelayout import compressed_image_header
from skycut.errors import UnsupportedSourceError
from skycut.index.errors import UnindexableError
from skycut.index.footprint import image_footprint
from skycut.index.metadata import MetadataConfig, image_metadata
from skycut.index.record import ImageRecord, ObjectStamp
from skycut.soda.ids import SourceRef

__all__ = ["index_image"]


def index_image(
    reader: RangeReader,
    *,
    source: SourceRef,
    stamp: ObjectStamp,
    size: int,
    config: MetadataConfig | None = None,
    chunk_size: int = 65536,
) -> ImageRecord:
    """Describe the image of one object version from its headers.

    Parameters
    ----------
    reader
        The object's bytes, pinned to the version ``stamp`` names.
    source, stamp, size
        The object, its version and its size in bytes.
    config
        Filter table and collection rules.
    chunk_size
        Bytes of the first read.

    Returns
    -------
    ImageRecord
        The image's footprint, cells and metadata.

    Raises
    ------
    skycut.index.errors.UnindexableError
        If the object is not FITS, has no 2-D image HDU, or its image has no
        usable celestial WCS; the message says which.
    skycut.errors.SourceChangedError
        If the version was replaced or deleted while it was read.

    """
    try:
        fits_index = scan_fits(reader, stop_after=named_image, chunk_size=chunk_size)
        hdu = select_image_hdu(fits_index)
    except UnsupportedSourceError as e:
        raise UnindexableError(e.message) from e
    header = compressed_image_header(hdu) if hdu.is_compressed else hdu.header
    inherited = [fits_index.hdus[0].header] if hdu.index > 0 else []
    footprint = image_footprint(header, source=source.uri)
    metadata = image_metadata(header, uri=source.uri, inherited=inherited, config=config)
    return ImageRecord(
        source=source,
        stamp=stamp,
        indexed_at=datetime.now(UTC),
        hdu=hdu.index,
        extname=hdu.extname,
        size=size,
        footprint=footprint,
        metadata=metadata,
    )
