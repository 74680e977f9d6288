"""apply on real image kinds through CliRunner: colour, alpha, depth, .npy, pipes, hostile files."""

from __future__ import annotations

import io
import json
import os
import stat
import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from click.testing import Result
from PIL import Image

from convcli import convolve2d
from convcli.core.convolution import sample_centre
from convcli.core.params import ConvParams
from convcli.kernels.kernel import Kernel
from convcli.kernels.registry import get_kernel
from convcli.kernels.spec import resolve_kernel
from convcli.pipeline.rangemap import to_pixels
from tests import images
from tests.cli_helpers import one_line_error, run
from tests.conftest import read_gray, read_pixels


def identity(*args: str | Path, stdin: bytes | None = None) -> Result:
    """apply -k identity --padding 1 ARGS: what goes in comes out, as the options write it."""
    return run("apply", "-k", "identity", "--padding", "1", *args, stdin=stdin)


def weights(name: str) -> npt.NDArray[np.float64]:
    return get_kernel(name).weights


# --- colour and alpha --------------------------------------------------------------------------


def test_color_filters_each_channel(tmp_path: Path) -> None:
    rgb = images.rgb8(tmp_path / "c.png", 10, 12)
    result = run("apply", "-k", "gaussian-3", "--color", tmp_path / "c.png", tmp_path / "o.png")
    assert result.exit_code == 0, result.stderr
    expected = np.dstack(
        [
            to_pixels(convolve2d(rgb[..., c].astype(float), weights("gaussian-3")), "clip")
            for c in range(3)
        ]
    )
    assert np.array_equal(read_pixels(tmp_path / "o.png"), expected)


@pytest.mark.parametrize("color", [False, True])
def test_alpha_is_carried_with_the_geometry_of_the_result(tmp_path: Path, color: bool) -> None:
    rgba = images.rgba8(tmp_path / "a.png", 9, 11)
    args = [
        "-k",
        "box:2x4",
        "--stride",
        "2",
        "--padding",
        "1,2",
        "--range",
        "clip",
        "--alpha",
        "carry",
    ]
    result = run(
        "apply", *args, *(["--color"] if color else []), tmp_path / "a.png", tmp_path / "o.png"
    )
    assert result.exit_code == 0, result.stderr
    written = read_pixels(tmp_path / "o.png")
    params = ConvParams(stride=(2, 2), padding=(1, 2))
    # The rule: the alpha under each window's centre tap, row (2-1)//2 = 0, column (4-1)//2 = 1;
    # zero padding gives alpha 0.
    alpha = sample_centre(rgba[..., 3].astype(float), (2, 4), params)
    assert alpha.shape == written.shape[:2]
    assert np.array_equal(written[..., -1], alpha)
    assert alpha[0, 0] == 0  # the first window's centre tap is in the padding
    assert written.shape[2] == (4 if color else 2)


def test_a_transparent_palette_keeps_its_transparency(tmp_path: Path) -> None:
    rgb, alpha = images.palette_with_transparency(tmp_path / "p.png")
    result = identity("--color", tmp_path / "p.png", tmp_path / "o.png")
    assert result.exit_code == 0, result.stderr
    # The identity weighted by alpha: the colour where there is any, 0 where there is none.
    shown = np.where(alpha[..., np.newaxis] > 0, rgb, 0)
    assert np.array_equal(read_pixels(tmp_path / "o.png"), np.dstack([shown, alpha]))
    carried = identity("--color", "--alpha", "carry", tmp_path / "p.png", tmp_path / "c.png")
    assert carried.exit_code == 0, carried.stderr
    assert np.array_equal(read_pixels(tmp_path / "c.png"), np.dstack([rgb, alpha]))


