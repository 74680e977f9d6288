"""Every error path: its exit code, and one line on stderr that says what is wrong and where.

The exit codes, as the README's table states them:
0 success, 1 the data did not cooperate, 2 the command line is wrong, 130 interrupted.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from convcli.cli.exits import (
    EXIT_DATA_ERROR,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_USAGE_ERROR,
)
from tests.cli_helpers import one_line_error, run


def test_the_exit_codes() -> None:
    assert (EXIT_OK, EXIT_DATA_ERROR, EXIT_USAGE_ERROR, EXIT_INTERRUPTED) == (0, 1, 2, 130)
    assert EXIT_TERMINATED == 128 + signal.SIGTERM == 143


USAGE_ERRORS = [
    (
        ["apply", "-k", "vertcal", "{bar}", "{out}"],
        "Invalid value for '-k' / '--kernel': unknown kernel 'vertcal'; did you mean 'vertical'?"
        " (list them with 'convcli kernels')",
    ),
    (["apply", "-k", "zzzzzz", "{bar}", "{out}"], "unknown kernel 'zzzzzz' (list them with"),
    (["apply", "{bar}", "{out}"], "Missing option '-k' / '--kernel'."),
    (
        ["apply", "-k", "vertical", "{bar}"],
        "give INPUT and OUTPUT, or several INPUTs with --out-dir DIR (got 1 path)"
        " (see 'convcli apply --help')",
    ),
    (
        ["apply", "-k", "vertical", "--stride", "0", "{bar}", "{out}"],
        "Invalid value for '--stride': stride must be an integer >= 1 or an (h, w) pair of them,"
        " got '0'",
    ),
    (["apply", "-k", "vertical", "--stride", "-1", "{bar}", "{out}"], "got '-1'"),
    (["apply", "-k", "vertical", "--stride", "two", "{bar}", "{out}"], "got 'two'"),
    (["apply", "-k", "vertical", "--stride", "1,2,3", "{bar}", "{out}"], "got '1,2,3'"),
    (
        ["apply", "-k", "vertical", "--dilation", "0,1", "{bar}", "{out}"],
        "Invalid value for '--dilation': dilation must be an integer >= 1",
    ),
    (
        ["apply", "-k", "vertical", "--padding", "-2", "{bar}", "{out}"],
        "Invalid value for '--padding': padding must be an integer >= 0 or an (h, w) pair of them",
    ),
    (
        ["apply", "-k", "vertical", "--padding", "full", "{bar}", "{out}"],
        "padding must be an integer >= 0, an (h, w) pair, 'same' or 'valid', got 'full'",
    ),
    (
        ["apply", "-k", "vertical", "--padding", "same", "--stride", "2", "{bar}", "{out}"],
        "padding 'same' needs stride 1, got stride 2",
    ),
    (
        ["apply", "-k", "vertical", "--pad-mode", "mirror", "{bar}", "{out}"],
        "Invalid value for '--pad-mode': 'mirror' is not one of",
    ),
    (
        ["apply", "-k", "vertical", "--range", "wrap", "{bar}", "{out}"],
        "Invalid value for '--range'",
    ),
    (
        ["apply", "-k", "vertical", "{bar}", "{tmp}/out.xyz"],
        "has the extension '.xyz', which names no format convcli writes; use one of .png",
    ),
    (
        ["apply", "-k", "vertical", "--format", "xyz", "{bar}", "{tmp}/out"],
        "Invalid value for '--format'",
    ),
    (
        ["apply", "-k", "vertical", "--format", "jpeg", "{bar}", "{tmp}/o.png"],
        "--format jpeg disagrees with the extension of",
    ),
    # checked before the input is read: the missing input is not what the error is about
    (["apply", "-k", "vertical", "{tmp}/missing.png", "{tmp}/out.ico"], "'.ico', which names no"),
    (["apply", "-k", "vertical", "--colr", "{bar}", "{out}"], "No such option"),
    (
        ["kernels", "sobelx"],
        "unknown kernel 'sobelx'; did you mean 'sobel-x', 'sobel' or 'sobel-y'?",
    ),
    (["shape", "--kernel-size", "3"], "give either an IMAGE or --input HxW, not both or neither"),
    (["shape", "--input", "5x5"], "give either -k SPEC or --kernel-size, not both or neither"),
    (["shape", "--input", "5x5", "-k", "box-3", "--kernel-size", "3"], "give either -k SPEC or"),
    (["shape", "--input", "0x5", "--kernel-size", "3"], "input size must be an integer >= 1"),
    (["shape", "--input", "5x5", "--kernel-size", "3x", "--json"], "kernel size must be"),
    (["frobnicate"], "No such command 'frobnicate'."),
    # Kernels: every problem with -k is a problem with the command line.
    (
        ["apply", "-k", "{tmp}/missing.txt", "{bar}", "{out}"],
        "Invalid value for '-k' / '--kernel': kernel file '{tmp}/missing.txt' does not exist",
    ),
    (["apply", "-k", "{tmp}", "{bar}", "{out}"], "kernel file '{tmp}' is a directory"),
    (["apply", "-k", "gaussian:0", "{bar}", "{out}"], "gaussian:0: SIGMA must be at least 0.1"),
    (
        ["apply", "-k", "gaussian:500", "{bar}", "{out}"],
        "gaussian:500: SIGMA 500 makes a kernel wider than 1024",
    ),
    (["apply", "-k", "1,2;3", "{bar}", "{out}"], "inline kernel '1,2;3': row 2 has 1 value"),
    (["apply", "-k", "3x3+1+1: 1 2 3 4 5 6 7 8 9", "{bar}", "{out}"], "an origin (+1+1)"),
    (["apply", "-k", "gausian:2", "{bar}", "{out}"], "unknown kernel 'gausian:2'; did you mean"),
    (
        ["apply", "-k", "laplacian", "--normalize", "{bar}", "{out}"],
        "--normalize: kernel 'laplacian' sums to 0, so it cannot be divided by its sum",
    ),
    (
        ["apply", "-k", "vertical", "--scale", "half", "{bar}", "{out}"],
        "Invalid value for '--scale': 'half' is not a finite number",
    ),
    (["apply", "-k", "vertical", "--bias", "nan", "{bar}", "{out}"], "Invalid value for '--bias'"),
    (
        ["kernels", "sobel", "--format", "txt"],
        "sobel is an operator, not one matrix; write sobel-x or sobel-y",
    ),
    (["kernels", "--format", "json"], "--format needs a SPEC: the kernel to write"),
    (
        ["kernels", "{tmp}/k.mat", "--format", "txt"],
        "which a text matrix cannot hold; use --format json",
    ),
]


@pytest.mark.parametrize(("args", "message"), USAGE_ERRORS)
def test_usage_errors_exit_2(tmp_path: Path, bar_png: Path, args: list[str], message: str) -> None:
    out = tmp_path / "out.png"
    out.write_bytes(b"precious")
    (tmp_path / "k.mat").write_text("2 1 4 1\n1 1\n")
    filled = [a.format(bar=bar_png, out=out, tmp=tmp_path) for a in args]
    one_line_error(run(*filled), EXIT_USAGE_ERROR, message.format(tmp=tmp_path))
    assert out.read_bytes() == b"precious"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("k.txt", "1 2 3\n4 5\n", "{path}:2: row 2 has 2 values, expected 3"),
        ("k.csv", "1,2\n3,x\n", "{path}:2:3: 'x' is not a number"),
        ("k.txt", "1 inf\n", "{path}:1:3: 'inf' is not finite"),
        ("k.txt", "# nothing\n", "{path}: no values: the kernel is empty"),
        ("k.json", '{"scale": 2}', "{path}: the JSON object has no 'kernel'"),
        ("k.mat", "2 2\n1 2\n", "{path}: 1 rows, the header says 2"),
        ("k.npy", "not numpy", "{path}: not a readable .npy file"),
    ],
)
def test_bad_kernel_files_exit_2_naming_file_line_and_column(
    tmp_path: Path, bar_png: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content)
    result = run("apply", "-k", path, bar_png, tmp_path / "out.png")
    one_line_error(result, EXIT_USAGE_ERROR, message.format(path=path))
    assert not (tmp_path / "out.png").exists()


def test_data_errors_exit_1(tmp_path: Path, bar_png: Path) -> None:
    out = tmp_path / "out.png"
    out.write_bytes(b"precious")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "dir").mkdir()
    cases = [
        ([tmp_path / "missing.png", out], "cannot read '{tmp}/missing.png': no such file"),
        ([tmp_path / "notes.txt", out], "cannot read '{tmp}/notes.txt': not an image format"),
        ([tmp_path / "dir", out], "cannot read '{tmp}/dir': it is a directory"),
        ([bar_png, tmp_path / "nodir" / "o.png"],
         "cannot write '{tmp}/nodir/o.png': directory '{tmp}/nodir' does not exist"),
        ([bar_png, tmp_path / "dir.png"], ""),  # made a directory below
    ]  # fmt: skip
    (tmp_path / "dir.png").mkdir()
    cases[-1] = ([bar_png, tmp_path / "dir.png"], "cannot write '{tmp}/dir.png': it is a directory")
    for paths, message in cases:
        result = run("apply", "-k", "vertical", *paths)
        one_line_error(result, EXIT_DATA_ERROR, message.format(tmp=tmp_path))
    assert out.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "bar.png", "dir", "dir.png", "notes.txt", "out.png"
    ]  # fmt: skip


def test_kernel_that_does_not_fit_exits_1_and_writes_nothing(tmp_path: Path, bar_png: Path) -> None:
    out = tmp_path / "out.png"
    out.write_bytes(b"precious")
    result = run("apply", "-k", "box-5", "--dilation", "8", bar_png, out)
    assert result.exit_code == EXIT_DATA_ERROR
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == (
        "convcli: error: kernel 5x5 with dilation 8 spans 33x33, larger than the padded input 20x30"
    )
    assert lines[1:] == [
        "  o_h = floor((20 + 2*0 - 8*(5 - 1) - 1) / 1) + 1 = -12  (span 33 > padded 20)",
        "  o_w = floor((30 + 2*0 - 8*(5 - 1) - 1) / 1) + 1 = -2  (span 33 > padded 30)",
    ]
    assert out.read_bytes() == b"precious"


def test_reflect_padding_wider_than_the_image_exits_1(tmp_path: Path, bar_png: Path) -> None:
    result = run("apply", "-k", "identity", "--padding", "20", "--pad-mode", "reflect", bar_png,
                 tmp_path / "out.png")  # fmt: skip
    one_line_error(
        result,
        EXIT_DATA_ERROR,
        "reflect padding of 20 rows needs an image of more than 20 rows, this one has 20",
    )
    assert not (tmp_path / "out.png").exists()


def test_truncated_input_exits_1(tmp_path: Path, colour_png: Path) -> None:
    cut = tmp_path / "cut.png"
    cut.write_bytes(colour_png.read_bytes()[:200])
    result = run("apply", "-k", "vertical", cut, tmp_path / "out.png")
    one_line_error(result, EXIT_DATA_ERROR, f"cannot decode '{cut}': ")


def test_interrupt_exits_130(
    monkeypatch: pytest.MonkeyPatch, bar_png: Path, tmp_path: Path
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("convcli.pipeline.job.apply_to_image", interrupted)
    result = run("apply", "-k", "vertical", bar_png, tmp_path / "out.png")
    assert one_line_error(result, EXIT_INTERRUPTED) == "interrupted"


def test_a_bug_is_one_line_and_debug_shows_the_traceback(
    monkeypatch: pytest.MonkeyPatch, bar_png: Path, tmp_path: Path
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("something broke")

    monkeypatch.setattr("convcli.pipeline.job.apply_to_image", broken)
    args: list[str | Path] = ["apply", "-k", "vertical", bar_png, tmp_path / "out.png"]
    result = run(*args)
    one_line_error(result, EXIT_DATA_ERROR, "internal error: RuntimeError: something broke")
    debug = run("--debug", *args)
    assert debug.exit_code == EXIT_DATA_ERROR
    assert "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.splitlines()[-1].startswith("convcli: error: internal error")


def test_debug_shows_the_traceback_of_a_data_error(tmp_path: Path) -> None:
    result = run("--debug", "apply", "-k", "vertical", tmp_path / "missing.png", tmp_path / "o.png")
    assert result.exit_code == EXIT_DATA_ERROR
    assert "Traceback (most recent call last)" in result.stderr
    assert "ImageReadError" in result.stderr
