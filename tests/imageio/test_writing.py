"""Writing results: which format holds what, exact encoding, and writes that lose nothing."""

from __future__ import annotations

import io
import os
import re
import stat
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from convcli import ImageWriteError, ParameterError
from convcli.imageio.files import write_atomically, write_file, write_stream
from convcli.imageio.writing import (
    FORMATS,
    OutputFormat,
    check_format_holds,
    choose_format,
    encode_into,
    output_mode,
)

RNG = np.random.default_rng(4)

PLANES: dict[str, tuple[npt.NDArray[Any], npt.NDArray[Any] | None]] = {
    "L": (RNG.integers(0, 256, (5, 7), dtype=np.uint8), None),
    "LA": (RNG.integers(0, 256, (5, 7), dtype=np.uint8),
           RNG.integers(0, 256, (5, 7), dtype=np.uint8)),
    "RGB": (RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8), None),
    "RGBA": (RNG.integers(0, 256, (5, 7, 3), dtype=np.uint8),
             RNG.integers(0, 256, (5, 7), dtype=np.uint8)),
    "I;16": (RNG.integers(0, 65536, (5, 7), dtype=np.uint16), None),
    "F": (RNG.random((5, 7), dtype=np.float32), None),
}  # fmt: skip


def encode(
    values: npt.NDArray[Any], alpha: npt.NDArray[Any] | None, mode: str, fmt: OutputFormat
) -> bytes:
    """The bytes of a file holding `values` (and `alpha`) as `mode` in `fmt`."""
    buffer = io.BytesIO()
    encode_into(buffer, values, alpha, mode, fmt)
    return buffer.getvalue()


def planes_of(data: bytes) -> npt.NDArray[Any]:
    """What a file holds, as one array: gray/colour planes, then alpha."""
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("L") if image.mode == "P" else image)


@pytest.mark.parametrize("name", [name for name in FORMATS if name != "npy"])
@pytest.mark.parametrize("mode", list(PLANES))
def test_every_format_holds_what_it_claims_exactly(name: str, mode: str) -> None:
    fmt = FORMATS[name]
    values, alpha = PLANES[mode]
    if mode not in fmt.modes:
        with pytest.raises(ParameterError, match=f"^{name} cannot hold "):
            check_format_holds(fmt, mode)
        return
    written = planes_of(encode(values, alpha, mode, fmt))
    expected = values if alpha is None else np.dstack([values, alpha])
    if name == "webp" and expected.ndim == 2:  # no gray mode: three equal channels
        assert (written == written[..., :1]).all()
        written = written[..., 0]
    if name == "webp" and mode == "LA":
        written = np.dstack([written[..., 0], written[..., 3]])
    assert written.shape == expected.shape
    if name == "jpeg":  # lossy: random noise would not survive, a smooth image does
        smooth = np.linspace(0, 255, expected.size).reshape(expected.shape).astype(np.uint8)
        written = planes_of(encode(smooth, None, mode, fmt))
        assert np.abs(written.astype(int) - smooth).max() <= 12
    else:
        assert np.array_equal(written, expected)


def test_npy_holds_float64_and_alpha_as_a_last_channel() -> None:
    values = np.random.default_rng(4).normal(size=(3, 4))
    alpha = np.full((3, 4), 255.0)
    array = np.load(io.BytesIO(encode(values, alpha, "npy", FORMATS["npy"])))
    assert array.dtype == np.float64
    assert np.array_equal(array, np.dstack([values, alpha]))
    alone = np.load(io.BytesIO(encode(values, None, "npy", FORMATS["npy"])))
    assert np.array_equal(alone, values)


@pytest.mark.parametrize(
    ("channels", "alpha", "depth", "mode"),
    [(1, False, "8", "L"), (1, True, "8", "LA"), (3, False, "8", "RGB"), (3, True, "8", "RGBA"),
     (1, False, "16", "I;16"), (1, False, "float", "F")],
)  # fmt: skip
def test_output_modes(channels: int, alpha: bool, depth: Any, mode: str) -> None:
    assert output_mode(channels=channels, alpha=alpha, depth=depth) == mode


@pytest.mark.parametrize(
    ("channels", "alpha", "depth", "message"),
    [
        (3, False, "16", "16-bit colour output is not supported (Pillow has no such mode)"),
        (3, False, "float", "float colour output is not supported"),
        (1, True, "16", "16-bit output with alpha is not supported; use --depth 8, --no-alpha"),
        (2, False, "8", "an image of 2 channels can only be written as .npy"),
    ],
)
def test_output_modes_pillow_cannot_hold(
    channels: int, alpha: bool, depth: Any, message: str
) -> None:
    with pytest.raises(ParameterError, match=re.escape(message)):
        output_mode(channels=channels, alpha=alpha, depth=depth)


def test_format_refusals_name_the_formats_that_can() -> None:
    with pytest.raises(ParameterError) as caught:
        check_format_holds(FORMATS["jpeg"], "I;16")
    assert str(caught.value) == "jpeg cannot hold 16-bit gray; png, tiff or jp2 can"
    with pytest.raises(ParameterError, match=r"^bmp cannot hold 8-bit colour with alpha; png,"):
        check_format_holds(FORMATS["bmp"], "RGBA")


@pytest.mark.parametrize(
    ("destination", "requested", "expected"),
    [("a.png", None, "png"), ("a.JPG", None, "jpeg"), ("a.jpeg", None, "jpeg"),
     ("a.tif", None, "tiff"), ("a.npy", None, "npy"), ("a.pgm", None, "pgm"),
     ("-", None, "png"), ("-", "jpg", "jpeg"), ("-", "NPY", "npy"), ("-", ".tiff", "tiff"),
     ("out", None, "png"), ("out", "webp", "webp"), ("a.png", "png", "png")],
)  # fmt: skip
def test_choose_format(destination: str, requested: str | None, expected: str) -> None:
    assert choose_format(destination, requested).name == expected


