"""``convcli show`` and ``apply --preview``: what a terminal receives, and what a pipe does not.

CliRunner's stdout is no terminal; FORCE_COLOR (and COLUMNS, LINES) make Rich treat it as one
of a known size. A real process on a pseudo-terminal checks the same without them.
"""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from convcli.terminal.preview import HALF_BLOCK, display_pixels, fit
from tests import images
from tests.cli_helpers import TERMINAL, convcli_executable, run, run_installed
from tests.conftest import read_gray, read_pixels, vertical_bar
from tests.pseudo_terminal import Cell, plain, read_cells, read_terminal, text_of

SHOW_NOTICE = "convcli: stdout is not a terminal; show draws only on a terminal\n"
PREVIEW_NOTICE = "convcli: stdout is not a terminal; --preview draws only on a terminal\n"


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Short relative names, so that captions are short and known."""
    monkeypatch.chdir(tmp_path)


def colours(lines: list[list[Cell]], start: int = 0, stop: int | None = None) -> Any:
    """The pixels drawn in cells start..stop of `lines`: (2 x lines, cells, 3), the bottom
    half of an odd last line missing (-1)."""
    rows = []
    for line in lines:
        cells = line[start:stop]
        assert all(cell.char == HALF_BLOCK for cell in cells)
        rows.append([cell.fg for cell in cells])
        rows.append([cell.bg if cell.bg is not None else (-1, -1, -1) for cell in cells])
    return np.array(rows)


def as_rgb(pixels: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Gray (H, W) as the equal channels a terminal gets, an odd height padded with -1."""
    rgb = np.repeat(pixels[..., np.newaxis], 3, axis=2) if pixels.ndim == 2 else pixels
    rgb = rgb.astype(int)
    if len(rgb) % 2:
        rgb = np.concatenate([rgb, np.full((1, *rgb.shape[1:]), -1)])
    return rgb


# --- show ------------------------------------------------------------------------------------


def test_show_draws_a_colour_image_pixel_for_pixel() -> None:
    pixels = images.rgb8(Path("c.png"), 6, 9)
    result = run("show", "c.png", terminal=True)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    caption, *picture = read_cells(result.stdout)
    assert text_of(caption) == "c.png 6x9"
    assert len(picture) == 3
    assert np.array_equal(colours(picture), as_rgb(pixels))


def test_show_draws_images_side_by_side() -> None:
    gray = images.gray8(Path("a.png"), 5, 9)
    rgb = images.rgb8(Path("b.png"), 4, 9)
    result = run("show", "a.png", "b.png", terminal=True)
    assert result.exit_code == 0, result.stderr
    caption, *picture = read_cells(result.stdout)
    assert text_of(caption) == "a.png 5x9  b.png 4x9"
    assert len(picture) == 3
    assert np.array_equal(colours(picture, 0, 9), as_rgb(gray))
    assert [text_of(line)[9:11] for line in picture[:2]] == ["  "] * 2
    assert np.array_equal(colours(picture[:2], 11, 20), as_rgb(rgb))
    assert text_of(picture[2]) == HALF_BLOCK * 9  # nothing under the shorter one


def test_show_on_no_terminal_says_so_and_draws_nothing() -> None:
    images.gray8(Path("a.png"))
    result = run("show", "a.png", terminal=False)
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == SHOW_NOTICE


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "pipe"])
def test_show_errors_are_one_line_and_exit_1(terminal: bool) -> None:
    Path("text.png").write_text("not an image")
    images.gray8(Path("a.png"))
    for name, message in [
        ("missing.png", "cannot read 'missing.png': no such file"),
        ("text.png", "cannot read 'text.png': not an image format Pillow knows"),
    ]:
        result = run("show", "a.png", name, terminal=terminal)
        assert result.exit_code == 1
        assert result.stdout == ""  # nothing drawn, not even the good image
        assert plain(result.stderr) == f"convcli: error: {message}\n"


def test_show_16_bit_by_its_full_scale() -> None:
    pixels = images.gray16(Path("g.png"), 4, 7)
    result = run("show", "g.png", terminal=True)
    assert result.exit_code == 0, result.stderr
    _, *picture = read_cells(result.stdout)
    expected = np.floor(pixels / 257 + 0.5).astype(int)
    assert np.array_equal(colours(picture), as_rgb(expected))
    assert colours(picture)[0, 0, 0] == 255  # 65535


