"""Preview grey levels are set by the sky: empty sky dark with visible noise, stars bright."""

from __future__ import annotations

import io
import re
from itertools import pairwise

import numpy as np
import pytest
from PIL import Image

from skycut.cutout.preview import render_preview
from skycut.cutout.selection import JPEG, PNG

SKY, NOISE = 1000.0, 10.0
SHAPE = (200, 300)
STAR_AT = (100, 150)


def sky(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(SKY, NOISE, SHAPE)


def with_star(values: np.ndarray, peak: float, sigma_px: float = 3.0) -> np.ndarray:
    y, x = np.mgrid[: SHAPE[0], : SHAPE[1]]
    r2 = (y - STAR_AT[0]) ** 2 + (x - STAR_AT[1]) ** 2
    return values + peak * np.exp(-r2 / (2 * sigma_px**2))


def png(values: np.ndarray) -> tuple[np.ndarray, dict[str, str]]:
    """The grey levels (numpy row order, as stored) and the text of a PNG preview."""
    with Image.open(io.BytesIO(render_preview(values, (0, 1), response_format=PNG))) as image:
        return np.flipud(np.asarray(image)[:, :, 0]).astype(int), dict(image.text)  # type: ignore[attr-defined]


def test_empty_sky_is_dark_and_its_noise_shows() -> None:
    grey, _ = png(sky())
    assert np.median(grey) < 80
    assert grey.std() > 10, "the noise must show as noise, not as a flat grey"
    assert grey.max() < 200, "noise must not reach white"
    assert grey.min() < np.median(grey) - 20, "the dark half of the noise shows too"


@pytest.mark.parametrize("peak", [1e3, 1e4, 1e6])
def test_a_bright_star_reaches_white_with_its_core_not_clipped(peak: float) -> None:
    grey, _ = png(with_star(sky(), peak))
    y, x = STAR_AT
    assert grey[y, x] == 255
    assert (grey == 255).sum() == 1, "only the brightest pixel is white: the core has structure"
    profile = [grey[y, x + r] for r in range(5)]
    assert all(a > b for a, b in pairwise(profile)), profile
    assert np.median(grey) < 80, "the sky stays dark beside a bright star"


def test_the_stretch_is_in_the_image_text_and_gives_the_grey_levels() -> None:
    values = with_star(sky(), 1e4)
    grey, text = png(values)
    numbers = re.fullmatch(
        r"grey = 255 asinh\(\(v - (\S+)\) / (\S+)\) / asinh\(\((\S+) - \S+\) / \S+\), "
        r"v in \[\S+, \S+\]",
        text["SC_STRCH"],
    )
    assert numbers is not None, text["SC_STRCH"]
    black, soft, white = (float(n) for n in numbers.groups())
    assert black < SKY - NOISE < SKY < white
    v = np.clip(values, black, white)
    expected = 255 * np.arcsinh((v - black) / soft) / np.arcsinh((white - black) / soft)
    assert np.abs(grey - expected).max() <= 1.0
    jpeg = render_preview(values, (0, 1), response_format=JPEG, text={"SC_ID": "x"})
    with Image.open(io.BytesIO(jpeg)) as image:
        comment = image.info["comment"].decode()
    assert comment == f"SC_ID: x; SC_STRCH: {text['SC_STRCH']}"


def test_a_flat_image_is_black_and_its_one_source_white() -> None:
    values = np.full(SHAPE, 5.0)
    values[STAR_AT] = 50.0
    grey, _ = png(values)
    assert grey[STAR_AT] == 255
    assert (np.delete(grey.ravel(), np.ravel_multi_index(STAR_AT, SHAPE)) == 0).all()