def test_jpeg_cannot_hold_alpha_unless_it_is_dropped(tmp_path: Path) -> None:
    images.rgba8(tmp_path / "a.png")
    refused = run("apply", "-k", "vertical", tmp_path / "a.png", tmp_path / "o.jpg")
    one_line_error(refused, 2, "jpeg cannot hold 8-bit gray with alpha; png, tiff, webp, tga")
    assert not (tmp_path / "o.jpg").exists()
    dropped = run("apply", "-k", "vertical", "--no-alpha", tmp_path / "a.png", tmp_path / "o.jpg")
    assert dropped.exit_code == 0, dropped.stderr
    with Image.open(tmp_path / "o.jpg") as image:
        assert image.mode == "L"


@pytest.mark.parametrize("gray", ["rec601", "rec709", "average"])
def test_gray_weights_are_chosen_and_reported(tmp_path: Path, gray: str) -> None:
    images.rgb8(tmp_path / "c.png")
    result = run("apply", "-k", "identity", "--padding", "1", "--gray", gray, "--explain",
                 "--json", tmp_path / "c.png", tmp_path / "o.tif", "--depth", "float")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["gray"] == gray
    assert result.stderr.splitlines()[-1].startswith(f"gray {gray}; values")
    with Image.open(tmp_path / "o.tif") as image:
        written = np.asarray(image)
    np.testing.assert_allclose(written, read_gray(tmp_path / "c.png", gray), rtol=1e-6)


# --- depth -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["g.png", "g.tif"])
def test_sixteen_bit_stays_sixteen_bit_exactly(tmp_path: Path, name: str) -> None:
    pixels = images.gray16(tmp_path / name)
    out = tmp_path / f"out{Path(name).suffix}"
    result = run("apply", "-k", "identity", "--padding", "1", tmp_path / name, out)
    assert result.exit_code == 0, result.stderr
    with Image.open(out) as image:
        assert image.mode == "I;16"
        assert np.array_equal(np.asarray(image), pixels)


def test_sixteen_bit_filtering_maps_onto_the_sixteen_bit_range(tmp_path: Path) -> None:
    pixels = images.gray16(tmp_path / "g.png")
    result = run("apply", "-k", "vertical", tmp_path / "g.png", tmp_path / "o.png")
    assert result.exit_code == 0, result.stderr
    expected = to_pixels(
        convolve2d(pixels.astype(float), weights("vertical")), "abs", max_value=65535
    )
    assert np.array_equal(read_pixels(tmp_path / "o.png"), expected)


def test_depth_8_from_sixteen_bit_scales_rather_than_clips(tmp_path: Path) -> None:
    pixels = images.gray16(tmp_path / "g.png")
    result = identity("--depth", "8", tmp_path / "g.png", tmp_path / "o.png")
    assert result.exit_code == 0, result.stderr
    written = read_pixels(tmp_path / "o.png")
    assert written.dtype == np.uint8
    assert np.array_equal(written, np.rint(pixels * (255 / 65535)).astype(np.uint8))
    assert written[0, 0] == 255  # 65535 is full scale, not clipped garbage


def test_depth_16_from_8_bit(tmp_path: Path) -> None:
    pixels = images.gray8(tmp_path / "g.png")
    result = identity("--depth", "16", tmp_path / "g.png", tmp_path / "o.png")
    assert result.exit_code == 0, result.stderr
    assert np.array_equal(read_pixels(tmp_path / "o.png"), pixels.astype(np.uint16) * 257)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--depth", "16", "{g}", "{tmp}/o.jpg"],
            "jpeg cannot hold 16-bit gray; png, tiff or jp2 can",
        ),
        (
            ["--depth", "16", "--color", "{c}", "{tmp}/o.png"],
            "16-bit colour output is not supported",
        ),
        (["--depth", "float", "{g}", "{tmp}/o.png"], "png cannot hold 32-bit float gray; tiff can"),
        (["--depth", "8", "{g}", "{tmp}/o.npy"], "--depth does not apply to .npy output"),
        (["--range", "clip", "{g}", "{tmp}/o.npy"], "--range does not apply to npy output"),
    ],
)
def test_depth_errors_come_before_any_work(tmp_path: Path, args: list[str], message: str) -> None:
    images.gray8(tmp_path / "g.png")
    images.rgb8(tmp_path / "c.png")
    filled = [a.format(g=tmp_path / "g.png", c=tmp_path / "c.png", tmp=tmp_path) for a in args]
    one_line_error(run("apply", "-k", "vertical", *filled), 2, message)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.png", "g.png"]


