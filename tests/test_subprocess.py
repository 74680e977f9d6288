"""Real runs of the installed ``convcli`` command, checking the files it writes."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from convcli import convolve2d
from convcli.kernels.registry import get_kernel
from convcli.pipeline.rangemap import to_pixels
from tests.cli_helpers import convcli_executable, run_installed
from tests.conftest import SAMPLE_IMAGES, read_pixels, vertical_bar

SAMPLES = SAMPLE_IMAGES


def test_vertical_lights_up_the_bar_edges(bar_png: Path, tmp_path: Path) -> None:
    out = tmp_path / "edges.png"
    done = run_installed("apply", "--kernel", "vertical", bar_png, out)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    # The bar covers input columns 10..19 (200 on 30). Output column c sees input columns
    # c..c+2, so windows 8 and 9 straddle the left edge and 18 and 19 the right one:
    # |3 * (30 - 200)| = 510, clipped to 255. Every other window is flat: 0.
    expected = np.zeros((18, 28), dtype=np.uint8)
    expected[:, [8, 9, 18, 19]] = 255
    assert np.array_equal(read_pixels(out), expected)


def test_horizontal_leaves_the_bar_edges_dark(bar_png: Path, tmp_path: Path) -> None:
    out = tmp_path / "edges.png"
    done = run_installed("apply", "--kernel", "horizontal", bar_png, out)
    assert done.returncode == 0, done.stderr
    assert not read_pixels(out).any()


def test_a_sample_photograph(tmp_path: Path) -> None:
    out = tmp_path / "chelsea-sobel.jpg"
    done = run_installed(
        "apply", "-k", "sobel-x", "--padding", "same", SAMPLES / "chelsea.png", out
    )
    assert done.returncode == 0, done.stderr
    with Image.open(out) as image:
        assert image.format == "JPEG"
        assert image.mode == "L"
        assert (image.height, image.width) == (300, 451)
        edges = np.asarray(image)
    # A photograph's edge map is mostly dark with some strong responses.
    assert np.median(edges) < 60
    assert edges.max() > 200


def test_python_dash_m(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "convcli", "shape", "--input", "300x451", "--kernel-size", "3"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "output 298x449"


def test_errors_from_a_real_process(tmp_path: Path) -> None:
    done = run_installed("apply", "-k", "vertical", tmp_path / "missing.png", tmp_path / "out.png")
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == f"convcli: error: cannot read '{tmp_path}/missing.png': no such file\n"
    usage = run_installed(
        "apply", "-k", "vertical", "--stride", "0", tmp_path / "a.png", tmp_path / "b.png"
    )
    assert usage.returncode == 2
    assert usage.stderr.count("\n") == 1
    assert not list(tmp_path.iterdir())


def test_long_error_lines_are_not_wrapped(tmp_path: Path) -> None:
    deep = tmp_path / ("a-rather-long-directory-name-" * 4)
    done = run_installed("apply", "-k", "vertical", deep / "missing.png", tmp_path / "out.png")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1


def start_blocked_on_input(tmp_path: Path, output: Path) -> tuple[subprocess.Popen[str], int]:
    """Start ``convcli apply`` on a FIFO, and hold the FIFO open without writing to it.

    Returns the process, blocked reading its input, and the FIFO's write end (to close).
    """
    fifo = tmp_path / "input.png"
    os.mkfifo(fifo)
    process = subprocess.Popen(
        [convcli_executable(), "apply", "-k", "vertical", str(fifo), str(output)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while True:  # a non-blocking open for writing succeeds once convcli has opened the FIFO
        try:
            writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError as error:
            if error.errno != errno.ENXIO or time.monotonic() > deadline:
                process.kill()
                raise
            time.sleep(0.02)
    # A signal that lands just before the blocking read starts would only be seen after it ends:
    # wait until the process sleeps in that read.
    stat = Path(f"/proc/{process.pid}/stat")
    while time.monotonic() < deadline and stat.read_text().rsplit(")", 1)[1].split()[0] != "S":
        time.sleep(0.02)
    time.sleep(0.1)
    return process, writer


@pytest.mark.parametrize(
    ("sent", "code", "stderr"),
    [(signal.SIGINT, 130, "convcli: error: interrupted\n"), (signal.SIGTERM, 143, "")],
)
def test_a_signal_stops_cleanly_and_destroys_nothing(
    tmp_path: Path, sent: signal.Signals, code: int, stderr: str
) -> None:
    output = tmp_path / "out.png"
    output.write_bytes(b"precious")
    process, writer = start_blocked_on_input(tmp_path, output)
    try:
        process.send_signal(sent)
        out, err = process.communicate(timeout=30)
    finally:
        os.close(writer)
    assert process.returncode == code
    assert out == ""
    assert err == stderr
    assert output.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input.png", "out.png"]


def test_a_kernel_file_beside_a_builtin_name(tmp_path: Path) -> None:
    # A file called "vertical" does not hide the built-in; "./vertical" reads the file.
    (tmp_path / "vertical").write_text("0 0 0\n0 2 0\n0 0 0\n")
    image = tmp_path / "bar.png"
    Image.fromarray(vertical_bar()).save(image)
    builtin = run_installed("apply", "-k", "vertical", "bar.png", "a.png", cwd=tmp_path)
    from_file = run_installed("apply", "-k", "./vertical", "bar.png", "b.png", cwd=tmp_path)
    assert builtin.returncode == from_file.returncode == 0, builtin.stderr + from_file.stderr
    assert read_pixels(tmp_path / "a.png")[:, [8, 9, 18, 19]].min() == 255  # edges
    doubled = np.clip(vertical_bar()[1:-1, 1:-1].astype(int) * 2, 0, 255)
    assert np.array_equal(read_pixels(tmp_path / "b.png"), doubled)  # twice the bar, clipped


def test_a_real_pipeline(tmp_path: Path) -> None:
    # convcli apply -k gaussian-3 - - < a.png | convcli apply -k vertical - b.png
    image = tmp_path / "a.png"
    Image.fromarray(vertical_bar(24, 32)).save(image)
    with image.open("rb") as stdin, (tmp_path / "first.err").open("wb") as first_err:
        first = subprocess.Popen(
            [convcli_executable(), "apply", "-k", "gaussian-3", "-", "-"],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=first_err,
        )
        second = subprocess.run(
            [convcli_executable(), "apply", "-k", "vertical", "-", str(tmp_path / "b.png")],
            stdin=first.stdout,
            capture_output=True,
            timeout=120,
        )
        assert first.stdout is not None
        first.stdout.close()
        assert first.wait(timeout=120) == 0
    assert (tmp_path / "first.err").read_bytes() == b""
    assert second.returncode == 0, second.stderr
    assert second.stdout == b""
    blurred = to_pixels(convolve2d(vertical_bar(24, 32), get_kernel("gaussian-3").weights), "clip")
    expected = to_pixels(convolve2d(blurred, get_kernel("vertical").weights), "abs")
    assert np.array_equal(read_pixels(tmp_path / "b.png"), expected)


@pytest.mark.parametrize(("sent", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_while_writing_in_parts_leaves_no_partial_file(
    tmp_path: Path, sent: signal.Signals, code: int
) -> None:
    import tifffile

    pixels = np.random.default_rng(0).integers(0, 256, (3000, 2000), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "in.tif", pixels, tile=(256, 256))
    output = tmp_path / "out.tif"
    output.write_bytes(b"precious")
    process = subprocess.Popen(
        [convcli_executable(), "apply", "-k", "gaussian:4", "--method", "direct",
         str(tmp_path / "in.tif"), str(output)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".out.tif.*.tmp")):  # writing has begun, into a temporary
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.01)
    time.sleep(0.2)  # some bands written
    process.send_signal(sent)
    _, err = process.communicate(timeout=60)
    assert process.returncode == code, err
    assert output.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.tif", "out.tif"]