@pytest.mark.parametrize(
    ("destination", "requested", "message"),
    [
        ("out.xyz", None, "output 'out.xyz' has the extension '.xyz', which names no format"),
        (
            "out.ico",
            None,
            "output 'out.ico' has the extension '.ico', which names no format"
            " convcli writes; use one of .png, .tif, .tiff, .jpg, .jpeg, .bmp",
        ),  # would shrink it
        ("out.pbm", None, "output 'out.pbm' has the extension '.pbm'"),  # a PGM renamed
        ("-", "ico", "--format 'ico' is not a format convcli writes; use one of png"),
        ("a.png", "jpeg", "--format jpeg disagrees with the extension of 'a.png'"),
    ],
)
def test_choose_format_refusals(destination: str, requested: str | None, message: str) -> None:
    with pytest.raises(ParameterError, match=f"^{re.escape(message)}"):
        choose_format(destination, requested)


# --- writes that lose nothing ----------------------------------------------------------------


def test_write_file_creates_with_the_usual_permissions(tmp_path: Path) -> None:
    path = tmp_path / "out.png"
    umask = os.umask(0o022)
    try:
        write_file(path, lambda stream: stream.write(b"data"))
    finally:
        os.umask(umask)
    assert path.read_bytes() == b"data"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_replaced_files_keep_their_permissions(tmp_path: Path) -> None:
    path = tmp_path / "out.png"
    path.write_bytes(b"old")
    path.chmod(0o600)
    write_file(path, lambda stream: stream.write(b"new"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "out.png"
    path.write_bytes(b"precious")

    def fail_halfway(stream: IO[bytes]) -> None:
        stream.write(b"partial")
        raise OSError(28, "No space left on device")

    with pytest.raises(
        ImageWriteError, match=r"^cannot write '.*out\.png': No space left on device$"
    ):
        write_atomically(path, fail_halfway)
    assert path.read_bytes() == b"precious"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_an_interrupted_write_leaves_nothing(tmp_path: Path) -> None:
    def interrupted(stream: IO[bytes]) -> None:
        stream.write(b"partial")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_atomically(tmp_path / "out.png", interrupted)
    assert list(tmp_path.iterdir()) == []


def test_an_encoder_error_is_an_image_write_error() -> None:
    with pytest.raises(ImageWriteError, match=r"^cannot encode png \(RGB\): "):
        encode(np.zeros((2, 2), dtype=np.uint8), None, "RGB", FORMATS["png"])


@pytest.mark.parametrize(
    ("relative", "message"),
    [("missing/out.png", "directory '.*missing' does not exist"),
     ("file.txt/out.png", "'.*file.txt' is not a directory"),
     ("adir", "it is a directory")],
)  # fmt: skip
def test_unwritable_destinations(tmp_path: Path, relative: str, message: str) -> None:
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "adir").mkdir()
    with pytest.raises(ImageWriteError, match=f"^cannot write '.*': {message}$"):
        write_file(tmp_path / relative, lambda stream: stream.write(b"data"))


def test_a_symbolic_link_is_written_through(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "target.png"
    target.write_bytes(b"old")
    link = tmp_path / "link.png"
    link.symlink_to(target)
    write_file(link, lambda stream: stream.write(b"new"))
    assert link.is_symlink()
    assert target.read_bytes() == b"new"
    assert [p.name for p in (tmp_path / "real").iterdir()] == ["target.png"]


def test_a_dangling_symbolic_link_creates_its_target(tmp_path: Path) -> None:
    link = tmp_path / "link.png"
    link.symlink_to(tmp_path / "new.png")
    write_file(link, lambda stream: stream.write(b"new"))
    assert link.is_symlink()
    assert (tmp_path / "new.png").read_bytes() == b"new"


class _ClosedPipe(io.BytesIO):
    def write(self, data: Any) -> int:
        raise BrokenPipeError(32, "Broken pipe")


class _FullDisk(io.BytesIO):
    def write(self, data: Any) -> int:
        raise OSError(28, "No space left on device")


def test_stream_failures_are_write_errors() -> None:
    with pytest.raises(ImageWriteError, match=r"^cannot write '-': the reader closed the pipe$"):
        write_stream(_ClosedPipe(), b"data")
    with pytest.raises(ImageWriteError, match=r"^cannot write '-': No space left on device$"):
        write_stream(_FullDisk(), b"data")


def test_temporaries_left_by_killed_writers_are_removed_and_nothing_else(tmp_path: Path) -> None:
    from convcli.imageio.files import remove_left_temporaries

    out = tmp_path / "out"
    out.mkdir()
    written = [out / "a.png", out / "b.v2.png"]
    for path in written:
        path.write_bytes(b"image")
    left = [out / ".a.png.k3j_9x2q.tmp", out / ".b.v2.png.zz81mm0a.tmp"]
    kept = [
        out / ".c.png.abcdefgh.tmp",  # another file's: not this batch's
        out / ".a.png.notes",  # not a temporary file
        out / "a.png.abcdefgh.tmp",  # no leading dot: not one write_atomically makes
    ]
    for path in left + kept:
        path.write_bytes(b"partial")
    assert remove_left_temporaries(written) == 2
    assert sorted(out.iterdir()) == sorted(written + kept)
    assert remove_left_temporaries([tmp_path / "missing" / "x.png"]) == 0
