"""apply's --method, --threads and --png-compression, and the strip-by-strip output paths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from convcli.pipeline.apply import ImageOptions
from tests import images
from tests.cli_helpers import one_line_error, run
from tests.conftest import read_pixels


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    images.rgb8(tmp_path / "in.png", 90, 70)
    return tmp_path / "in.png"


@pytest.mark.parametrize("kernel", ["sobel-x", "gaussian-5", "laplacian", "sobel"])
@pytest.mark.parametrize("method", ["direct", "fft"])
def test_every_method_writes_the_same_pixels(
    photo: Path, tmp_path: Path, kernel: str, method: str
) -> None:
    common = ("apply", "-k", kernel, "--padding", "same", "--pad-mode", "reflect", photo)
    assert run(*common, tmp_path / "auto.png").exit_code == 0
    forced = run(*common, "--method", method, tmp_path / "forced.png")
    assert forced.exit_code == 0, forced.stderr
    auto, other = read_pixels(tmp_path / "auto.png"), read_pixels(tmp_path / "forced.png")
    # Float32 rounding may move a value across .5: at most one level, on few pixels.
    assert np.abs(auto.astype(int) - other.astype(int)).max() <= 1
    assert np.count_nonzero(auto != other) <= auto.size // 1000


def test_separable_is_refused_for_a_kernel_of_rank_two(photo: Path, tmp_path: Path) -> None:
    result = run("apply", "-k", "laplacian", "--method", "separable", photo, tmp_path / "o.png")
    one_line_error(result, 2, "method separable needs kernels of rank 1")
    assert "laplacian is not" in result.stderr
    assert not (tmp_path / "o.png").exists()


def test_one_thread_or_two_write_the_same_file(photo: Path, tmp_path: Path) -> None:
    for threads in ("1", "2"):
        args = ("apply", "-k", "sobel", "--color", "--threads", threads, photo)
        assert run(*args, tmp_path / f"t{threads}.png").exit_code == 0
    assert (tmp_path / "t1.png").read_bytes() == (tmp_path / "t2.png").read_bytes()


@pytest.mark.parametrize("bad", ["0", "-1", "two"])
def test_threads_must_be_a_positive_integer(photo: Path, tmp_path: Path, bad: str) -> None:
    result = run("apply", "-k", "vertical", "--threads", bad, photo, tmp_path / "o.png")
    one_line_error(result, 2, "--threads")


def test_png_compression_changes_the_size_not_the_pixels(photo: Path, tmp_path: Path) -> None:
    sizes = {}
    for level in ("0", "1", "9"):
        out = tmp_path / f"l{level}.png"
        result = run("apply", "-k", "gaussian-3", "--png-compression", level, photo, out)
        assert result.exit_code == 0, result.stderr
        sizes[level] = out.stat().st_size
        assert np.array_equal(read_pixels(out), read_pixels(tmp_path / "l0.png"))
    assert sizes["0"] > sizes["1"] >= sizes["9"]
    assert ImageOptions().png_compression == 1


def test_png_compression_is_checked(photo: Path, tmp_path: Path) -> None:
    result = run("apply", "-k", "vertical", "--png-compression", "10", photo, tmp_path / "o.png")
    one_line_error(result, 2, "--png-compression")


@pytest.mark.parametrize(
    "options",
    [
        (),  # gray PNG, written strip by strip
        ("--color",),  # colour PNG, strip by strip
        ("--depth", "16"),  # 16-bit gray PNG, strip by strip
        ("--range", "rescale"),  # needs the whole result first
    ],
)
def test_strip_by_strip_png_equals_the_whole_image_path(
    photo: Path, tmp_path: Path, options: tuple[str, ...]
) -> None:
    # TIFF is written by Pillow from the whole output array: the same pixels either way.
    common = ("apply", "-k", "sobel", "--padding", "1", *options, photo)
    assert run(*common, tmp_path / "o.png").exit_code == 0
    assert run(*common, tmp_path / "o.tif").exit_code == 0
    with Image.open(tmp_path / "o.png") as png, Image.open(tmp_path / "o.tif") as tiff:
        assert png.mode == tiff.mode
        assert np.array_equal(np.asarray(png), np.asarray(tiff))


def test_separable_is_refused_before_decoding_and_names_the_step(tmp_path: Path) -> None:
    images.rgb8(tmp_path / "in.png", 30, 20)
    result = run(
        "apply", "-k", "gaussian-3", "-k", "laplacian", "--method", "separable",
        tmp_path / "in.png", tmp_path / "o.png",
    )  # fmt: skip
    one_line_error(result, 2, "step 2 (laplacian) is not")
    assert not (tmp_path / "o.png").exists()