def test_unitless_values_stay_float_in_tiff_and_rescale_to_8_bit(tmp_path: Path) -> None:
    floats = images.float_tiff(tmp_path / "f.tif")
    assert (
        run(
            "apply", "-k", "identity", "--padding", "1", tmp_path / "f.tif", tmp_path / "o.tif"
        ).exit_code
        == 0
    )
    with Image.open(tmp_path / "o.tif") as image:
        assert image.mode == "F"
        assert np.array_equal(np.asarray(image), floats)
    result = identity("--json", tmp_path / "f.tif", tmp_path / "o.png")
    assert json.loads(result.stdout)["range"] == "rescale"
    assert np.array_equal(
        read_pixels(tmp_path / "o.png"), to_pixels(floats.astype(float), "rescale")
    )


# --- .npy ------------------------------------------------------------------------------------


def test_npy_output_is_the_exact_float_result(tmp_path: Path) -> None:
    images.rgb8(tmp_path / "c.png")
    result = run(
        "apply",
        "-k",
        "vertical",
        "--scale",
        "0.5",
        "--bias",
        "3",
        tmp_path / "c.png",
        tmp_path / "o.npy",
    )
    assert result.exit_code == 0, result.stderr
    expected = convolve2d(read_gray(tmp_path / "c.png"), weights("vertical")) * 0.5 + 3
    assert np.array_equal(np.load(tmp_path / "o.npy"), expected)


def test_two_runs_through_npy_equal_the_chain(tmp_path: Path) -> None:
    images.rgb8(tmp_path / "in.png", 20, 24)
    assert (
        run("apply", "-k", "gaussian-5", tmp_path / "in.png", tmp_path / "mid.npy").exit_code == 0
    )
    assert (
        run("apply", "-k", "laplacian", tmp_path / "mid.npy", tmp_path / "out.npy").exit_code == 0
    )
    chained = run(
        "apply", "-k", "gaussian-5", "-k", "laplacian", tmp_path / "in.png", tmp_path / "chain.npy"
    )
    assert chained.exit_code == 0
    assert np.array_equal(np.load(tmp_path / "out.npy"), np.load(tmp_path / "chain.npy"))


def test_npy_holds_alpha_as_a_last_channel_unless_dropped(tmp_path: Path) -> None:
    rgba = images.rgba8(tmp_path / "a.png")
    result = identity("--color", "--alpha", "carry", tmp_path / "a.png", tmp_path / "o.npy")
    assert result.exit_code == 0, result.stderr
    assert np.array_equal(np.load(tmp_path / "o.npy"), rgba.astype(float))
    weighted = identity("--color", tmp_path / "a.png", tmp_path / "w.npy")
    assert weighted.exit_code == 0, weighted.stderr
    held = np.load(tmp_path / "w.npy")
    alpha = rgba[..., 3]
    assert np.array_equal(held[..., 3], alpha.astype(float))
    expected = np.where(alpha[..., np.newaxis] > 0, rgba[..., :3], 0)
    np.testing.assert_allclose(held[..., :3], expected, rtol=1e-6, atol=1e-4)
    dropped = identity("--color", "--no-alpha", tmp_path / "a.png", tmp_path / "o.npy")
    assert dropped.exit_code == 0, dropped.stderr
    assert np.array_equal(np.load(tmp_path / "o.npy"), rgba[..., :3].astype(float))


def test_one_channel_npy_becomes_a_gray_image(tmp_path: Path) -> None:
    array = images.npy(tmp_path / "a.npy", np.arange(20.0).reshape(4, 5, 1))
    result = identity(tmp_path / "a.npy", tmp_path / "o.png")
    assert result.exit_code == 0, result.stderr
    assert np.array_equal(read_pixels(tmp_path / "o.png"), to_pixels(array[..., 0], "rescale"))


