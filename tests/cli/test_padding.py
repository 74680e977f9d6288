"""The pad modes on the command line: ``--pad-mode symmetric``, ``constant`` and ``--pad-value``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from tests.cli_helpers import one_line_error, run
from tests.conftest import read_gray, read_pixels

RAMP = (np.arange(30, dtype=np.uint8).reshape(5, 6) * 8).astype(np.uint8)


@pytest.fixture
def ramp_png(tmp_path: Path) -> Path:
    path = tmp_path / "ramp.png"
    Image.fromarray(RAMP).save(path)
    return path


def test_constant_padding_holds_the_pad_value(ramp_png: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.png"
    result = run(
        "apply", "-k", "identity", "--padding", "3", "--pad-mode", "constant",
        "--pad-value", "1/2", ramp_png, out,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    # The identity's centre tap reads two rows and columns of padding at each side: a value of
    # one half, rounded to even, is 0.
    assert np.array_equal(read_pixels(out), np.pad(RAMP, 2, constant_values=0))
    result = run(
        "apply", "-k", "identity", "--padding", "3", "--pad-mode", "constant",
        "--pad-value", "200", ramp_png, out,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert np.array_equal(read_pixels(out), np.pad(RAMP, 2, constant_values=200))


@pytest.mark.parametrize("method", ["direct", "separable", "gemm", "fft"])
def test_symmetric_padding_is_scipys_reflect(ramp_png: Path, tmp_path: Path, method: str) -> None:
    out = tmp_path / "o.npy"
    result = run(
        "apply", "-k", "gaussian-5", "--padding", "same", "--pad-mode", "symmetric",
        "--method", method, ramp_png, out,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    expected = ndimage.correlate(
        read_gray(ramp_png).astype(np.float64), _gaussian5(), mode="reflect"
    )
    np.testing.assert_allclose(np.load(out), expected, rtol=0, atol=1e-4)


def test_symmetric_padding_wider_than_the_image_is_taken(ramp_png: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.npy"
    result = run("apply", "-k", "box:9", "--padding", "8", "--pad-mode", "symmetric", ramp_png, out)
    assert result.exit_code == 0, result.stderr
    padded = np.pad(RAMP.astype(np.float64), 8, mode="symmetric")
    expected = ndimage.uniform_filter(padded, 9, mode="constant")[4:-4, 4:-4]
    np.testing.assert_allclose(np.load(out), expected, rtol=0, atol=1e-4)


def test_a_pad_value_needs_constant_padding(ramp_png: Path, tmp_path: Path) -> None:
    result = run(
        "apply", "-k", "identity", "--padding", "1", "--pad-mode", "reflect", "--pad-value", "9",
        ramp_png, tmp_path / "o.png",
    )  # fmt: skip
    one_line_error(result, 2, "a pad value (9) is for pad mode constant, not reflect")
    assert not (tmp_path / "o.png").exists()


def test_explain_says_what_constant_padding_holds(ramp_png: Path) -> None:
    result = run(
        "explain", ramp_png, "-k", "box-3", "--at", "0,0", "--padding", "1",
        "--pad-mode", "constant", "--pad-value", "12.5",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "row -1 is padding: constant gives 12.5" in result.stdout
    assert "column -1 is padding: constant gives 12.5" in result.stdout


@pytest.mark.parametrize(("mode", "value"), [("symmetric", "0"), ("constant", "100")])
def test_a_sheet_tile_is_what_apply_writes_with_the_new_modes(
    ramp_png: Path, tmp_path: Path, mode: str, value: str
) -> None:
    options = ["-k", "box-3", "--padding", "same", "--pad-mode", mode, "--pad-value", value]
    sheet = run("sheet", ramp_png, *options, "-o", tmp_path / "s.png", "--json")
    assert sheet.exit_code == 0, sheet.stderr
    applied = run("apply", *options, ramp_png, tmp_path / "a.png")
    assert applied.exit_code == 0, applied.stderr
    top, left, height, width = json.loads(sheet.stdout)["tiles"][1]["box"]
    tile = read_pixels(tmp_path / "s.png")[top : top + height, left : left + width]
    assert np.array_equal(tile, read_pixels(tmp_path / "a.png"))


def _gaussian5() -> np.ndarray:
    row = np.array([1.0, 4, 6, 4, 1])
    return np.outer(row, row) / 256
