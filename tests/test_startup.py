"""Start-up stays light: a command imports NumPy, Pillow and Rich only if it needs them.

Each case runs in a fresh interpreter, where nothing is imported yet, and checks which of the
heavy packages the run left in ``sys.modules``. Nothing here is timed: the benchmark measures
the time, these tests keep the reasons for it from coming back.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import convcli
from convcli import choices
from convcli.imageio.writing import choose_format, format_names
from convcli.pipeline.rangemap import RANGE_MODES

HEAVY = ("numpy", "PIL", "rich")

# Imports convcli.cli.main, runs the command line on argv[2:] unless told to only import it, and
# writes the heavy packages then imported, and the exit code, as JSON to the file argv[1].
RUN = """
import json, sys
import convcli.cli.main
code = None
if sys.argv[2:] != ["--import-only"]:
    try:
        convcli.cli.main.cli.main(sys.argv[2:], prog_name="convcli")
    except SystemExit as exit:
        code = exit.code
loaded = [name for name in {heavy!r} if name in sys.modules]
with open(sys.argv[1], "w") as file:
    json.dump({{"loaded": loaded, "code": code}}, file)
"""


def heavy_imports(tmp_path: Path, *args: str, watched: tuple[str, ...] = HEAVY) -> list[str]:
    """The `watched` packages (the heavy ones) that importing convcli.cli.main and running
    `args` imports."""
    record = tmp_path / "record.json"
    done = subprocess.run(
        [sys.executable, "-c", RUN.format(heavy=watched), str(record), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(record.read_text())
    if args != ("--import-only",):
        assert result["code"] == 0, done.stderr
    loaded: list[str] = result["loaded"]
    return loaded


@pytest.mark.parametrize(
    "args",
    [
        ["--import-only"],
        ["--help"],
        ["--version"],
        ["apply", "--help"],
        ["kernels", "--help"],
        ["shape", "--help"],
        ["explain", "--help"],
        ["sheet", "--help"],
        ["layer", "--help"],
        ["show", "--help"],
    ],
    ids=" ".join,
)
def test_help_imports_none_of_numpy_pillow_or_rich(tmp_path: Path, args: list[str]) -> None:
    assert heavy_imports(tmp_path, *args) == []


@pytest.mark.parametrize(
    "args",
    [
        ["shape", "--input", "300x451", "--kernel-size", "3", "--stride", "2"],
        ["shape", "--input", "64x64", "--kernel-size", "5x3", "--padding", "same", "--json"],
    ],
    ids=" ".join,
)
def test_shape_arithmetic_imports_neither_numpy_nor_pillow(tmp_path: Path, args: list[str]) -> None:
    assert set(heavy_imports(tmp_path, *args)) <= {"rich"}  # Rich prints the arithmetic


@pytest.mark.parametrize(
    "args",
    [["kernels"], ["kernels", "sobel-x"], ["shape", "--input", "64x64", "-k", "sobel"]],
    ids=" ".join,
)
def test_kernels_do_not_import_pillow(tmp_path: Path, args: list[str]) -> None:
    assert "PIL" not in heavy_imports(tmp_path, *args)


def test_a_plain_apply_imports_only_what_it_uses(tmp_path: Path) -> None:
    # Off a terminal, with nothing to explain: no Rich; a PNG in and out: no TIFF reader, no
    # Pillow plugin beyond the five it preloads; and neither numpy.ma nor the explain module.
    Image.new("RGB", (40, 30), (20, 200, 90)).save(tmp_path / "in.png")
    watched = (
        "rich", "tifffile", "numpy.ma", "PIL.TiffImagePlugin", "PIL.WebPImagePlugin",
        "convcli.pipeline.explain", "convcli.terminal.render",
    )  # fmt: skip
    args = ("apply", "-k", "vertical", str(tmp_path / "in.png"), str(tmp_path / "out.png"))
    assert heavy_imports(tmp_path, *args, watched=watched) == []
    assert (tmp_path / "out.png").exists()


def test_the_library_names_are_imported_on_first_use() -> None:
    code = (
        "import sys, convcli\n"
        "assert 'numpy' not in sys.modules\n"
        "from convcli import convolve2d\n"
        "assert 'numpy' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for name in convcli.__all__:
        assert getattr(convcli, name) is not None
        assert name in dir(convcli)
    with pytest.raises(AttributeError, match="no attribute 'convolve3d'"):
        convcli.convolve3d  # noqa: B018


def test_the_choices_copies_match_their_originals() -> None:
    assert choices.DEFAULT_MAX_PIXELS == Image.MAX_IMAGE_PIXELS
    assert choices.RANGE_MODES == RANGE_MODES
    assert list(choices.FORMAT_NAMES) == format_names()
    pictures = [choose_format("-", name) for name in format_names()]
    assert list(choices.SHEET_FORMAT_NAMES) == [
        name
        for name, fmt in zip(format_names(), pictures, strict=True)
        if fmt.pillow is not None and "L" in fmt.modes
    ]