def test_a_result_that_overflows_is_an_error_not_an_image(tmp_path: Path) -> None:
    images.npy(tmp_path / "big.npy", np.full((4, 4), 1e308))
    result = run("apply", "-k", "1,1", "--json", tmp_path / "big.npy", tmp_path / "o.png")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"].endswith("overflows: it has infinite or NaN values")
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "o.png").exists()


# --- report ----------------------------------------------------------------------------------


def test_json_report(tmp_path: Path) -> None:
    images.gray8(tmp_path / "g.png", 6, 9)
    result = run("apply", "-k", "vertical", "--json", tmp_path / "g.png", tmp_path / "o.png")
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    values = convolve2d(read_gray(tmp_path / "g.png"), weights("vertical"))
    assert record["status"] == "ok"
    assert record["error"] is None
    assert (record["input_shape"], record["output_shape"]) == ([6, 9], [4, 7])
    assert record["kernels"] == ["vertical"]
    assert record["value_range"] == [values.min(), values.max()]
    assert record["clipped"] == int(np.count_nonzero(np.abs(values) > 255.5))
    assert record["range"] == "abs"
    assert (record["format"], record["depth"]) == ("png", "8")
    assert record["ms"] >= 0


def test_json_record_of_a_failed_run(tmp_path: Path) -> None:
    result = run("apply", "-k", "vertical", "--json", tmp_path / "missing.png", tmp_path / "o.png")
    assert result.exit_code == 1
    record = json.loads(result.stdout)
    assert record["status"] == "error"
    assert record["error"].startswith("cannot read ")
    assert record["input"] == str(tmp_path / "missing.png")
    assert "cannot read" in result.stderr


# --- orientation and frames ------------------------------------------------------------------


def test_phone_photographs_come_out_upright(tmp_path: Path) -> None:
    upright = images.rotated_jpeg(tmp_path / "r.jpg")
    assert run("apply", "-k", "1", tmp_path / "r.jpg", tmp_path / "o.png").exit_code == 0
    written = read_pixels(tmp_path / "o.png")
    assert written.shape == (3, 2)
    assert np.abs(written.astype(int) - upright).max() <= 6
    assert (
        run(
            "apply", "-k", "1", "--no-auto-orient", tmp_path / "r.jpg", tmp_path / "s.png"
        ).exit_code
        == 0
    )
    assert read_pixels(tmp_path / "s.png").shape == (2, 3)


def test_multi_frame_warns_on_stderr(tmp_path: Path) -> None:
    images.multi_frame_gif(tmp_path / "m.gif")
    result = run("apply", "-k", "identity", tmp_path / "m.gif", tmp_path / "o.png")
    assert result.exit_code == 0
    assert (
        result.stderr
        == f"convcli: warning: {tmp_path / 'm.gif'}: 2 frames; convcli reads the first\n"
    )
    assert np.unique(read_pixels(tmp_path / "o.png")).tolist() == [10]


# --- pipes -----------------------------------------------------------------------------------


def test_stdin_to_stdout_is_image_bytes_only(tmp_path: Path) -> None:
    pixels = images.gray8(tmp_path / "g.png")
    result = identity("-", "-", stdin=(tmp_path / "g.png").read_bytes())
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    with Image.open(io.BytesIO(result.stdout_bytes)) as image:
        assert image.format == "PNG"
        assert np.array_equal(np.asarray(image), pixels)


@pytest.mark.parametrize(
    ("fmt", "magic"), [("jpeg", b"\xff\xd8"), ("tiff", b"II*\x00"), ("npy", b"\x93NUMPY")]
)
def test_format_chooses_what_stdout_gets(tmp_path: Path, fmt: str, magic: bytes) -> None:
    images.gray8(tmp_path / "g.png")
    result = run("apply", "-k", "identity", "--format", fmt, tmp_path / "g.png", "-")
    assert result.exit_code == 0, result.stderr
    assert result.stdout_bytes.startswith(magic)


def test_nothing_reaches_stdout_when_a_piped_run_fails(tmp_path: Path) -> None:
    result = run("apply", "-k", "box:9", "-", "-", stdin=Image_bytes((4, 4)))
    assert result.exit_code == 1
    assert result.stdout_bytes == b""
    assert "larger than the padded input 4x4" in result.stderr