def test_show_unitless_values_from_their_min_to_their_max() -> None:
    np.save("f.npy", np.array([[-2.0, 0.0, 1.0, 4.0], [1.0, 1.0, 1.0, 1.0]]))
    result = run("show", "f.npy", terminal=True)
    assert result.exit_code == 0, result.stderr
    _, picture = read_cells(result.stdout)
    # -2..4 onto 0..255: 0, 85, 127.5, 255 on top; 127.5 below.
    assert [cell.fg for cell in picture] == [(0,) * 3, (85,) * 3, (128,) * 3, (255,) * 3]
    assert {cell.bg for cell in picture} == {(128,) * 3}


def test_show_values_near_the_largest_float() -> None:
    np.save("h.npy", np.array([[1e308, -1e308], [0.0, 1.0]] * 5))
    result = run("show", "h.npy", terminal=True)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    _, *picture = read_cells(result.stdout)
    assert [[cell.fg for cell in line] for line in picture] == [[(255,) * 3, (0,) * 3]] * 5
    assert [[cell.bg for cell in line] for line in picture] == [[(128,) * 3] * 2] * 5


def test_show_an_npy_of_three_channels_is_colour_and_of_four_is_refused() -> None:
    np.save("c.npy", np.zeros((2, 2, 3)))
    assert run("show", "c.npy", terminal=True).exit_code == 0
    np.save("x.npy", np.zeros((2, 2, 4)))
    result = run("show", "x.npy", terminal=True)
    assert result.exit_code == 1
    assert plain(result.stderr) == (
        "convcli: error: cannot draw 'x.npy': it has 4 channels; a picture has 1 (gray) or 3"
        " (colour)\n"
    )


def test_show_turns_a_photograph_upright_unless_told_not_to() -> None:
    upright = images.oriented(Path("o.png"), 6)  # stored 2x3, upright 3x2
    result = run("show", "o.png", terminal=True)
    assert result.exit_code == 0, result.stderr
    caption, *picture = read_cells(result.stdout)
    assert text_of(caption) == "o.png 3x2"
    assert np.array_equal(colours(picture), as_rgb(upright))
    result = run("show", "--no-auto-orient", "o.png", terminal=True)
    assert text_of(read_cells(result.stdout)[0]) == "o.png 2x3"


def test_show_turns_a_png_whose_orientation_comes_after_its_pixels() -> None:
    stored = np.random.default_rng(6).integers(0, 256, (30, 45), dtype=np.uint8)
    exif = Image.Exif()
    exif[0x0112] = 6  # turn clockwise: upright 45x30
    Image.fromarray(stored).save("late.png", exif=exif.tobytes())
    images.exif_after_pixels(Path("late.png"))
    result = run("show", "--width", "20", "late.png", terminal=True)
    assert result.exit_code == 0, result.stderr
    caption, *picture = read_cells(result.stdout)
    assert text_of(caption) == "late.png 45x30"
    upright = np.rot90(stored, k=-1)
    expected = display_pixels(upright, fit((45, 30), 20), max_value=255)  # 30x20, not 13x20
    assert np.array_equal(colours(picture), as_rgb(expected))


def test_show_composites_alpha_over_black() -> None:
    pixels = images.rgba8(Path("t.png"), 2, 5)
    result = run("show", "t.png", terminal=True)
    assert result.exit_code == 0, result.stderr
    _, *picture = read_cells(result.stdout)
    opacity = pixels[..., 3:].astype(float) / 255
    expected = np.floor(pixels[..., :3] * opacity + 0.5).astype(int)
    assert np.array_equal(colours(picture), expected)


def test_show_refuses_what_max_pixels_refuses() -> None:
    images.gray8(Path("a.png"), 6, 9)
    result = run("show", "--max-pixels", "50", "a.png", terminal=True)
    assert result.exit_code == 1
    assert "claims 6x9 = 54 pixels, over the limit of 50" in result.stderr


