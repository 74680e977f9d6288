"""Padding modes, drawn as in the module docstring: ``a b c d`` padded by two on each side."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convcli import ShapeError
from convcli.core.padding import fill_padded_rows, pad_image
from convcli.core.params import PAD_MODES, Border, PadMode
from tests.reference import NUMPY_MODES

ROW = np.array([[1, 2, 3, 4]])  # a b c d


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("zeros", [0, 0, 1, 2, 3, 4, 0, 0]),
        ("reflect", [3, 2, 1, 2, 3, 4, 3, 2]),
        ("replicate", [1, 1, 1, 2, 3, 4, 4, 4]),
        ("circular", [3, 4, 1, 2, 3, 4, 1, 2]),
        ("symmetric", [2, 1, 1, 2, 3, 4, 4, 3]),
        ("constant", [9, 9, 1, 2, 3, 4, 9, 9]),
    ],
)
def test_modes_as_drawn(mode: PadMode, expected: list[int]) -> None:
    value = 9 if mode == "constant" else 0
    assert pad_image(ROW, ((0, 0), (2, 2)), Border(mode, value)).tolist() == [expected]


def test_rows_and_columns_pad_independently_and_channels_not_at_all() -> None:
    image = np.arange(12).reshape(2, 2, 3)
    padded = pad_image(image, ((1, 0), (0, 2)), Border("replicate"))
    assert padded.shape == (3, 4, 3)
    assert np.array_equal(padded[0], padded[1])
    assert np.array_equal(padded[:, 3], padded[:, 1])


def test_reflect_limit_is_pytorchs() -> None:
    assert pad_image(ROW, ((0, 0), (3, 3)), Border("reflect")).tolist() == [
        [4, 3, 2, 1, 2, 3, 4, 3, 2, 1]
    ]
    with pytest.raises(
        ShapeError, match=r"^reflect padding of 4 columns needs an image of more than 4 columns,"
    ):
        pad_image(ROW, ((0, 0), (0, 4)), Border("reflect"))
    with pytest.raises(ShapeError, match=r"^reflect padding of 1 row needs an image of more than"):
        pad_image(ROW, ((1, 0), (0, 0)), Border("reflect"))


def test_circular_limit_is_pytorchs() -> None:
    assert pad_image(ROW, ((0, 0), (4, 0)), Border("circular")).tolist() == [
        [1, 2, 3, 4, 1, 2, 3, 4]
    ]
    with pytest.raises(
        ShapeError, match=r"^circular padding of 2 rows needs an image of at least 2 rows, this one"
    ):
        pad_image(ROW, ((2, 0), (0, 0)), Border("circular"))


def test_zeros_replicate_and_constant_have_no_limit() -> None:
    assert pad_image(ROW, ((0, 0), (5, 0)), Border("replicate")).tolist() == [[1] * 6 + [2, 3, 4]]
    assert pad_image(ROW, ((3, 0), (0, 0)), Border("zeros")).shape == (4, 4)
    assert pad_image(ROW, ((0, 0), (0, 6)), Border("constant", -2)).tolist() == [
        [1, 2, 3, 4, -2, -2, -2, -2, -2, -2]
    ]


def test_symmetric_padding_wider_than_the_image_mirrors_it_again_and_again() -> None:
    # As NumPy's symmetric and SciPy's reflect: the image and its mirror image, repeated.
    padded = pad_image(ROW, ((0, 0), (9, 6)), Border("symmetric"))
    assert padded.tolist() == [[1, 1, 2, 3, 4, 4, 3, 2, 1, 1, 2, 3, 4, 4, 3, 2, 1, 1, 2]]
    assert np.array_equal(padded, np.pad(ROW, ((0, 0), (9, 6)), mode="symmetric"))


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 7),
    st.integers(1, 7),
    st.sampled_from(PAD_MODES),
    st.data(),
)
def test_padded_rows_are_the_rows_of_numpys_padded_image(
    height: int, width: int, mode: PadMode, data: st.DataObject
) -> None:
    def pads(side: int) -> tuple[int, int]:
        """Up to 7 on each side, within the mode's limits (the tests above check those)."""
        most = min(7, {"reflect": side - 1, "circular": side}.get(mode, 7))
        return data.draw(st.integers(0, most)), data.draw(st.integers(0, most))

    widths = (pads(height), pads(width))
    value = data.draw(st.integers(-9, 9)) if mode == "constant" else 0
    image = np.arange(height * width * 2).reshape(height, width, 2)
    extra = {"constant_values": value} if NUMPY_MODES[mode] == "constant" else {}
    whole = np.pad(image, (*widths, (0, 0)), mode=NUMPY_MODES[mode], **extra)  # type: ignore[call-overload]
    assert np.array_equal(pad_image(image, widths, Border(mode, value)), whole)
    first = data.draw(st.integers(0, whole.shape[0] - 1))
    count = data.draw(st.integers(1, whole.shape[0] - first))
    rows = np.full((count, whole.shape[1], 2), -1)
    fill_padded_rows(image, widths, Border(mode, value), first, rows)
    assert np.array_equal(rows, whole[first : first + count])