def test_json_and_stdout_image_do_not_mix(tmp_path: Path) -> None:
    images.gray8(tmp_path / "g.png")
    one_line_error(
        run("apply", "-k", "identity", "--json", tmp_path / "g.png", "-"),
        2,
        "--json prints on stdout",
    )


def Image_bytes(size: tuple[int, int]) -> bytes:  # noqa: N802  (reads like a constructor)
    buffer = io.BytesIO()
    Image.new("L", size, 50).save(buffer, format="PNG")
    return buffer.getvalue()


# --- hostile input and nothing lost ----------------------------------------------------------


HOSTILE: list[tuple[str, Any, str]] = [
    ("zero.png", lambda p: p.write_bytes(b""), "it is empty"),
    ("text.png", lambda p: p.write_text("not an image"), "not an image format Pillow knows"),
    ("cut.png", lambda p: images.truncated(p, "PNG"), "cut.png"),
    ("cut.jpg", lambda p: images.truncated(p, "JPEG"), "cut.jpg"),
    ("dir.png", lambda p: p.mkdir(), "it is a directory"),
    ("bomb.png", images.bomb_png, "claims 100000x100000 = 10000000000 pixels, over the limit"),
    (
        "tiny.png",
        lambda p: Image.new("L", (2, 2)).save(p),
        "kernel 5x5 is larger than the padded input 2x2",
    ),
]


@pytest.mark.parametrize(("name", "make", "message"), HOSTILE, ids=[case[0] for case in HOSTILE])
def test_hostile_input_exits_1_and_loses_nothing(
    tmp_path: Path, name: str, make: Any, message: str
) -> None:
    make(tmp_path / name)
    out = tmp_path / "out.png"
    out.write_bytes(b"precious bytes")
    result = run("apply", "-k", "box-5", tmp_path / name, out)
    one_line_error(result, 1, message, alone=False)  # a kernel too large explains itself below
    assert out.read_bytes() == b"precious bytes"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary file


def test_max_pixels_raises_the_limit(tmp_path: Path) -> None:
    Image.new("L", (50, 40)).save(tmp_path / "g.png")  # 2000 pixels
    refused = run(
        "apply", "-k", "identity", "--max-pixels", "1999", tmp_path / "g.png", tmp_path / "o.png"
    )
    one_line_error(refused, 1, "over the limit of 1999")
    allowed = run(
        "apply", "-k", "identity", "--max-pixels", "2000", tmp_path / "g.png", tmp_path / "o.png"
    )
    assert allowed.exit_code == 0


# --- what a review found ---------------------------------------------------------------------


def test_a_kernel_file_is_an_input_too(tmp_path: Path) -> None:
    images.gray8(tmp_path / "g.png")
    np.save(tmp_path / "k.npy", np.ones((3, 3)))
    before = (tmp_path / "k.npy").read_bytes()
    refused = run("apply", "-k", tmp_path / "k.npy", tmp_path / "g.png", tmp_path / "k.npy")
    one_line_error(
        refused, 2, f"is the input '{tmp_path / 'k.npy'}': writing over it needs --force"
    )
    assert (tmp_path / "k.npy").read_bytes() == before


def test_a_device_output_is_written_into_not_replaced(tmp_path: Path) -> None:
    images.gray8(tmp_path / "g.png")
    null = tmp_path / "null.png"
    null.symlink_to("/dev/null")
    result = run("apply", "-k", "vertical", tmp_path / "g.png", null)
    assert result.exit_code == 0, result.stderr
    assert Path("/dev/null").is_char_device()
    assert null.is_symlink()


def test_a_fifo_output_gets_the_image(tmp_path: Path) -> None:
    pixels = images.gray8(tmp_path / "g.png")
    fifo = tmp_path / "out.png"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    result = identity(tmp_path / "g.png", fifo)
    reader.join(timeout=10)
    assert result.exit_code == 0, result.stderr
    assert stat.S_ISFIFO(fifo.stat().st_mode)  # still a FIFO
    with Image.open(io.BytesIO(received[0])) as image:
        assert np.array_equal(np.asarray(image), pixels)