def test_show_reads_standard_input_once() -> None:
    pixels = images.gray8(Path("a.png"), 2, 3)
    result = run("show", "-", stdin=Path("a.png").read_bytes(), terminal=True)
    assert result.exit_code == 0, result.stderr
    caption, *picture = read_cells(result.stdout)
    assert text_of(caption) == "- 2x3"
    assert np.array_equal(colours(picture), as_rgb(pixels))
    twice = run("show", "-", "-", stdin=b"", terminal=True)
    assert twice.exit_code == 2
    assert "give - at most once" in twice.stderr


@pytest.mark.parametrize("names", [["fifo", "fifo"], ["fifo", "./fifo"]])
def test_show_refuses_a_named_pipe_given_twice(names: list[str]) -> None:
    os.mkfifo("fifo")
    # No writer: a second read would wait for one for ever. Nothing is read before the refusal.
    done = run_installed("show", *names, timeout=30)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        "convcli: error: 'fifo' is a named pipe or a device, which can be read only once: give"
        " it at most once\n"
    )


def test_show_without_colour_draws_the_ramp() -> None:
    Image.fromarray(np.array([[0, 255, 0], [0, 255, 255]], dtype=np.uint8)).save("r.png")
    result = run("show", "r.png", NO_COLOR="1", terminal=True)
    assert result.exit_code == 0, result.stderr
    assert "\x1b[38" not in result.stdout
    assert [text_of(line) for line in read_cells(result.stdout)] == ["r.png 2x3", " @="]


def test_show_fits_the_terminal_unless_given_a_width() -> None:
    images.gray8(Path("tall.png"), 100, 20)
    fitted = read_cells(run("show", "tall.png", LINES="10", terminal=True).stdout)
    # 8 lines free (a caption's, a prompt's): 16 pixel rows, 100x20 -> 15x3.
    assert len(fitted) == 1 + 8
    assert {len(line) for line in fitted[1:]} == {3}
    wide = read_cells(run("show", "--width", "10", "tall.png", LINES="10", terminal=True).stdout)
    assert len(wide) == 1 + 25  # 10 wide: 50 pixel rows, whatever the height
    assert {len(line) for line in wide[1:]} == {10}


def test_show_fits_images_one_under_another_in_the_terminal_together() -> None:
    for name in ("a.png", "b.png"):
        images.gray8(Path(name), 100, 100)
    drawn = read_cells(
        run("show", "a.png", "b.png", COLUMNS="30", LINES="20", terminal=True).stdout
    )
    assert len(drawn) == 20 - 1  # the prompt's line left free
    assert text_of(drawn[0]).rstrip() == "a.png 100x100"


def test_show_width_may_be_wider_than_the_terminal() -> None:
    images.gray8(Path("w.png"), 10, 100)
    drawn = read_cells(run("show", "--width", "60", "w.png", COLUMNS="20", terminal=True).stdout)
    assert [len(line) for line in drawn[1:]] == [60] * 3  # 10x100 -> 6x60


# --- apply --preview -------------------------------------------------------------------------


@pytest.fixture
def bar() -> Path:
    Image.fromarray(vertical_bar()).save("bar.png")  # 20x30
    return Path("bar.png")


def test_preview_draws_the_input_beside_the_output(bar: Path) -> None:
    result = run("apply", "-k", "vertical", "--preview", bar, "out.png", terminal=True)
    assert result.exit_code == 0, result.stderr
    caption, *picture = read_cells(result.stdout)
    assert text_of(caption) == "bar.png 20x30" + " " * 19 + "out.png 18x28"
    assert len(picture) == 10
    assert np.array_equal(colours(picture, 0, 30), as_rgb(vertical_bar()))
    assert np.array_equal(colours(picture[:9], 32), as_rgb(read_pixels(Path("out.png"))))


def test_preview_leaves_the_line_it_wrote_on_the_terminal() -> None:
    images.gray8(Path("tall.png"), 100, 50)
    result = run(
        "apply", "-k", "box-3", "--preview", "tall.png", "out.png", LINES="12", terminal=True
    )
    assert result.exit_code == 0, result.stderr
    assert plain(result.stderr).startswith("wrote out.png: ")
    drawn = read_cells(result.stdout)
    # 12 lines less the prompt's, the one on stderr and the captions': 9 lines of pictures.
    assert len(drawn) == 1 + 9


