"""Images read in parts: every option gives the whole-image path's values, bit for bit.

The inputs are small TIFFs and .npy arrays made here, tiled and striped with tiles and strips
smaller than the kernel's reach, planar and interleaved, compressed and not; the blocks of
rows each step computes are made a few rows tall, so that every read crosses blocks and the
far side of the image is read for the padding. Each case runs ``apply`` twice, reading the
input in parts and whole, and compares what the two wrote.
"""

from __future__ import annotations

import dataclasses
import io
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import tifffile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from convcli import convolve2d
from convcli.core import rows
from convcli.core.params import ConvParams
from convcli.errors import ImageReadError, ImageWriteError
from convcli.imageio.reading import open_image
from convcli.kernels.kernel import Step
from convcli.kernels.registry import KERNELS
from convcli.kernels.spec import resolve_kernel
from convcli.pipeline import parts
from convcli.pipeline.apply import ApplyReport, ImageOptions, apply_to_image
from convcli.pipeline.chain import prepare_chain


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of a few rows: reads cross them, and few are kept."""
    monkeypatch.setattr(rows, "BLOCK_BYTES", 700)


def chain(*specs: str, **changes: Any) -> list[Step]:
    return prepare_chain([resolve_kernel(spec) for spec in specs], **changes)


def written(path: Path) -> npt.NDArray[Any]:
    """What a file holds, as an array, whatever wrote it."""
    if path.suffix == ".npy":
        loaded: npt.NDArray[Any] = np.load(path)
        return loaded
    if path.suffix == ".tif":
        return np.asarray(tifffile.imread(path))
    with Image.open(path) as image:
        return np.asarray(image)


def both(
    source: Path, out: Path, steps: list[Step], params: ConvParams, options: ImageOptions
) -> tuple[npt.NDArray[Any], npt.NDArray[Any], ApplyReport, ApplyReport]:
    """What apply writes reading `source` in parts and whole: (in parts, whole, reports)."""
    in_parts, whole = out.with_stem("parts"), out.with_stem("whole")
    first = apply_to_image(source, in_parts, steps, params, options)
    second = apply_to_image(
        source, whole, steps, params, dataclasses.replace(options, in_parts=False)
    )
    return written(in_parts), written(whole), first, second


def tiled(path: Path, pixels: npt.NDArray[Any], **layout: Any) -> Path:
    """`pixels` ((H, W) or (H, W, S)) written as a TIFF by tifffile in `layout`."""
    if layout.get("planarconfig") == "separate" and pixels.ndim == 3:
        pixels = np.moveaxis(pixels, -1, 0)  # tifffile takes planes first
    tifffile.imwrite(path, pixels, **layout)
    return path


LAYOUTS: list[dict[str, Any]] = [
    {"tile": (16, 16)},
    {"tile": (16, 32), "compression": "zlib"},
    {"rowsperstrip": 1},
    {"rowsperstrip": 3, "compression": "zlib", "predictor": True},
    {"rowsperstrip": 5, "planarconfig": "separate"},
]


def rgba(rng: np.random.Generator, height: int, width: int) -> npt.NDArray[np.uint8]:
    pixels = rng.integers(0, 256, (height, width, 4), dtype=np.uint8)
    pixels[..., 3] = rng.choice([0, 0, 60, 255, 255, 255], (height, width))  # holes and edges
    return pixels


FIXTURE = [HealthCheck.function_scoped_fixture]  # tmp_path: each example writes its own files
CHAINS = [
    ("vertical",),
    ("sobel",),
    ("gaussian-5",),
    ("laplacian", "gaussian-3"),
    ("box-3", "scharr"),
    ("gaussian:2",),  # 13x13: reaches past the tiles and strips
]
PARAMS = [
    ConvParams(),
    ConvParams(padding="same", pad_mode="reflect"),
    ConvParams(padding=(7, 3), pad_mode="circular", stride=(2, 1)),
    ConvParams(padding=(9, 40), pad_mode="symmetric", dilation=(2, 1)),
    ConvParams(padding=(4, 4), pad_mode="replicate", stride=(3, 3)),
    ConvParams(padding=(2, 5), pad_mode="constant", pad_value=77, flip=True),
]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    layout=st.sampled_from(LAYOUTS),
    specs=st.sampled_from(CHAINS),
    params=st.sampled_from(PARAMS),
    range_mode=st.sampled_from(["auto", "clip", "abs", "rescale"]),
    method=st.sampled_from(["auto", "direct", "gemm", "fft"]),
    suffix=st.sampled_from([".png", ".tif", ".npy", ".bmp"]),
    seed=st.integers(0, 2**16),
)
def test_gray_in_parts_is_the_whole_path_bit_for_bit(
    tmp_path: Path,
    layout: dict[str, Any],
    specs: tuple[str, ...],
    params: ConvParams,
    range_mode: str,
    method: str,
    suffix: str,
    seed: int,
) -> None:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (int(rng.integers(41, 70)), int(rng.integers(47, 90))), np.uint8)
    source = tiled(tmp_path / "in.tif", pixels, **layout)
    range_mode = "auto" if suffix == ".npy" else range_mode
    options = ImageOptions(range_mode=range_mode, compute=_compute(method))  # type: ignore[arg-type]
    got, expected, report, whole = both(
        source, tmp_path / f"out{suffix}", chain(*specs), params, options
    )
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)
    assert (report.value_range, report.clipped, report.steps) == (
        whole.value_range,
        whole.clipped,
        whole.steps,
    )


def _compute(method: str) -> Any:
    from convcli.core.methods import Compute

    return Compute(method=method)  # type: ignore[arg-type]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    layout=st.sampled_from(LAYOUTS),
    specs=st.sampled_from([("gaussian-5",), ("box-3", "gaussian-3"), ("sobel",), ("vertical",)]),
    params=st.sampled_from(PARAMS),
    alpha=st.sampled_from(["auto", "carry", "channel"]),
    color=st.booleans(),
    suffix=st.sampled_from([".png", ".tif", ".npy"]),
    seed=st.integers(0, 2**16),
)
def test_colour_and_alpha_in_parts_are_the_whole_path_bit_for_bit(
    tmp_path: Path,
    layout: dict[str, Any],
    specs: tuple[str, ...],
    params: ConvParams,
    alpha: str,
    color: bool,
    suffix: str,
    seed: int,
) -> None:
    rng = np.random.default_rng(seed)
    pixels = rgba(rng, int(rng.integers(41, 60)), int(rng.integers(47, 70)))
    layout = {**layout, "photometric": "rgb", "extrasamples": ("unassalpha",)}
    source = tiled(tmp_path / "in.tif", pixels, **layout)
    options = ImageOptions(color=color, alpha=alpha)  # type: ignore[arg-type]
    got, expected, *_ = both(source, tmp_path / f"out{suffix}", chain(*specs), params, options)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("specs", [("gaussian-5",), ("box-3", "gaussian:1")])
def test_weighted_alpha_in_parts_is_the_whole_path_bit_for_bit(
    tmp_path: Path, params: ConvParams, specs: tuple[str, ...]
) -> None:
    rng = np.random.default_rng(len(specs))
    source = tiled(
        tmp_path / "in.tif",
        rgba(rng, 53, 61),
        tile=(16, 16),
        photometric="rgb",
        extrasamples=("unassalpha",),
    )
    options = ImageOptions(color=True, alpha="weighted")
    got, expected, *_ = both(source, tmp_path / "out.png", chain(*specs), params, options)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(
    ("pixels", "mode"),
    [
        (np.arange(50 * 61, dtype=np.uint16).reshape(50, 61) * 21, "I;16"),
        (np.linspace(-3e5, 7e5, 50 * 61).reshape(50, 61).astype(np.float32), "F"),
        (np.arange(50 * 61, dtype=np.int32).reshape(50, 61) - 999, "I"),
    ],
)
@pytest.mark.parametrize("suffix", [".png", ".tif", ".npy"])
def test_16_bit_and_unitless_gray_in_parts_are_the_whole_path(
    tmp_path: Path, pixels: npt.NDArray[Any], mode: str, suffix: str
) -> None:
    source = tiled(tmp_path / "in.tif", pixels, tile=(16, 16))
    options = ImageOptions()
    if suffix == ".png" and mode != "I;16":
        options = ImageOptions(depth="8")
    got, expected, *_ = both(
        source, tmp_path / f"out{suffix}", chain("sobel"), ConvParams(padding=(1, 1)), options
    )
    np.testing.assert_array_equal(got, expected)


def test_16_bit_colour_tiff_is_read_and_written_exactly(tmp_path: Path) -> None:
    # Pillow reads 48-bit RGB as 8 bits a channel; read in parts, every bit is kept.
    pixels = np.random.default_rng(3).integers(0, 65536, (40, 57, 3), dtype=np.uint16)
    source = tiled(tmp_path / "in.tif", pixels, tile=(16, 16), photometric="rgb")
    steps, params = chain("gaussian-5"), ConvParams(padding="same", pad_mode="reflect")
    report = apply_to_image(source, tmp_path / "out.tif", steps, params, ImageOptions(color=True))
    channels = [
        convolve2d(
            pixels[..., c].astype(np.float64),
            KERNELS["gaussian-5"].weights,
            padding="same",
            pad_mode="reflect",
        )
        for c in range(3)
    ]
    expected = np.clip(np.rint(np.stack(channels, axis=-1)), 0, 65535).astype(np.uint16)
    assert report.depth == "16"
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "out.tif"), expected)
    apply_to_image(source, tmp_path / "out.npy", steps, params, ImageOptions(color=True))
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), np.stack(channels, axis=-1))


@pytest.mark.parametrize(
    "array",
    [
        np.random.default_rng(1).standard_normal((45, 38)).astype(np.float32),
        np.random.default_rng(2).integers(-500, 500, (45, 38, 3)).astype(">i2"),
        np.random.default_rng(3).random((45, 38, 5)),
    ],
)
def test_npy_in_parts_is_the_whole_path(tmp_path: Path, array: npt.NDArray[Any]) -> None:
    np.save(tmp_path / "in.npy", array)
    got, expected, *_ = both(
        tmp_path / "in.npy",
        tmp_path / "out.npy",
        chain("laplacian", "gaussian-3"),
        ConvParams(padding=(3, 3), pad_mode="circular"),
        ImageOptions(),
    )
    assert got.dtype == expected.dtype
    np.testing.assert_array_equal(got, expected)


def test_a_fortran_ordered_npy_is_read_whole(tmp_path: Path) -> None:
    np.save(tmp_path / "in.npy", np.asfortranarray(np.arange(30.0).reshape(5, 6)))
    with open_image(tmp_path / "in.npy", in_parts=True) as image:
        assert not image.in_parts


def pillow_tiff(path: Path, mode: str, **save: Any) -> Path:
    pixels = np.random.default_rng(4).integers(0, 256, (20, 20, 3), dtype=np.uint8)
    Image.fromarray(pixels).convert(mode).save(path, **save)
    return path


@pytest.mark.parametrize(
    ("mode", "save"),
    [
        ("RGB", {"compression": "tiff_lzw"}),  # LZW needs imagecodecs in tifffile
        ("RGB", {"compression": "jpeg"}),
        ("P", {}),
        ("CMYK", {}),
        ("1", {}),
    ],
)
def test_what_cannot_be_read_in_parts_is_read_whole_by_pillow(
    tmp_path: Path, mode: str, save: dict[str, Any]
) -> None:
    path = pillow_tiff(tmp_path / "in.tif", mode, **save)
    with open_image(path, in_parts=True) as image:
        assert not image.in_parts
    apply_to_image(path, tmp_path / "o.png", chain("vertical"), ConvParams(), ImageOptions())


def test_packbits_and_lzma_are_read_in_parts(tmp_path: Path) -> None:
    pixels = np.random.default_rng(6).integers(0, 256, (40, 30), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "packbits.tif", compression="packbits")
    tiled(tmp_path / "lzma.tif", pixels, tile=(16, 16), compression="lzma")
    for name in ("packbits.tif", "lzma.tif"):
        with open_image(tmp_path / name, in_parts=True) as image:
            assert image.in_parts
            np.testing.assert_array_equal(
                image.rows_in_parts(color=False, gray="rec601").values.rows(0, 40), pixels
            )


def test_a_codec_tifffile_names_but_cannot_run_falls_back_to_pillow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tiled(tmp_path / "in.tif", np.zeros((20, 20), np.uint8), tile=(16, 16))
    from convcli.imageio import tiff

    def broken(self: object, start: int, stop: int) -> None:
        raise ImageReadError("cannot decode 'in.tif': no module named 'compression'")

    monkeypatch.setattr(tiff.TiffRows, "_make", broken)
    with open_image(path, in_parts=True) as image:
        assert not image.in_parts


def test_associated_alpha_is_read_whole_by_pillow(tmp_path: Path) -> None:
    path = tiled(
        tmp_path / "in.tif",
        np.zeros((20, 20, 4), np.uint8),
        photometric="rgb",
        extrasamples=("assocalpha",),
    )
    with open_image(path, in_parts=True) as image:
        assert not image.in_parts


def test_an_oriented_tiff_is_read_whole_so_that_it_is_turned(tmp_path: Path) -> None:
    pixels = np.arange(12, dtype=np.uint8).reshape(3, 4)
    path = tmp_path / "in.tif"
    tifffile.imwrite(path, pixels, extratags=[(274, "H", 1, 6, True)])
    with open_image(path, in_parts=True) as image:
        assert not image.in_parts
        assert image.info.size == (4, 3)


def test_a_large_image_in_parts_is_not_limited_by_max_pixels(tmp_path: Path) -> None:
    source = tiled(tmp_path / "in.tif", np.zeros((64, 64), np.uint8), tile=(16, 16))
    options = ImageOptions(max_pixels=100)
    apply_to_image(source, tmp_path / "out.tif", chain("vertical"), ConvParams(), options)
    # What is encoded whole still is.
    with pytest.raises(ImageWriteError, match=r"3844 pixels of jpeg are encoded whole"):
        apply_to_image(source, tmp_path / "out.jpg", chain("vertical"), ConvParams(), options)
    assert not (tmp_path / "out.jpg").exists()
    # And a PNG too large to decode whole says how to read it in parts.
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(tmp_path / "in.png")
    with pytest.raises(ImageReadError, match=r"tiled TIFF \(vips tiffsave IN OUT.tif --tile\)"):
        apply_to_image(
            tmp_path / "in.png", tmp_path / "o.png", chain("vertical"), ConvParams(), options
        )


def test_a_truncated_tiff_fails_and_keeps_the_old_output(tmp_path: Path) -> None:
    source = tiled(tmp_path / "in.tif", np.ones((64, 64), np.uint8), tile=(16, 16))
    data = source.read_bytes()
    source.write_bytes(data[: len(data) // 2])
    out = tmp_path / "out.tif"
    out.write_bytes(b"precious")
    with pytest.raises(ImageReadError, match="cannot decode"):
        apply_to_image(source, out, chain("vertical"), ConvParams(), ImageOptions())
    assert out.read_bytes() == b"precious"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.tif", "out.tif"]


def test_an_npy_shorter_than_its_header_says_fails(tmp_path: Path) -> None:
    np.save(tmp_path / "in.npy", np.ones((40, 30)))
    data = (tmp_path / "in.npy").read_bytes()
    (tmp_path / "in.npy").write_bytes(data[:-1000])
    with pytest.raises(ImageReadError, match=r"truncated"):
        apply_to_image(
            tmp_path / "in.npy", tmp_path / "o.npy", chain("vertical"), ConvParams(), ImageOptions()
        )
    assert not (tmp_path / "o.npy").exists()


def test_an_output_too_large_for_its_disk_is_refused_before_anything_is_computed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tiled(tmp_path / "in.tif", np.ones((64, 64), np.uint8), tile=(16, 16))

    class Usage:
        free = 1000

    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage())
    computed: list[int] = []
    monkeypatch.setattr(parts, "_blocks", lambda *args: computed.append(1))
    with pytest.raises(ImageWriteError, match=r"it needs 0\.0 GiB and its disk has 0\.0 GiB"):
        apply_to_image(source, tmp_path / "o.npy", chain("vertical"), ConvParams(), ImageOptions())
    assert computed == []


def test_rescale_runs_twice_and_progress_counts_both_passes(tmp_path: Path) -> None:
    source = tiled(
        tmp_path / "in.tif", np.arange(64 * 64, dtype=np.uint16).reshape(64, 64), tile=(16, 16)
    )
    told: list[tuple[int, int]] = []
    apply_to_image(
        source,
        tmp_path / "o.png",
        chain("laplacian"),
        ConvParams(),
        ImageOptions(range_mode="rescale"),
        progress=lambda done, total: told.append((done, total)),
    )
    assert told[-1] == (124, 124)  # 62 rows, twice
    assert [done for done, _ in told] == sorted(done for done, _ in told)
    assert any(done == 62 for done, _ in told)


def test_png_with_alpha_is_written_a_band_at_a_time(tmp_path: Path) -> None:
    pixels = rgba(np.random.default_rng(5), 40, 33)
    source = tiled(
        tmp_path / "in.tif", pixels, tile=(16, 16), photometric="rgb", extrasamples=("unassalpha",)
    )
    got, expected, *_ = both(
        source, tmp_path / "o.png", chain("gaussian-3"), ConvParams(), ImageOptions(color=True)
    )
    np.testing.assert_array_equal(got, expected)
    assert got.shape == (38, 31, 4)


def test_standard_output_gets_the_image_in_parts_too(tmp_path: Path) -> None:
    source = tiled(
        tmp_path / "in.tif", np.arange(400, dtype=np.uint8).reshape(20, 20), tile=(16, 16)
    )
    stream = io.BytesIO()
    apply_to_image(
        source, stream, chain("vertical"), ConvParams(), ImageOptions(output_format="tiff")
    )
    stream.seek(0)
    expected = convolve2d(np.arange(400.0).reshape(20, 20) % 256, KERNELS["vertical"].weights)
    np.testing.assert_array_equal(
        tifffile.imread(stream), np.clip(np.rint(np.abs(expected)), 0, 255)
    )


def test_every_command_reads_a_tiff_through_the_same_reader(tmp_path: Path) -> None:
    from tests.cli_helpers import run

    pixels = np.full((12, 10, 3), 60000, dtype=np.uint16)
    path = tiled(tmp_path / "in.tif", pixels, tile=(16, 16), photometric="rgb")
    explained = run("explain", path, "-k", "box-3", "--color", "--at", "0,0")
    assert explained.exit_code == 0, explained.stderr
    assert "60000" in explained.stdout  # 16 bits, not Pillow's 8
    # Decoded whole, it is held to --max-pixels, as any image decoded whole.
    refused = run("explain", path, "-k", "box-3", "--at", "0,0", "--max-pixels", "100")
    assert refused.exit_code == 1
    assert "over the limit of 100" in refused.stderr


def test_a_tiff_from_a_named_pipe_is_read_whole(tmp_path: Path) -> None:
    import os
    import threading

    pixels = np.arange(400, dtype=np.uint8).reshape(20, 20)
    data = tiled(tmp_path / "in.tif", pixels, tile=(16, 16)).read_bytes()
    fifo = tmp_path / "pipe.tif"
    os.mkfifo(fifo)
    writer = threading.Thread(target=fifo.write_bytes, args=(data,))
    writer.start()
    try:
        with open_image(fifo, in_parts=True) as image:  # read once: not again by its path
            assert not image.in_parts
            decoded = image.decode(color=False, gray="rec601")
    finally:
        writer.join(timeout=10)
    np.testing.assert_array_equal(decoded.values, pixels)


def test_a_broken_tiff_header_is_one_line_however_many_readers_try(tmp_path: Path) -> None:
    from tests.cli_helpers import run_installed

    (tmp_path / "bad.tif").write_bytes(b"II*\x00" + b"garbage" * 5)
    done = run_installed("apply", "-k", "vertical", tmp_path / "bad.tif", tmp_path / "o.png")
    assert done.returncode == 1
    assert done.stderr == (
        f"convcli: error: cannot read {str(tmp_path / 'bad.tif')!r}: not an image format"
        " Pillow knows\n"
    )
    assert not (tmp_path / "o.png").exists()