def test_an_unwritable_directory_is_found_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    images.gray8(tmp_path / "g.png")
    (tmp_path / "ro").mkdir()
    real_access = os.access
    monkeypatch.setattr(
        "convcli.imageio.files.os.access",
        lambda path, mode: False if Path(path).name == "ro" else real_access(path, mode),
    )
    monkeypatch.setattr("convcli.imageio.reading._PillowImage.decode", _must_not_decode)
    result = run("apply", "-k", "vertical", tmp_path / "g.png", tmp_path / "ro" / "o.png")
    one_line_error(result, 1, f"directory '{tmp_path / 'ro'}' is not writable")


@pytest.mark.parametrize(
    "args",
    [
        ["--depth", "16", "{g}", "{tmp}/o.jpg"],
        ["--color", "{a}", "{tmp}/o.bmp"],
        ["-k", "box:50", "{g}", "{tmp}/o.png"],
        ["--alpha", "weighted", "{a}", "{tmp}/o.png"],
    ],
)
def test_what_needs_no_pixels_is_checked_before_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    images.gray8(tmp_path / "g.png")
    images.rgba8(tmp_path / "a.png")
    monkeypatch.setattr("convcli.imageio.reading._PillowImage.decode", _must_not_decode)
    filled = [a.format(g=tmp_path / "g.png", a=tmp_path / "a.png", tmp=tmp_path) for a in args]
    result = run("apply", "-k", "vertical", *filled)
    assert result.exit_code in (1, 2)
    assert "must not decode" not in result.stderr


def _must_not_decode(*args: object, **kwargs: object) -> None:
    raise AssertionError("must not decode")


def test_sixteen_bit_into_an_8_bit_format_says_so(tmp_path: Path) -> None:
    # A smooth ramp: JPEG keeps it within a level or two, whatever random images came before.
    pixels = np.add.outer(np.arange(24) * 1000, np.arange(32) * 900).astype(np.uint16)
    Image.fromarray(pixels).save(tmp_path / "g.png")
    result = identity(tmp_path / "g.png", tmp_path / "o.jpg")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == (
        f"convcli: warning: {tmp_path / 'g.png'}: 16-bit input written as 8-bit"
        " (jpeg holds no 16-bit)\n"
    )
    expected = np.rint(pixels * (255 / 65535))
    assert np.abs(read_pixels(tmp_path / "o.jpg").astype(int) - expected).mean() < 2


@pytest.mark.parametrize("mode", ["L", "RGB", "I;16"])
def test_a_transparent_colour_is_carried_as_alpha(tmp_path: Path, mode: str) -> None:
    values, alpha = images.keyed(tmp_path / "k.png", mode)
    result = identity("--color", tmp_path / "k.png", tmp_path / "o.png", "--depth", "8")
    assert result.exit_code == 0, result.stderr
    written = read_pixels(tmp_path / "o.png")
    unit = 255 / alpha.max()  # 1 for 8-bit input, 255/65535 for 16-bit
    assert np.array_equal(written[..., -1], np.rint(alpha * unit))
    colour = written[..., :-1] if mode == "RGB" else written[..., 0]
    # Weighted by alpha: the transparent colour's pixels, which nobody sees, hold 0.
    opaque = alpha > 0 if mode != "RGB" else (alpha > 0)[..., np.newaxis]
    assert np.array_equal(colour, np.where(opaque, np.rint(values * unit), 0))