def test_preview_shows_what_landed_in_the_file(tmp_path: Path) -> None:
    pixels = np.random.default_rng(3).integers(0, 256, (8, 12), dtype=np.uint8)
    Image.fromarray(pixels).save("in.png")
    result = run("apply", "-k", "gaussian-3", "--preview", "in.png", "out.jpg", terminal=True)
    assert result.exit_code == 0, result.stderr
    _, *picture = read_cells(result.stdout)
    written = read_pixels(Path("out.jpg"))  # JPEG: not quite what was computed
    assert np.array_equal(colours(picture[:3], 14), as_rgb(written))


def test_preview_shows_the_input_gray_unless_color() -> None:
    pixels = images.rgb8(Path("c.png"), 6, 9)
    result = run("apply", "-k", "gaussian-3", "--preview", "c.png", "gray.png", terminal=True)
    _, *picture = read_cells(result.stdout)
    gray = np.floor(read_gray(Path("c.png")) + 0.5).astype(int)
    assert np.array_equal(colours(picture, 0, 9), as_rgb(gray))
    result = run(
        "apply", "-k", "gaussian-3", "--color", "--preview", "c.png", "colour.png", terminal=True
    )
    _, *picture = read_cells(result.stdout)
    assert np.array_equal(colours(picture, 0, 9), as_rgb(pixels))
    assert np.array_equal(colours(picture[:2], 11), as_rgb(read_pixels(Path("colour.png"))))


def test_preview_on_no_terminal_writes_the_output_and_says_so(bar: Path) -> None:
    result = run("apply", "-k", "vertical", "--preview", bar, "out.png", terminal=False)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr == PREVIEW_NOTICE
    assert read_pixels(Path("out.png")).shape == (18, 28)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bar.png", "-"], "--preview prints on stdout, so OUTPUT cannot be '-' with it"),
        (["--json", "bar.png", "o.png"], "--preview and --json both print on stdout"),
        (["bar.png", "--out-dir", "d"], "--preview is for one file: give INPUT and OUTPUT"),
        (["bar.png", "/dev/null"], "--preview reads OUTPUT back, so it must be a file"),
    ],
)
def test_preview_refuses_what_cannot_work(bar: Path, args: list[str], message: str) -> None:
    for terminal in (True, False):
        result = run("apply", "-k", "vertical", "--preview", *args, terminal=terminal)
        assert result.exit_code == 2
        assert message in result.stderr
        assert result.stdout == ""
    assert sorted(p.name for p in Path().iterdir()) == ["bar.png"]


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "pipe"])
def test_preview_of_what_cannot_be_drawn_still_writes_and_succeeds(terminal: bool) -> None:
    np.save("c2.npy", np.random.default_rng(1).random((40, 60, 2)))
    result = run("apply", "-k", "vertical", "--preview", "c2.npy", "o.npy", terminal=terminal)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert np.load("o.npy").shape == (38, 58, 2)
    if terminal:
        assert plain(result.stderr).endswith(
            "convcli: warning: --preview cannot draw 'c2.npy': it has 2 channels; a picture"
            " has 1 (gray) or 3 (colour)\n"
        )
    else:
        assert result.stderr == PREVIEW_NOTICE


def test_preview_of_standard_input(bar: Path) -> None:
    result = run(
        "apply",
        "-k",
        "vertical",
        "--preview",
        "-",
        "out.png",
        stdin=bar.read_bytes(),
        terminal=True,
    )
    assert result.exit_code == 0, result.stderr
    caption, *picture = read_cells(result.stdout)
    assert text_of(caption).startswith("- 20x30 ")
    assert np.array_equal(colours(picture, 0, 30), as_rgb(vertical_bar()))
    assert read_pixels(Path("out.png")).shape == (18, 28)


def test_preview_over_the_input_shows_the_input_as_it_was(bar: Path) -> None:
    result = run("apply", "-k", "vertical", "--force", "--preview", bar, bar, terminal=True)
    assert result.exit_code == 0, result.stderr
    _, *picture = read_cells(result.stdout)
    assert np.array_equal(colours(picture, 0, 30), as_rgb(vertical_bar()))
    assert np.array_equal(colours(picture[:9], 32), as_rgb(read_pixels(bar)))


