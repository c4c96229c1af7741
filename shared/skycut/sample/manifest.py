"""What a sample survey directory holds, recorded in ``manifest.json`` so it is generated once.

The manifest records the generator version, the seed, the size scale and
every file's size; a directory whose manifest matches and whose files have
those sizes is reused as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from skycut.sample.atomic import atomic_path

__all__ = ["GENERATOR_VERSION", "SampleImage", "SurveyManifest", "read_manifest", "write_manifest"]

#: Bump when the generated files change, so cached surveys are regenerated.
GENERATOR_VERSION = "3"

_MANIFEST = "manifest.json"


@dataclass(frozen=True)
class SampleImage:
    """One FITS file of the sample survey.

    Attributes
    ----------
    name
        File name inside the survey directory, e.g. ``calexp-r-0001.fits``.
    path
        Where the file is.
    shape
        ``(ny, nx)`` of every image plane.
    crval
        ``(ra, dec)`` of the WCS reference point in degrees.
    compressed
        Whether the planes are tile-compressed (``CompImageHDU``).

    """

    name: str
    path: Path
    shape: tuple[int, int]
    crval: tuple[float, float]
    compressed: bool


@dataclass(frozen=True)
class SurveyManifest:
    """What :func:`skycut.sample.survey.generate_survey` wrote.

    Attributes
    ----------
    images
        Every image file, in a fixed order.
    catalogue
        The star catalogue (CSV with ``id,ra,dec,mag``).
    variables
        The light curves of the variable stars among them
        (:mod:`skycut.sample.variables`).
    seed
        The seed the survey was generated from.
    size_scale
        Image size relative to the full-size survey.

    """

    images: tuple[SampleImage, ...]
    catalogue: Path
    variables: Path
    seed: int
    size_scale: float

    def image(self, name: str) -> SampleImage:
        """Return the image called ``name``.

        Raises
        ------
        KeyError
            There is no such image.

        """
        for image in self.images:
            if image.name == name:
                return image
        raise KeyError(name)


def write_manifest(out_dir: Path, manifest: SurveyManifest) -> None:
    """Write ``manifest.json`` into ``out_dir``; call it once every other file is in place."""
    text = json.dumps(_manifest_json(manifest), indent=2, sort_keys=True) + "\n"
    with atomic_path(out_dir / _MANIFEST) as tmp:
        tmp.write_text(text)


def read_manifest(out_dir: Path, *, seed: int, size_scale: float) -> SurveyManifest | None:
    """Return the manifest in ``out_dir`` if it describes this survey and its files exist."""
    try:
        doc = json.loads((out_dir / _MANIFEST).read_text())
        if (doc["generator_version"], doc["seed"], doc["size_scale"]) != (
            GENERATOR_VERSION,
            seed,
            size_scale,
        ):
            return None
        files = [doc["catalogue"], doc["variables"], *doc["images"]]
        if any((out_dir / f["name"]).stat().st_size != f["bytes"] for f in files):
            return None
        images = tuple(
            SampleImage(
                i["name"],
                out_dir / i["name"],
                tuple(i["shape"]),
                tuple(i["crval"]),
                i["compressed"],
            )
            for i in doc["images"]
        )
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return None
    return SurveyManifest(
        images,
        out_dir / doc["catalogue"]["name"],
        out_dir / doc["variables"]["name"],
        seed,
        size_scale,
    )


def _manifest_json(manifest: SurveyManifest) -> dict[str, Any]:
    return {
        "generator_version": GENERATOR_VERSION,
        "seed": manifest.seed,
        "size_scale": manifest.size_scale,
        "catalogue": _file_json(manifest.catalogue),
        "variables": _file_json(manifest.variables),
        "images": [
            {
                "name": i.name,
                "shape": list(i.shape),
                "crval": list(i.crval),
                "compressed": i.compressed,
                "bytes": i.path.stat().st_size,
            }
            for i in manifest.images
        ],
    }


def _file_json(path: Path) -> dict[str, Any]:
    return {"name": path.name, "bytes": path.stat().st_size}
