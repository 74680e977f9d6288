"""The shape arithmetic: the formula, its printed form, and what it says when a kernel won't fit."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from convcli import ParameterError, ShapeError, output_shape
from convcli.core.params import ConvParams
from convcli.core.shape import AxisArithmetic, arithmetic, check_fits, same_padding


@pytest.mark.parametrize(
    ("input_hw", "kernel_hw", "options", "expected"),
    [
        # Dumoulin & Visin's figures: 4x4 input, 3x3 kernel.
        ((4, 4), (3, 3), {}, (2, 2)),  # no padding, unit strides
        ((5, 5), (4, 4), {"padding": 2}, (6, 6)),  # arbitrary padding
        ((5, 5), (3, 3), {"padding": 1}, (5, 5)),  # half ("same") padding
        ((5, 5), (3, 3), {"padding": 2}, (7, 7)),  # full padding
        ((5, 5), (3, 3), {"stride": 2}, (2, 2)),  # no padding, strides
        ((5, 5), (3, 3), {"stride": 2, "padding": 1}, (3, 3)),
        ((6, 6), (3, 3), {"stride": 2, "padding": 1}, (3, 3)),  # the floor at work
        ((7, 7), (3, 3), {"dilation": 2}, (3, 3)),  # dilated
        # Non-square everything, rows first.
        ((300, 451), (3, 3), {"stride": 2, "padding": 1}, (150, 226)),
        ((10, 20), (3, 5), {"stride": (1, 3), "padding": (0, 2), "dilation": (2, 1)}, (6, 7)),
        ((5, 7), (4, 2), {"padding": "same"}, (5, 7)),
        ((5, 7), (4, 2), {"padding": "valid"}, (2, 6)),
        (7, 3, {}, (5, 5)),  # one int is a square
    ],
)
def test_output_shape(
    input_hw: object, kernel_hw: object, options: dict[str, object], expected: tuple[int, int]
) -> None:
    assert output_shape(input_hw, kernel_hw, **options) == expected  # type: ignore[arg-type]


@given(
    size=st.integers(1, 500),
    kernel=st.integers(1, 30),
    stride=st.integers(1, 8),
    padding=st.integers(0, 20),
    dilation=st.integers(1, 6),
)
def test_axis_matches_the_formula_and_counts_windows(
    size: int, kernel: int, stride: int, padding: int, dilation: int
) -> None:
    axis = AxisArithmetic("h", size, kernel, stride, padding, padding, dilation)
    padded = size + 2 * padding
    span = dilation * (kernel - 1) + 1
    # Counting window positions one by one gives the formula's answer.
    windows = len(range(0, padded - span + 1, stride))
    assert axis.output == ((padded - dilation * (kernel - 1) - 1) // stride + 1)
    assert axis.fits == (windows > 0)
    if axis.fits:
        assert axis.output == windows
        last_reached = (windows - 1) * stride + span
        assert axis.unvisited == padded - last_reached


@given(
    size=st.integers(1, 60),
    kernel=st.integers(1, 8),
    stride=st.integers(1, 8),
    padding=st.tuples(st.integers(0, 6), st.integers(0, 6)),
    dilation=st.integers(1, 4),
)
def test_unread_counts_the_image_lines_no_tap_reads(
    size: int, kernel: int, stride: int, padding: tuple[int, int], dilation: int
) -> None:
    axis = AxisArithmetic("w", size, kernel, stride, *padding, dilation)
    read = {
        start + tap * dilation - padding[0]
        for start in range(0, axis.padded - axis.span + 1, stride)
        for tap in range(kernel)
    }
    assert axis.unread == size - len(read & set(range(size)))


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "dilation", "note"),
    [
        (8, 3, 2, 2, "4 of the 8 input rows are read by no tap"),
        (9, 2, 4, 1, "5 of the 9 input rows are read by no tap"),
        (10, 1, 3, 1, "6 of the 10 input rows are read by no tap"),
    ],
)
def test_the_notes_count_every_unread_line(
    size: int, kernel: int, stride: int, dilation: int, note: str
) -> None:
    from convcli.terminal.render import axis_notes

    notes = axis_notes(AxisArithmetic("h", size, kernel, stride, 0, 0, dilation))
    assert any(line.startswith(note) for line in notes), notes


@pytest.mark.parametrize(
    ("kernel", "dilation", "expected"),
    [(1, 1, (0, 0)), (3, 1, (1, 1)), (4, 1, (1, 2)), (2, 3, (1, 2)), (5, 2, (4, 4))],
)
def test_same_padding_puts_the_odd_pixel_after(
    kernel: int, dilation: int, expected: tuple[int, int]
) -> None:
    assert same_padding(kernel, dilation) == expected


def test_formula_text_with_numbers_substituted() -> None:
    height, width = arithmetic((300, 451), (3, 3), ConvParams(stride=(2, 2), padding=(1, 1)))
    assert height.formula() == "o_h = floor((300 + 2*1 - 1*(3 - 1) - 1) / 2) + 1 = 150"
    assert width.formula() == "o_w = floor((451 + 2*1 - 1*(3 - 1) - 1) / 2) + 1 = 226"


def test_formula_text_with_unequal_padding() -> None:
    height, _ = arithmetic((5, 5), (4, 4), ConvParams(padding="same"))
    assert height.formula() == "o_h = floor((5 + 1 + 2 - 1*(4 - 1) - 1) / 1) + 1 = 5"


def test_does_not_fit_names_sizes_and_shows_the_arithmetic() -> None:
    axes = arithmetic((10, 10), (7, 7), ConvParams(dilation=(2, 2)))
    with pytest.raises(ShapeError) as caught:
        check_fits(axes)
    assert str(caught.value) == (
        "kernel 7x7 with dilation 2 spans 13x13, larger than the padded input 10x10"
    )
    assert caught.value.details == (
        "o_h = floor((10 + 2*0 - 2*(7 - 1) - 1) / 1) + 1 = -2  (span 13 > padded 10)",
        "o_w = floor((10 + 2*0 - 2*(7 - 1) - 1) / 1) + 1 = -2  (span 13 > padded 10)",
    )


def test_just_fits_and_one_more_does_not() -> None:
    assert output_shape((13, 13), (7, 7), dilation=2) == (1, 1)
    with pytest.raises(ShapeError):
        output_shape((12, 13), (7, 7), dilation=2)


@pytest.mark.parametrize(
    ("input_hw", "kernel_hw", "message"),
    [
        ((0, 5), (3, 3), "input size must be an integer >= 1"),
        ((5, 5), (3, 0), "kernel size must be an integer >= 1"),
        ((5, 5, 5), (3, 3), "input size must be an integer >= 1 or an (h, w) pair"),
    ],
)
def test_sizes_must_be_positive_pairs(
    input_hw: tuple[int, ...], kernel_hw: tuple[int, ...], message: str
) -> None:
    with pytest.raises(ParameterError, match=re.escape(message)):
        output_shape(input_hw, kernel_hw)


def test_same_with_stride_is_refused() -> None:
    with pytest.raises(ParameterError, match="padding 'same' needs stride 1"):
        output_shape((5, 5), (3, 3), padding="same", stride=2)