def test_preview_of_a_named_pipe(bar: Path) -> None:
    for content in (bar.read_bytes(), b"not an image"):
        os.mkfifo("fifo")
        writer = threading.Thread(target=Path("fifo").write_bytes, args=(content,))
        writer.start()
        try:
            result = run("apply", "-k", "vertical", "--preview", "fifo", "out.png", terminal=True)
        finally:
            writer.join(timeout=10)
            Path("fifo").unlink()
        if content.startswith(b"not"):  # the error names the pipe, not standard input
            assert result.exit_code == 1
            assert "cannot read 'fifo': not an image format" in result.stderr
        else:
            assert result.exit_code == 0, result.stderr
            caption, *picture = read_cells(result.stdout)
            assert text_of(caption).startswith("fifo 20x30 ")
            assert np.array_equal(colours(picture, 0, 30), as_rgb(vertical_bar()))


def test_preview_does_not_repeat_the_input_s_warnings() -> None:
    images.multi_frame_gif(Path("two.gif"))
    result = run("apply", "-k", "box-3", "--preview", "two.gif", "out.png", terminal=True)
    assert result.exit_code == 0, result.stderr
    assert result.stderr.count("2 frames; convcli reads the first") == 1


# --- real processes --------------------------------------------------------------------------


def test_a_real_show_into_a_pipe_says_so_on_stderr_only(bar: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if k not in TERMINAL}
    done = run_installed("show", bar, env=environment, timeout=60)
    assert done.returncode == 0
    assert done.stdout == ""
    assert done.stderr == SHOW_NOTICE
    preview = run_installed(
        "apply", "-k", "vertical", "--preview", bar, "out.png", env=environment, timeout=60
    )
    assert preview.returncode == 0
    assert preview.stdout == ""
    assert preview.stderr == PREVIEW_NOTICE
    assert Path("out.png").exists()


def on_a_terminal(args: list[str], size: tuple[int, int], **env: str) -> tuple[int, str, bytes]:
    """Run convcli with stdout on a pseudo-terminal of `size` (lines, columns) and only the
    environment `env` says of it: (exit code, what the terminal received, stderr)."""
    import fcntl
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", *size, 0, 0))
    environment = {k: v for k, v in os.environ.items() if k not in TERMINAL}
    environment.update(env)
    process = subprocess.Popen(
        [convcli_executable(), *args], stdout=follower, stderr=subprocess.PIPE, env=environment
    )
    os.close(follower)
    shown = read_terminal(leader)
    _, err = process.communicate(timeout=60)
    return process.returncode, shown.decode().replace("\r\n", "\n"), err


def test_a_real_show_on_a_terminal_draws(bar: Path) -> None:
    code, shown, err = on_a_terminal(
        ["show", str(bar)],
        (40, 80),
        COLUMNS="80",
        LINES="40",
        TERM="xterm-256color",
        COLORTERM="truecolor",
    )
    assert code == 0, err
    assert err == b""
    lines = read_cells(shown)
    assert text_of(lines[0]) == "bar.png 20x30"
    assert np.array_equal(colours(lines[1:]), as_rgb(vertical_bar()))


@pytest.mark.parametrize(
    ("size", "env", "image", "drawn"),
    [
        # Emacs's shell: TERM=dumb and COLUMNS, no LINES; the height is the terminal's.
        ((24, 40), {"COLUMNS": "40"}, (40, 200), (4, 40)),
        ((12, 80), {"COLUMNS": "80"}, (200, 100), (10, 10)),
        ((12, 40), {}, (40, 200), (4, 40)),  # neither: the terminal's own size
        ((12, 80), {}, (200, 100), (10, 10)),
    ],
)
def test_a_dumb_terminal_is_drawn_to_its_real_size(
    size: tuple[int, int], env: dict[str, str], image: tuple[int, int], drawn: tuple[int, int]
) -> None:
    images.gray8(Path("i.png"), *image)
    code, shown, err = on_a_terminal(["show", "i.png"], size, TERM="dumb", **env)
    assert code == 0, err
    caption, *picture = plain(shown).splitlines()
    assert caption == f"i.png {image[0]}x{image[1]}"
    assert (len(picture), max(map(len, picture))) == drawn
