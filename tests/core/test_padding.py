"""Padding modes, drawn as in the module docstring: ``a b c d`` padded by two on each side."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convcli import ShapeError
from convcli.core.padding import fill_padded_rows, pad_image
from convcli.core.params import PadMode

ROW = np.array([[1, 2, 3, 4]])  # a b c d


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("zeros", [0, 0, 1, 2, 3, 4, 0, 0]),
        ("reflect", [3, 2, 1, 2, 3, 4, 3, 2]),
        ("replicate", [1, 1, 1, 2, 3, 4, 4, 4]),
        ("circular", [3, 4, 1, 2, 3, 4, 1, 2]),
    ],
)
def test_modes_as_drawn(mode: PadMode, expected: list[int]) -> None:
    assert pad_image(ROW, ((0, 0), (2, 2)), mode).tolist() == [expected]


def test_rows_and_columns_pad_independently_and_channels_not_at_all() -> None:
    image = np.arange(12).reshape(2, 2, 3)
    padded = pad_image(image, ((1, 0), (0, 2)), "replicate")
    assert padded.shape == (3, 4, 3)
    assert np.array_equal(padded[0], padded[1])
    assert np.array_equal(padded[:, 3], padded[:, 1])


def test_reflect_limit_is_pytorchs() -> None:
    assert pad_image(ROW, ((0, 0), (3, 3)), "reflect").tolist() == [[4, 3, 2, 1, 2, 3, 4, 3, 2, 1]]
    with pytest.raises(
        ShapeError, match=r"^reflect padding of 4 columns needs an image of more than 4 columns,"
    ):
        pad_image(ROW, ((0, 0), (0, 4)), "reflect")
    with pytest.raises(ShapeError, match=r"^reflect padding of 1 row needs an image of more than"):
        pad_image(ROW, ((1, 0), (0, 0)), "reflect")


def test_circular_limit_is_pytorchs() -> None:
    assert pad_image(ROW, ((0, 0), (4, 0)), "circular").tolist() == [[1, 2, 3, 4, 1, 2, 3, 4]]
    with pytest.raises(
        ShapeError, match=r"^circular padding of 2 rows needs an image of at least 2 rows, this one"
    ):
        pad_image(ROW, ((2, 0), (0, 0)), "circular")


def test_zeros_and_replicate_have_no_limit() -> None:
    assert pad_image(ROW, ((0, 0), (5, 0)), "replicate").tolist() == [[1] * 6 + [2, 3, 4]]
    assert pad_image(ROW, ((3, 0), (0, 0)), "zeros").shape == (4, 4)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 7),
    st.integers(1, 7),
    st.sampled_from(["zeros", "reflect", "replicate", "circular"]),
    st.data(),
)
def test_padded_rows_are_the_rows_of_the_padded_image(
    height: int, width: int, mode: PadMode, data: st.DataObject
) -> None:
    def pads(side: int) -> tuple[int, int]:
        """Up to 7 on each side, within the mode's limits (the tests above check those)."""
        most = min(7, {"reflect": side - 1, "circular": side}.get(mode, 7))
        return data.draw(st.integers(0, most)), data.draw(st.integers(0, most))

    widths = (pads(height), pads(width))
    image = np.arange(height * width * 2).reshape(height, width, 2)
    whole = pad_image(image, widths, mode)
    first = data.draw(st.integers(0, whole.shape[0] - 1))
    count = data.draw(st.integers(1, whole.shape[0] - first))
    rows = np.full((count, whole.shape[1], 2), -1)
    fill_padded_rows(image, widths, mode, first, rows)
    assert np.array_equal(rows, whole[first : first + count])
