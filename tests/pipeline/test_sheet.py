"""Feature-map sheets in the library: the layout by hand, composing, shrinking, and a sheet
made from a path.

The command line (each tile against apply's own output, presets, errors) is
tests/cli/test_sheet.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convcli.core.params import ConvParams
from convcli.kernels.presets import PRESETS
from convcli.kernels.spec import resolve_kernel
from convcli.pipeline.sheet import (
    BACKGROUND,
    FRAME,
    LABEL_GAP,
    MARGIN,
    compose,
    default_columns,
    grid_layout,
    label_height,
    label_width,
    make_sheet,
    shrink,
    tile_label,
)
from tests import images
from tests.conftest import read_pixels


def region(pixels: npt.NDArray[np.uint8], box: list[int]) -> npt.NDArray[np.uint8]:
    top, left, height, width = box
    return pixels[top : top + height, left : left + width]


# --- the layout, by hand ---------------------------------------------------------------------


def test_few_tiles_go_in_one_row_more_in_a_square_grid() -> None:
    assert [default_columns(n) for n in range(1, 5)] == [1, 2, 3, 4]
    # 5 tiles: 3 columns of 2 rows; 10: 4 columns of 3 rows; 16: 4 by 4.
    assert [default_columns(n) for n in (5, 9, 10, 16, 17)] == [3, 3, 4, 4, 5]


@given(st.integers(5, 400))
def test_the_default_grid_has_as_many_rows_as_columns_or_one_fewer(count: int) -> None:
    columns = default_columns(count)
    rows = -(-count // columns)
    assert (columns - 1) * (columns - 1) < count <= columns * columns
    assert rows in (columns - 1, columns)


def test_the_sheet_size_is_cells_and_margins() -> None:
    # Two rows of two cells: each cell as wide as the widest tile (50) and as tall as the
    # label, the gap and the tallest tile (40).
    layout = grid_layout([(40, 50), (30, 20), (10, 10)], [30, 30, 30], label_height=12, columns=2)
    cell_height = 12 + LABEL_GAP + 40
    assert layout.cell == (cell_height, 50)
    assert layout.size == (2 * cell_height + 3 * MARGIN, 2 * 50 + 3 * MARGIN)
    assert (layout.columns, layout.rows) == (2, 2)
    tile_top = MARGIN + 12 + LABEL_GAP
    assert layout.tiles == (
        (tile_top, MARGIN, 40, 50),
        (tile_top, MARGIN + 50 + MARGIN, 30, 20),
        (tile_top + cell_height + MARGIN, MARGIN, 10, 10),
    )


def test_a_label_wider_than_every_tile_widens_the_cells() -> None:
    layout = grid_layout([(5, 6), (5, 6)], [70, 40], label_height=12)
    assert layout.cell[1] == 70
    assert layout.size[1] == 2 * 70 + 3 * MARGIN


def test_more_columns_than_tiles_leaves_no_empty_column() -> None:
    assert grid_layout([(5, 6)] * 3, [1] * 3, label_height=12, columns=10).columns == 3


shapes = st.lists(st.tuples(st.integers(1, 60), st.integers(1, 60)), min_size=1, max_size=12)


@given(shapes, st.integers(1, 8), st.integers(0, 90))
def test_tiles_labels_and_frames_never_overlap(
    tile_shapes: list[tuple[int, int]], columns: int, widest_label: int
) -> None:
    widths = [widest_label] * len(tile_shapes)
    layout = grid_layout(tile_shapes, widths, label_height=12, columns=columns)
    taken = np.zeros(layout.size, dtype=int)
    for (top, left, height, width), (label_top, label_left) in zip(
        layout.tiles, layout.labels, strict=True
    ):
        assert (height, width) in tile_shapes
        # The tile with its frame, and the label above it, inside the sheet, one cell each.
        taken[top - 1 : top + height + 1, left - 1 : left + width + 1] += 1
        taken[label_top : label_top + 12, label_left : label_left + widest_label] += 1
        assert label_top + 12 < top - 1
        assert top + height < layout.size[0]
        assert left + width < layout.size[1]
    assert taken.max() <= 1


def test_compose_copies_each_tile_and_draws_only_labels_and_frames_around_them() -> None:
    rng = np.random.default_rng(5)
    tiles = [
        rng.integers(0, 256, shape, dtype=np.uint8) for shape in [(60, 90), (58, 88), (30, 45)]
    ]
    labels = ["input 60x90", "vertical 58x88", "x 30x45"]
    sheet = compose(tiles, labels)
    height = label_height()
    assert max(label_width(label) for label in labels) < 90  # the tiles set the cell width
    cell_height = height + LABEL_GAP + 60
    assert sheet.pixels.shape == (cell_height + 2 * MARGIN, 3 * 90 + 4 * MARGIN)
    assert sheet.pixels.dtype == np.uint8
    drawn = np.zeros(sheet.pixels.shape, dtype=bool)
    for tile, box, (label_top, label_left), label in zip(
        tiles, sheet.layout.tiles, sheet.layout.labels, labels, strict=True
    ):
        top, left, h, w = box
        assert np.array_equal(region(sheet.pixels, list(box)), tile)
        frame = sheet.pixels[top - 1 : top + h + 1, left - 1 : left + w + 1].copy()
        frame[1:-1, 1:-1] = FRAME
        assert (frame == FRAME).all()
        band = sheet.pixels[label_top : label_top + height, label_left : label_left + 90]
        assert (band < BACKGROUND).sum() > 5 * len(label)  # ink: the label is written
        drawn[top - 1 : top + h + 1, left - 1 : left + w + 1] = True
        drawn[label_top : label_top + height, label_left : label_left + label_width(label)] = True
    # Everything else is background.
    assert (sheet.pixels[~drawn] == BACKGROUND).all()


def test_compose_refuses_what_is_not_8_bit_gray() -> None:
    with pytest.raises(ValueError, match="8-bit gray"):
        compose([np.zeros((4, 4), dtype=np.float32)], ["a"])
    with pytest.raises(ValueError, match="2 tiles but 1 labels"):
        compose([np.zeros((4, 4), dtype=np.uint8)] * 2, ["a"])


def test_long_names_are_shortened_but_the_size_is_kept() -> None:
    label = tile_label("kernels/a/very/long/path/to/my_edge_detector.csv", (298, 449))
    assert label.endswith("... 298x449")
    assert len(label) == 32 + len(" 298x449")
    assert tile_label("1 0 -1\n2 0 -2", (3, 4)) == "1 0 -1 2 0 -2 3x4"


def test_shrinking_keeps_every_tile_in_proportion() -> None:
    tiles = [np.full((300, 451), 200, np.uint8), np.full((150, 226), 9, np.uint8)]
    small = shrink(tiles, 100)
    assert [tile.shape for tile in small] == [(67, 100), (33, 50)]
    # Uniform tiles stay uniform: the resampling averages, it does not invent.
    assert (small[0] == 200).all()
    assert (small[1] == 9).all()
    assert shrink(tiles, 451) == tiles  # nothing enlarged, nothing touched


# --- a sheet from a path ---------------------------------------------------------------------


def peak_memory(run: Any) -> int:
    """The most bytes Python and NumPy held at once while `run()` ran, above what they held
    before (Pillow's own buffers are not counted, the same in every run)."""
    import gc
    import tracemalloc

    gc.collect()
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_tile_size_keeps_one_full_size_response_at_a_time(tmp_path: Path) -> None:
    height, width = 600, 800
    images.gray8(tmp_path / "g.png", height, width)
    specs = [*PRESETS["all-edges"].kernels, *PRESETS["all-blurs"].kernels] * 2

    def sheet_of(specs: list[str]) -> Any:
        steps = [resolve_kernel(spec) for spec in specs]
        return lambda: make_sheet(tmp_path / "g.png", tmp_path / "s.png", steps, ConvParams(),
                                  tile_size=64)  # fmt: skip

    one_at_a_time = max(peak_memory(sheet_of([spec])) for spec in specs)
    # Sixteen responses of 8-bit pixels kept at full size would add 16 x 480 KB.
    assert peak_memory(sheet_of(specs)) < one_at_a_time + 2 * height * width


def test_the_library_builds_a_sheet_from_a_path(tmp_path: Path) -> None:
    pixels = images.gray8(tmp_path / "g.png", 10, 12)
    steps = [resolve_kernel("sobel"), resolve_kernel("box:3")]
    out = tmp_path / "s.png"
    report = make_sheet(tmp_path / "g.png", out, steps, ConvParams(padding=(1, 1)), columns=1)
    labels = ["input 10x12", "sobel 10x12", "box:3 10x12"]
    assert [tile.label for tile in report.tiles] == labels
    # Tiles 12 wide are narrower than their labels: the labels set the cells' width.
    size = (3 * (label_height() + LABEL_GAP + 10) + 4 * MARGIN, max(map(label_width, labels)) + 16)
    assert report.size == size
    assert read_pixels(out).shape == size
    assert np.array_equal(region(read_pixels(out), list(report.tiles[0].box)), pixels)
    assert report.summary() == (
        f"{out}: {tmp_path / 'g.png'} 10x12 and 2 responses in 3 rows of 1, {size[0]}x{size[1]}"
    )
