"""The CIRCLE value type."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from skycut.cutout.stencil import Circle
from skycut.errors import UsageError


@pytest.mark.parametrize(
    ("circle", "text"),
    [
        (Circle(150.1, 2.2, 0.01), "CIRCLE 150.1 2.2 0.01"),
        (Circle(0, -90, 180), "CIRCLE 0.0 -90.0 180.0"),
        (Circle(np.float64(1) / 3, 0.0, 1e-6), "CIRCLE 0.3333333333333333 0.0 1e-06"),
    ],
)
def test_to_soda_round_trips(circle: Circle, text: str) -> None:
    assert circle.to_soda() == text
    shape, *values = text.split()
    assert shape == "CIRCLE"
    assert Circle(*map(float, values)) == circle


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ((10.0, 91.0, 1.0), "declination"),
        ((10.0, 0.0, 0.0), "radius"),
        ((10.0, 0.0, 181.0), "radius"),
        ((math.nan, 0.0, 1.0), "finite"),
        ((10.0, 0.0, math.inf), "finite"),
    ],
)
def test_out_of_range_values_are_refused(values: tuple[float, float, float], match: str) -> None:
    with pytest.raises(UsageError, match=match):
        Circle(*values)


def test_is_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Circle(1.0, 2.0, 3.0).ra = 4.0  # type: ignore[misc]