def test_a_truncated_npy_is_a_read_error(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", np.ones((40, 30)))
    data = (tmp_path / "a.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(data[: len(data) // 2])
    result = run("apply", "-k", "vertical", tmp_path / "cut.npy", tmp_path / "o.png")
    one_line_error(result, 1, "cannot read")
    assert not (tmp_path / "o.png").exists()


def test_float_output_that_overflows_float32_is_refused(tmp_path: Path) -> None:
    Image.fromarray(np.full((6, 5), 3.0e38, dtype=np.float32), mode="F").save(tmp_path / "f.tif")
    (tmp_path / "out.tif").write_bytes(b"keep me")
    result = run("apply", "-k", "box-3", "--scale", "9", tmp_path / "f.tif", tmp_path / "out.tif")
    one_line_error(result, 1, "overflows 32-bit float output")
    assert (tmp_path / "out.tif").read_bytes() == b"keep me"


def test_sixteen_bit_gray_is_computed_in_float64(tmp_path: Path) -> None:
    values = np.random.default_rng(3).integers(0, 65536, (40, 50)).astype(np.uint16)
    Image.fromarray(values).save(tmp_path / "g.png")
    result = run(
        "apply", "-k", "gaussian:2", "--padding", "same", tmp_path / "g.png", tmp_path / "o.png"
    )
    assert result.exit_code == 0, result.stderr
    step = resolve_kernel("gaussian:2")
    assert isinstance(step, Kernel)
    kernel = step.weights * step.scale
    pad = kernel.shape[0] // 2
    expected = to_pixels(
        convolve2d(values.astype(np.float64), kernel, padding=pad), "clip", max_value=65535
    )
    assert np.array_equal(read_pixels(tmp_path / "o.png"), expected)


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("fmt", ["tiff", "png", "npy"])
def test_a_full_disk_is_a_write_error_naming_the_output(tmp_path: Path, fmt: str) -> None:
    images.rgba8(tmp_path / "a.png", 300, 300)  # more than a write buffer: fails mid-encoding
    alpha = ["--no-alpha"] if fmt == "npy" else []
    result = run(
        "apply", "-k", "vertical", *alpha, "--format", fmt, tmp_path / "a.png", "/dev/full"
    )
    one_line_error(result, 1, "cannot write '/dev/full': No space left on device")


def test_webp_keeps_the_colour_under_transparent_pixels(tmp_path: Path) -> None:
    # Lossless WebP drops the colour of pixels whose alpha is 0 unless told to keep it exact;
    # convcli's WebP holds what PNG holds.
    source = tmp_path / "in.png"
    pixels = np.random.default_rng(3).integers(0, 256, (12, 14, 4), np.uint8)
    pixels[..., 3] = np.where(np.random.default_rng(4).random((12, 14)) < 0.5, 0, 255)
    Image.fromarray(pixels, "RGBA").save(source)
    for suffix in (".png", ".webp"):
        result = run("apply", "-k", "identity", "--color", source, tmp_path / f"out{suffix}")
        assert result.exit_code == 0, result.stderr
    with Image.open(tmp_path / "out.png") as png, Image.open(tmp_path / "out.webp") as webp:
        assert np.array_equal(np.asarray(png), np.asarray(webp))


@pytest.mark.parametrize(
    ("args", "rule"),
    [
        (["-k", "gaussian-3"], "weighted"),
        (["-k", "sobel"], "carry"),
        (["-k", "vertical", "--alpha", "channel"], "channel"),
        (["-k", "gaussian-3", "--no-alpha"], None),
    ],
)
def test_json_and_explain_say_which_alpha_rule_ran(
    tmp_path: Path, args: list[str], rule: str | None
) -> None:
    images.rgba8(tmp_path / "a.png")
    result = run("apply", *args, "--json", "--explain", tmp_path / "a.png", tmp_path / "o.png")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["alpha"] == rule
    last = result.stderr.splitlines()[-1]
    assert last.endswith(f"; alpha {rule}") if rule else "alpha" not in last


def test_weighted_alpha_refuses_an_edge_kernel_before_any_work(tmp_path: Path) -> None:
    images.rgba8(tmp_path / "a.png")
    result = run("apply", "-k", "vertical", "--alpha", "weighted", tmp_path / "a.png",
                 tmp_path / "o.png")  # fmt: skip
    one_line_error(result, 2, "--alpha weighted needs kernels whose weights sum to more than 0")
    assert not (tmp_path / "o.png").exists()
