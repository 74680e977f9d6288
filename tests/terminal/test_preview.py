"""Images drawn with Rich: pixel grids, layouts, half-block colours, the ramp without colour.

Drawings are printed on a Rich console of a fixed width writing into a string, then read
back cell by cell from the escape codes a terminal would receive.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

from convcli.errors import ParameterError
from convcli.terminal import preview as preview_module
from convcli.terminal.preview import (
    HALF_BLOCK,
    MIN_CELLS,
    RAMP,
    Gallery,
    PreviewImage,
    Tile,
    display_pixels,
    fit,
    plan_layout,
    preview,
)
from tests.pseudo_terminal import read_cells, text_of


def draw(renderable: Any, width: int = 80, **console: Any) -> str:
    """What a terminal `width` cells wide receives for `renderable`."""
    options: dict[str, Any] = {"force_terminal": True, "color_system": "truecolor"}
    options.update(console)
    target = Console(width=width, file=io.StringIO(), **options)
    target.print(renderable)
    output = target.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(output, str)
    return output


def image(height: int, width: int, colour: bool = False) -> npt.NDArray[np.uint8]:
    shape = (height, width, 3) if colour else (height, width)
    return np.random.default_rng(height * 1000 + width).integers(0, 256, shape, dtype=np.uint8)


# --- the pixel grid --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "cells", "rows", "grid"),
    [
        ((480, 640), 80, None, (60, 80)),  # shrunk to the width, aspect kept
        ((3, 5), 80, None, (3, 5)),  # never enlarged
        ((1, 1), 80, None, (1, 1)),
        ((10, 1000), 80, None, (1, 80)),  # very wide: one pixel row, at least
        ((5, 10), 4, None, (2, 4)),  # 2.0 rows
        ((7, 10), 4, None, (3, 4)),  # 2.8 rows: rounded
        ((1000, 500), 80, 10, (20, 10)),  # too tall for 10 lines: narrower
        ((20000, 20), 80, 10, (20, 1)),  # narrower than a cell for 10 lines: squeezed
    ],
)
def test_fit(size: tuple[int, int], cells: int, rows: int | None, grid: tuple[int, int]) -> None:
    assert fit(size, cells, rows) == grid


@given(
    st.integers(1, 5000), st.integers(1, 5000), st.integers(1, 300), st.none() | st.integers(1, 80)
)
def test_fit_keeps_inside_the_space_and_the_image(
    height: int, width: int, cells: int, rows: int | None
) -> None:
    pixel_rows, columns = fit((height, width), cells, rows)
    assert 1 <= columns <= min(width, cells)
    assert 1 <= pixel_rows <= height
    if rows is None:
        assert columns == min(width, cells)
    else:
        assert pixel_rows <= 2 * rows
    if pixel_rows > 1 and (rows is None or pixel_rows < 2 * rows):  # aspect kept, rounded
        assert abs(pixel_rows - height * columns / width) <= 0.5


def test_fit_refuses_no_space() -> None:
    with pytest.raises(ParameterError, match="at least 1 cell"):
        fit((10, 10), 0)


# --- rows and columns of cells ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "width", "lines", "columns"),
    [
        ((20, 30), 80, 10, 30),  # small: as it is, two pixel rows a line
        ((21, 30), 80, 11, 30),  # an odd height: a last line of one pixel row
        ((100, 200), 50, 13, 50),  # 200 -> 50 wide, 25 pixel rows
        ((1, 1), 80, 1, 1),
        ((10, 1000), 80, 1, 80),
    ],
)
def test_one_image_has_a_caption_and_the_lines_and_cells_of_its_grid(
    size: tuple[int, int], width: int, lines: int, columns: int
) -> None:
    drawn = read_cells(draw(preview([PreviewImage("a.png", image(*size), 255)], width), width))
    caption, *picture = drawn
    assert text_of(caption).rstrip() == f"a.png {size[0]}x{size[1]}"
    assert len(picture) == lines
    assert [len(line) for line in picture] == [columns] * lines
    assert all(cell.char == HALF_BLOCK for line in picture for cell in line)


def test_two_images_side_by_side_share_the_width() -> None:
    images = [
        PreviewImage("in.png", image(40, 60), 255),
        PreviewImage("out.png", image(38, 58), 255),
    ]
    drawn = read_cells(draw(preview(images, 80), 80))
    # 80 - 2 for the gap: 39 each; 40x60 -> 26x39 (13 lines), 38x58 -> 26x39 (13 lines).
    caption, *picture = drawn
    assert text_of(caption).startswith("in.png 40x60")
    assert text_of(caption)[41:].rstrip() == "out.png 38x58"
    assert len(picture) == 13
    for line in picture:
        assert len(line) == 39 + 2 + 39
        assert text_of(line) == HALF_BLOCK * 39 + "  " + HALF_BLOCK * 39


def test_shorter_image_side_by_side_leaves_blank_cells_below_it() -> None:
    images = [PreviewImage("tall", image(20, 10), 255), PreviewImage("flat", image(4, 10), 255)]
    _, *picture = read_cells(draw(preview(images, 80), 80))
    assert len(picture) == 10
    assert text_of(picture[1]) == HALF_BLOCK * 10 + "  " + HALF_BLOCK * 10
    # Under the short one, nothing: the line ends with the first image's column.
    assert text_of(picture[2]).rstrip() == HALF_BLOCK * 10


def test_images_too_wide_to_share_go_one_under_another() -> None:
    images = [PreviewImage("a", image(40, 60), 255), PreviewImage("b", image(40, 60), 255)]
    drawn = read_cells(draw(preview(images, 30), 30))  # 14 cells each would be < MIN_CELLS
    # Each at the full width: 40x60 -> 20x30, 10 lines, under its caption; a blank line between.
    assert len(drawn) == 2 * (1 + 10) + 1
    assert text_of(drawn[0]).rstrip() == "a 40x60"
    assert text_of(drawn[11]) == ""
    assert text_of(drawn[12]).rstrip() == "b 40x60"
    assert all(len(line) == 30 for line in drawn[1:11] + drawn[13:])


@pytest.mark.parametrize(
    ("width", "side_by_side"),
    [(2 * MIN_CELLS + 2, True), (2 * MIN_CELLS + 1, False)],
)
def test_side_by_side_needs_min_cells_each(width: int, side_by_side: bool) -> None:
    layout = plan_layout([(100, 100), (100, 100)], ["a", "b"], width)
    assert layout.side_by_side is side_by_side
    if side_by_side:
        assert layout.grids == ((MIN_CELLS, MIN_CELLS),) * 2


def test_small_images_stay_side_by_side_in_a_narrow_console() -> None:
    # 10 cells each is below MIN_CELLS, but it is all they are: nothing is lost.
    layout = plan_layout([(10, 10), (8, 10)], ["a", "b"], 22)
    assert layout.side_by_side
    assert layout.grids == ((10, 10), (8, 10))


def test_an_image_narrower_than_its_share_leaves_the_rest_to_the_others() -> None:
    layout = plan_layout([(10, 10), (300, 300), (300, 300)], ["a", "b", "c"], 100)
    # 100 - 2 gaps of 2 = 96: the small one takes its 10, the others 43 each.
    assert layout.side_by_side
    assert layout.grids == ((10, 10), (43, 43), (43, 43))
    assert layout.columns == (10, 43, 43)


def test_a_caption_claims_up_to_min_cells() -> None:
    layout = plan_layout([(2, 3), (300, 300)], ["tiny.png 2x3", "b"], 60)
    assert layout.grids == ((2, 3), (46, 46))
    assert layout.columns == (12, 46)


def test_the_height_limit_gives_the_width_a_tall_image_cannot_use_to_the_others() -> None:
    captions = ["wide 20x2000", "tall 2000x20"]
    layout = plan_layout([(20, 2000), (2000, 20)], captions, 100, rows=10)
    tall = fit((2000, 20), 20, 10)
    assert tall == (20, 1)
    # The tall one's column is its caption's (12 cells); the wide one gets the rest.
    assert layout.grids[1] == tall
    assert layout.grids[0][1] == 100 - 2 - len("tall 2000x20")


def test_rows_limit_the_lines_of_every_image() -> None:
    images = [PreviewImage("a", image(300, 100), 255), PreviewImage("b", image(100, 100), 255)]
    _, *picture = read_cells(draw(preview(images, 80, rows=10), 80))
    assert len(picture) == 10  # 300x100 in 18x6 (9 lines), 100x100 in 20x20 (10 lines)


def test_rows_are_shared_by_images_one_under_another() -> None:
    images = [PreviewImage("a", image(100, 100), 255), PreviewImage("b", image(100, 100), 255)]
    drawn = read_cells(draw(preview(images, 30, rows=20), 30))  # too narrow to share
    # A caption above the first is not counted in `rows`: the rest of the drawing fits them,
    # the second caption and the blank line above it included. 9 lines each: 18x18.
    assert len(drawn) == 1 + 20
    assert [len(drawn[n]) for n in (1, 9, 12, 20)] == [18] * 4
    layout = plan_layout([(100, 100)] * 3, ["a", "b", "c"], 30, rows=20)
    assert layout.rows == (20 - 2 * 2) // 3


def test_a_long_caption_loses_its_start_not_the_size() -> None:
    name = "a/very/long/directory/name/photo.png"
    drawn = read_cells(draw(preview([PreviewImage(name, image(4, 10), 255)], 20), 20))
    assert text_of(drawn[0]) == "\u2026" + f"{name} 4x10"[-19:]


def test_the_gallery_measures_its_width() -> None:
    layout = plan_layout([(4, 10), (4, 10)], ["a", "b"], 80)
    tiles = [Tile("a", image(4, 10)), Tile("b", image(4, 10))]
    console = Console(width=80)
    measured = Gallery(tiles, layout).__rich_measure__(console, console.options)
    assert (measured.minimum, measured.maximum) == (sum(layout.columns) + 2,) * 2


# --- colours ---------------------------------------------------------------------------------


def test_each_half_block_is_its_top_pixel_on_its_bottom_pixel() -> None:
    pixels = np.array(
        [
            [[255, 0, 0], [0, 255, 0], [0, 0, 255]],
            [[10, 20, 30], [40, 50, 60], [70, 80, 90]],
            [[1, 2, 3], [4, 5, 6], [7, 8, 9]],
        ],
        dtype=np.uint8,
    )
    _, first, second = read_cells(draw(preview([PreviewImage("c", pixels, 255)], 80)))
    assert [(c.fg, c.bg) for c in first] == [
        ((255, 0, 0), (10, 20, 30)),
        ((0, 255, 0), (40, 50, 60)),
        ((0, 0, 255), (70, 80, 90)),
    ]
    # The odd last row: the top half only, on the terminal's own background.
    assert [(c.fg, c.bg) for c in second] == [
        ((1, 2, 3), None),
        ((4, 5, 6), None),
        ((7, 8, 9), None),
    ]


def test_a_reduced_image_shows_the_means_of_the_blocks() -> None:
    gray = np.array(
        [
            [0, 10, 100, 100],
            [20, 30, 100, 100],
            [255, 255, 0, 0],
            [255, 255, 0, 1],
        ],
        dtype=np.uint8,
    )
    # 2 columns wide: 2x2 blocks, one line. Means: 15 and 100 on top, 255 and 0.25 below.
    _, line = read_cells(draw(preview([PreviewImage("g", gray, 255)], 2), 2))
    assert [(c.fg, c.bg) for c in line] == [((15, 15, 15), (255, 255, 255)), ((100,) * 3, (0,) * 3)]


def test_display_pixels_weigh_a_pixel_cut_by_an_edge_by_its_share() -> None:
    row = np.array([[30, 60, 90]], dtype=np.uint8)
    # Two columns over three pixels: [0, 1.5) and [1.5, 3).
    expected = [(30 + 60 / 2) / 1.5, (60 / 2 + 90) / 1.5]  # 40 and 80
    assert display_pixels(row, (1, 2), max_value=255).tolist() == [[round(v) for v in expected]]


def area_means_reference(values: npt.NDArray[Any], grid: tuple[int, int]) -> npt.NDArray[Any]:
    """Area averaging by dense weight matrices: weight = overlap of pixel and drawn pixel."""

    def weights(size: int, parts: int) -> npt.NDArray[np.float64]:
        starts = np.arange(parts)[:, None] * size / parts
        ends = np.arange(1, parts + 1)[:, None] * size / parts
        pixels = np.arange(size)[None, :]
        overlap = np.clip(np.minimum(ends, pixels + 1) - np.maximum(starts, pixels), 0, None)
        share: npt.NDArray[np.float64] = overlap / (size / parts)
        return share

    rows = weights(values.shape[0], grid[0])
    columns = weights(values.shape[1], grid[1])
    means: npt.NDArray[Any] = np.einsum(
        "ik,kl...,jl->ij...", rows, values.astype(np.float64), columns
    )
    return means


@given(
    st.integers(1, 40),
    st.integers(1, 40),
    st.booleans(),
    st.integers(1, 40),
    st.integers(1, 40),
    st.integers(1, 64),
)
def test_display_pixels_are_the_area_means_strip_by_strip_or_not(
    height: int, width: int, colour: bool, rows: int, columns: int, strip: int
) -> None:
    grid = (min(rows, height), min(columns, width))
    values = image(height, width, colour)
    original = preview_module._STRIP_VALUES
    preview_module._STRIP_VALUES = strip  # strips of a row or a few, edges inside them
    try:
        drawn = display_pixels(values, grid, max_value=255)
    finally:
        preview_module._STRIP_VALUES = original
    reference = area_means_reference(values, grid)
    assert drawn.shape == reference.shape
    assert np.abs(drawn - reference).max() <= 0.5 + 1e-9  # rounded to the nearest level


def test_a_row_source_is_read_strip_by_strip() -> None:
    values = image(30, 20).astype(np.float32)
    asked: list[tuple[int, int]] = []

    class Rows:
        shape = values.shape
        dtype = values.dtype

        def rows(self, start: int, stop: int) -> npt.NDArray[Any]:
            asked.append((start, stop))
            return values[start:stop]

    original = preview_module._STRIP_VALUES
    preview_module._STRIP_VALUES = 100  # 5 rows of 20
    try:
        drawn = display_pixels(Rows(), (10, 7), max_value=255)
    finally:
        preview_module._STRIP_VALUES = original
    assert asked == [(start, start + 5) for start in range(0, 30, 5)]
    assert np.array_equal(drawn, display_pixels(values, (10, 7), max_value=255))


def test_16_bit_values_are_drawn_by_their_full_scale() -> None:
    values = np.array([[0, 65535, 32768, 257]], dtype=np.uint16)
    assert display_pixels(values, (1, 4), max_value=65535).tolist() == [[0, 255, 128, 1]]


def test_unitless_values_are_drawn_from_their_min_to_their_max() -> None:
    values = np.array([[-1.0, 0.0, 1.0], [0.5, -0.5, 0.25]])
    assert display_pixels(values, (2, 3), max_value=None).tolist() == [
        [0, 128, 255],
        [191, 64, 159],
    ]


def test_unitless_min_and_max_are_the_whole_image_s_not_the_reduced_one_s() -> None:
    values = np.array([[0.0, 4.0, 2.0, 2.0]])  # reduced to 2: means 2 and 2 of 0..4
    assert display_pixels(values, (1, 2), max_value=None).tolist() == [[128, 128]]


def test_unitless_values_near_the_largest_float_are_drawn() -> None:
    values = np.array([[1e308, -1e308], [0.0, 1.0]] * 5)  # finite: high - low is not
    assert display_pixels(values, (10, 2), max_value=None).tolist() == [[255, 0], [128, 128]] * 5
    # Each drawn pixel the mean of 1e308, -1e308, 0 and 1: the middle of the range.
    assert display_pixels(values, (1, 1), max_value=None).tolist() == [[128]]


@given(
    st.integers(1, 12),
    st.integers(1, 12),
    st.integers(950, 1008),  # values up to 25500 < 2 ** 14.7 stay under 2 ** 1023, finite
    st.integers(1, 30),
    st.data(),
)
def test_unitless_values_are_drawn_alike_at_any_scale(
    height: int, width: int, exponent: int, strip: int, data: st.DataObject
) -> None:
    # Rows of growing size: a strip read later may be far larger than those before it.
    values = image(height, width) * np.logspace(0, 2, height)[:, np.newaxis] - 300
    grid = (data.draw(st.integers(1, height)), data.draw(st.integers(1, width)))
    original = preview_module._STRIP_VALUES
    preview_module._STRIP_VALUES = strip
    try:
        # A power of two scales every sum exactly: the drawing cannot change.
        scaled = display_pixels(values * 2.0**exponent, grid, max_value=None)
        assert np.array_equal(scaled, display_pixels(values, grid, max_value=None))
    finally:
        preview_module._STRIP_VALUES = original


def test_a_constant_unitless_image_is_black() -> None:
    assert display_pixels(np.full((2, 2), 7.5), (1, 1), max_value=None).tolist() == [[0]]


def test_alpha_is_composited_over_black_before_averaging() -> None:
    values = np.array([[200, 200, 200, 200, 100]], dtype=np.uint8)
    alpha = np.array([[0, 255, 51, 255, 0]], dtype=np.uint8)
    assert display_pixels(values, (1, 5), max_value=255, alpha=alpha).tolist() == [
        [0, 200, 40, 200, 0]
    ]
    # Averaged together, the transparent pixels count as black: (0 + 200) / 2.
    assert display_pixels(values[:, :2], (1, 1), max_value=255, alpha=alpha[:, :2]).tolist() == [
        [100]
    ]


def test_values_beyond_the_full_scale_are_clipped() -> None:
    values = np.array([[-20.0, 300.0]])
    assert display_pixels(values, (1, 2), max_value=255).tolist() == [[0, 255]]


def test_an_h_w_1_array_is_gray() -> None:
    values = np.array([[[0], [255]]], dtype=np.uint8)
    assert display_pixels(values, (1, 2), max_value=255).tolist() == [[0, 255]]


@pytest.mark.parametrize(
    ("shape", "grid", "message"),
    [
        ((2, 2, 2), (1, 1), "no picture"),
        ((2, 2, 4), (1, 1), "no picture"),
        ((2,), (1, 1), "no picture"),
        ((2, 2), (3, 1), "between 1x1 and its size"),
        ((2, 2), (1, 0), "between 1x1 and its size"),
    ],
)
def test_display_pixels_refuses(
    shape: tuple[int, ...], grid: tuple[int, int], message: str
) -> None:
    with pytest.raises(ParameterError, match=message):
        display_pixels(np.zeros(shape), grid, max_value=255)


def test_alpha_needs_a_full_scale() -> None:
    with pytest.raises(ParameterError, match="without a full scale"):
        display_pixels(np.zeros((2, 2)), (1, 1), max_value=None, alpha=np.zeros((2, 2)))


# --- without colour --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "console", [{"no_color": True}, {"color_system": None}], ids=["no_color", "no colour system"]
)
def test_without_colour_each_cell_is_the_ramp_of_its_two_pixels_mean(
    console: dict[str, Any],
) -> None:
    gray = np.array(
        [
            [0, 255, 0, 100, 26, 200],
            [0, 255, 255, 100, 25, 255],
            [255, 128, 0, 64, 90, 230],
        ],
        dtype=np.uint8,
    )
    output = draw(preview([PreviewImage("g", gray, 255)], 80), **console)
    assert "\x1b[38" not in output  # no colour at all
    assert "\x1b[48" not in output
    lines = [text_of(line) for line in read_cells(output)]
    # Means 0, 255, 127.5, 100, 25.5, 227.5 -> 10 levels of 25.6: 0, 9, 4, 3, 0, 8.
    # The last line holds one pixel row: its values, 255 128 0 64 90 230 -> 9 5 0 2 3 8.
    assert lines[1:] == [" @=- %", "@+ :-%"]
    assert (RAMP[0], RAMP[-1]) == (" ", "@")


def test_without_colour_a_colour_pixel_is_its_rec601_luma() -> None:
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]]], dtype=np.uint8)
    output = draw(preview([PreviewImage("c", rgb, 255)], 80), no_color=True)
    # 76.2, 149.7, 29.1, 255 -> levels 2, 5, 1, 9
    assert text_of(read_cells(output)[1]) == ":+.@"
