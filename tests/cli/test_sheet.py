"""``convcli sheet``: each tile against apply's own output, labels, presets, the errors, pipes
and the installed command."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from convcli.cli.main import cli
from convcli.imageio.writing import choose_format, format_names
from convcli.kernels.presets import PRESETS
from convcli.kernels.registry import KERNELS, OPERATORS
from convcli.kernels.spec import builtin_names, resolve_kernel
from convcli.pipeline import sheet as sheet_module
from convcli.pipeline.sheet import LABEL_GAP, MARGIN, label_height, tile_label
from tests import images
from tests.cli_helpers import one_line_error, run, run_installed
from tests.conftest import REPOSITORY, SAMPLE_IMAGES, read_pixels
from tests.pipeline.test_sheet import region

SAMPLES = SAMPLE_IMAGES
README = (REPOSITORY / "README.md").read_text(encoding="utf-8")


def sheet_json(*args: str | Path) -> dict[str, Any]:
    """Run ``convcli sheet ARGS --json`` and return its record."""
    result = run("sheet", *args, "--json")
    assert result.exit_code == 0, result.stderr
    record: dict[str, Any] = json.loads(result.stdout)
    return record


# --- labels ----------------------------------------------------------------------------------


@pytest.mark.parametrize("font", ["freetype", "bitmap"])
def test_labels_outside_latin_1_are_drawn_with_any_built_in_font(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, font: str
) -> None:
    if font == "bitmap":  # what load_default() gives a Pillow built without FreeType
        from PIL import ImageFont

        monkeypatch.setattr(sheet_module, "_font", ImageFont.load_default_imagefont)
    assert tile_label("ядро.txt", (3, 4)) == "????.txt 3x4"  # the built-in fonts lack them
    assert tile_label("café", (3, 4)) == "café 3x4"
    monkeypatch.chdir(tmp_path)
    images.gray8(Path("g.png"), 8, 8)
    Path("ядро.txt").write_text("1 0 -1\n")
    record = sheet_json("g.png", "-k", "ядро.txt", "-o", "s.png")
    assert record["tiles"][1]["label"] == "????.txt 8x6"
    assert record["tiles"][1]["kernel"] == "ядро.txt"


# --- each tile is what apply writes ----------------------------------------------------------


# An operator, zero-sum kernels (abs), blurs (clip), kernels that give other output shapes
# (5x5, 2x4, a Gaussian of 9x9) and an inline matrix.
KERNEL_SPECS = [
    "vertical",
    "sobel",
    "gaussian-5",
    "laplacian",
    "box:2x4",
    "gaussian:1.4",
    "1 2; -3 0",
]

OPTION_SETS = [
    [],
    ["--stride", "2", "--padding", "1"],
    ["--padding", "same", "--pad-mode", "reflect"],
    ["--dilation", "2", "--flip", "--gray", "rec709"],
    ["--range", "rescale", "--stride", "3,2"],
    ["--range", "clip", "--method", "fft", "--pad-mode", "circular", "--padding", "2"],
]


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A crop of a real photograph (colour, read as gray), small enough to be quick."""
    path = tmp_path_factory.mktemp("photo") / "cat.png"
    with Image.open(SAMPLES / "chelsea.png") as image:
        image.crop((100, 60, 260, 180)).save(path)
    return path


def apply_output(tmp_path: Path, source: Path, *args: str) -> npt.NDArray[np.uint8]:
    out = tmp_path / "apply.png"
    result = run("apply", *args, source, out)
    assert result.exit_code == 0, result.stderr
    return read_pixels(out)


@pytest.mark.parametrize("options", OPTION_SETS, ids=" ".join)
def test_each_tile_equals_apply_with_the_same_options(
    tmp_path: Path, photo: Path, options: list[str]
) -> None:
    out = tmp_path / "sheet.png"
    kernels = [arg for spec in KERNEL_SPECS for arg in ("-k", spec)]
    record = sheet_json(photo, *kernels, *options, "-o", out)
    pixels = read_pixels(out)
    assert pixels.shape == tuple(record["size"])
    tiles = record["tiles"]
    assert [tile["kernel"] for tile in tiles] == [None, *KERNEL_SPECS]
    gray = options[options.index("--gray") :][:2] if "--gray" in options else []
    # The input, as apply reads it: through the identity, which changes no value.
    expected = apply_output(tmp_path, photo, "-k", "identity", "--padding", "1", *gray)
    assert np.array_equal(region(pixels, tiles[0]["box"]), expected)
    assert tiles[0]["label"] == f"input {expected.shape[0]}x{expected.shape[1]}"
    for tile in tiles[1:]:
        expected = apply_output(tmp_path, photo, "-k", tile["kernel"], *options)
        assert tile["shape"] == list(expected.shape), tile["kernel"]
        assert np.array_equal(region(pixels, tile["box"]), expected), tile["kernel"]
        assert tile["label"] == tile_label(tile["kernel"], expected.shape)


def test_each_tile_records_its_kernel_as_given_to_k(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    images.gray8(Path("g.png"), 12, 14)
    Path("kb.json").write_text('{"kernel": [[1, 2, 1]], "name": "myblur"}')
    Path("vertical").write_text("1 1 1\n")  # a file named like a built-in
    given = ["kb.json", "./vertical", "vertical", "all-blurs"]
    record = sheet_json("g.png", *(arg for spec in given for arg in ("-k", spec)), "-o", "s.png")
    tiles = record["tiles"]
    assert [tile["kernel"] for tile in tiles] == [
        None, "kb.json", "./vertical", "vertical", *PRESETS["all-blurs"].kernels
    ]  # fmt: skip
    assert [tile["label"].split()[0] for tile in tiles[:4]] == [
        "input", "myblur", "./vertical", "vertical"
    ]  # fmt: skip
    # What a script needs to make a tile again: apply -k with the recorded spec.
    pixels = read_pixels(Path("s.png"))
    for tile in tiles[1:4]:
        expected = apply_output(tmp_path, Path("g.png"), "-k", tile["kernel"])
        assert np.array_equal(region(pixels, tile["box"]), expected), tile["kernel"]


def test_the_default_range_shows_edges_as_abs_and_blurs_as_clip(tmp_path: Path) -> None:
    images.gray8(tmp_path / "g.png", 12, 14)
    record = sheet_json(tmp_path / "g.png", "-k", "vertical", "-k", "gaussian-3", "-k", "sobel",
                        "-o", tmp_path / "s.png")  # fmt: skip
    assert [tile["range"] for tile in record["tiles"]] == ["clip", "abs", "clip", "clip"]


@pytest.mark.parametrize(
    ("make", "apply_options"),
    [
        (lambda p: images.gray16(p, 9, 11), ["--depth", "8"]),  # 16 bits shown in 8
        # The gray that apply writes by its alpha rule (sobel-x: carry, gaussian-3: weighted),
        # the alpha not shown.
        (lambda p: images.rgba8(p, 9, 11), []),
    ],
    ids=["16-bit", "alpha"],
)
def test_tiles_of_other_inputs_equal_apply_writing_8_bit_gray(
    tmp_path: Path, make: Any, apply_options: list[str]
) -> None:
    source = tmp_path / "in.png"
    make(source)
    out = tmp_path / "s.png"
    record = sheet_json(source, "-k", "sobel-x", "-k", "gaussian-3", "-o", out)
    pixels = read_pixels(out)
    for tile in record["tiles"][1:]:
        expected = apply_output(tmp_path, source, "-k", tile["kernel"], *apply_options)
        gray = expected[..., 0] if expected.ndim == 3 else expected
        assert np.array_equal(region(pixels, tile["box"]), gray), tile["kernel"]


def test_float_input_tiles_are_rescaled_as_apply_does(tmp_path: Path) -> None:
    images.float_tiff(tmp_path / "f.tif")
    record = sheet_json(tmp_path / "f.tif", "-k", "vertical", "-o", tmp_path / "s.png")
    pixels = read_pixels(tmp_path / "s.png")
    assert [tile["range"] for tile in record["tiles"]] == ["rescale", "rescale"]
    expected = apply_output(tmp_path, tmp_path / "f.tif", "-k", "vertical")
    assert np.array_equal(region(pixels, record["tiles"][1]["box"]), expected)


def test_tile_size_shrinks_every_tile_by_one_factor(tmp_path: Path, photo: Path) -> None:
    record = sheet_json(photo, "-k", "vertical", "--stride", "2", "--tile-size", "40",
                        "-o", tmp_path / "s.png")  # fmt: skip
    assert record["shrunk"] is True
    (input_tile, response) = record["tiles"]
    assert input_tile["shape"] == [120, 160]
    assert response["shape"] == [59, 79]
    assert input_tile["box"][2:] == [30, 40]  # 120x160 by a factor of 40/160
    assert response["box"][2:] == [round(59 / 4), round(79 / 4)]
    assert response["label"] == "vertical 59x79"  # the label keeps the response's size


def test_tile_size_larger_than_the_tiles_changes_nothing(tmp_path: Path, photo: Path) -> None:
    sheet_json(photo, "-k", "sobel", "-o", tmp_path / "a.png")
    record = sheet_json(photo, "-k", "sobel", "--tile-size", "1000", "-o", tmp_path / "b.png")
    assert record["shrunk"] is False
    assert np.array_equal(read_pixels(tmp_path / "a.png"), read_pixels(tmp_path / "b.png"))


def test_a_sheet_over_max_pixels_is_refused_before_any_work(tmp_path: Path) -> None:
    images.gray8(tmp_path / "g.png", 40, 60)
    out = tmp_path / "s.png"
    out.write_bytes(b"precious")
    args = ("sheet", tmp_path / "g.png", "-k", "all-edges", "-o", out, "--max-pixels", "20000")
    result = run(*args)
    message = one_line_error(result, 1)
    assert message.startswith("the sheet would be ")
    assert "pixels, over the limit of 20000 (--max-pixels)" in message
    assert out.read_bytes() == b"precious"
    # The tile size it advises is the largest that fits.
    fits = int(message.split("--tile-size ")[1].split()[0])
    assert run(*args, "--tile-size", str(fits + 1)).exit_code == 1
    fitted = run(*args, "--tile-size", str(fits), "--json")
    assert fitted.exit_code == 0, fitted.stderr
    record = json.loads(fitted.stdout)
    assert record["size"][0] * record["size"][1] <= 20000
    assert read_pixels(out).shape == tuple(record["size"])


def test_columns_sets_the_grid(tmp_path: Path) -> None:
    images.gray8(tmp_path / "g.png", 10, 10)
    kernels = ["-k", "all-edges", "-k", "all-blurs"]
    record = sheet_json(tmp_path / "g.png", *kernels, "--columns", "2", "-o", tmp_path / "s.png")
    assert (record["columns"], record["rows"]) == (2, 5)
    record = sheet_json(tmp_path / "g.png", *kernels, "-o", tmp_path / "s.png")
    assert (record["columns"], record["rows"]) == (3, 3)  # 9 tiles


# --- presets ---------------------------------------------------------------------------------


def test_a_preset_expands_to_its_kernels_in_order(tmp_path: Path, photo: Path) -> None:
    preset = sheet_json(photo, "-k", "all-edges", "-k", "box-3", "-o", tmp_path / "p.png")
    spelt = ["-k", "vertical", "-k", "horizontal", "-k", "sobel", "-k", "laplacian", "-k", "box-3"]
    explicit = sheet_json(photo, *spelt, "-o", tmp_path / "e.png")
    kernels = [tile["kernel"] for tile in preset["tiles"]]
    assert kernels == [None, "vertical", "horizontal", "sobel", "laplacian", "box-3"]
    assert preset["tiles"] == explicit["tiles"]
    assert np.array_equal(read_pixels(tmp_path / "p.png"), read_pixels(tmp_path / "e.png"))


@pytest.mark.parametrize("preset", PRESETS.values(), ids=lambda p: p.name)
def test_every_preset_names_built_ins_and_is_documented(preset: Any) -> None:
    assert preset.name not in builtin_names()
    assert all(name in KERNELS or name in OPERATORS for name in preset.kernels)
    assert [resolve_kernel(name).name for name in preset.kernels] == list(preset.kernels)
    sheet_section = README.split("### `convcli sheet`")[1].split("\n## ")[0]
    members = ", ".join(f"`{name}`" for name in preset.kernels)
    assert f"| `{preset.name}` | {members} |" in sheet_section
    help_text = " ".join(run("sheet", "--help").stdout.split())
    assert f"{preset.name} ({', '.join(preset.kernels)})" in help_text


def test_apply_does_not_take_presets(tmp_path: Path) -> None:
    images.gray8(tmp_path / "g.png")
    result = run("apply", "-k", "all-edges", tmp_path / "g.png", tmp_path / "o.png")
    one_line_error(result, 2, "unknown kernel 'all-edges'")


# --- errors: nothing written -----------------------------------------------------------------


def test_a_kernel_too_large_names_it_exits_1_and_writes_nothing(tmp_path: Path) -> None:
    images.gray8(tmp_path / "g.png", 4, 4)
    existing, new = tmp_path / "existing.png", tmp_path / "new.png"
    existing.write_bytes(b"precious")
    for out in (existing, new):
        result = run("sheet", tmp_path / "g.png", "-k", "vertical", "-k", "box:9", "-o", out)
        message = one_line_error(result, 1, alone=False)  # the arithmetic follows
        assert message == "box:9: kernel 9x9 is larger than the padded input 4x4"
    assert existing.read_bytes() == b"precious"
    assert not new.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing.png", "g.png"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("vertcal", "unknown kernel 'vertcal'; did you mean 'vertical'?"),
        (
            "all-edge",
            "unknown kernel 'all-edge'; did you mean 'all-edges'? (list the kernels with"
            " 'convcli kernels'; the presets are all-edges, all-blurs)",
        ),
        ("1,2; 3", "row 2 has 1 value"),
    ],
)
def test_a_bad_kernel_is_a_usage_error(tmp_path: Path, spec: str, message: str) -> None:
    images.gray8(tmp_path / "g.png")
    result = run("sheet", tmp_path / "g.png", "-k", spec, "-o", tmp_path / "s.png")
    one_line_error(result, 2, message)
    assert not (tmp_path / "s.png").exists()


def test_the_options_offer_what_a_sheet_does(tmp_path: Path) -> None:
    command = cli.commands["sheet"]
    options = {param.name: param for param in command.params}
    holding_gray = []
    for name in format_names():
        fmt = choose_format("-", name)
        if fmt.pillow is not None and "L" in fmt.modes:
            holding_gray.append(name)
    assert list(options["output_format"].type.choices) == holding_gray  # type: ignore[attr-defined]
    images.gray8(tmp_path / "g.png")
    for refused in ("npy", "ppm"):
        result = run("sheet", tmp_path / "g.png", "-k", "sobel", "-o", "-", "--format", refused)
        one_line_error(result, 2, "Invalid value for '--format'")
    assert "a kernel file" in str(options["force"].help)
    assert "a sheet" in str(options["max_pixels"].help)
    assert "- for standard input" in str(command.help)


def test_writing_over_the_input_needs_force(tmp_path: Path) -> None:
    images.gray8(tmp_path / "g.png", 8, 8)
    before = (tmp_path / "g.png").read_bytes()
    result = run("sheet", tmp_path / "g.png", "-k", "sobel", "-o", tmp_path / "g.png")
    one_line_error(result, 2, "writing over it needs --force")
    assert (tmp_path / "g.png").read_bytes() == before
    forced = run("sheet", tmp_path / "g.png", "-k", "sobel", "-o", tmp_path / "g.png", "--force")
    assert forced.exit_code == 0, forced.stderr
    assert (tmp_path / "g.png").read_bytes() != before


def test_writing_over_a_kernel_file_needs_force(tmp_path: Path) -> None:
    images.gray8(tmp_path / "g.png", 8, 8)
    # No extension: -k reads it as a text matrix, and --format png makes it a valid OUTPUT, so
    # that what refuses it is the overwrite, not the name ('.txt' names no image format).
    kernel = tmp_path / "edge"
    kernel.write_text("1 0 -1\n")
    result = run("sheet", tmp_path / "g.png", "-k", kernel, "-o", kernel, "--format", "png")
    one_line_error(result, 2, f"is the input {str(kernel)!r}: writing over it needs --force")
    assert kernel.read_text() == "1 0 -1\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "s.npy"], "a sheet is a picture, which npy does not hold"),
        (["-o", "s.ppm"], "ppm cannot hold 8-bit gray"),
        (["-o", "s.xyz"], "names no format"),
        (["-o", "-", "--json"], "--json prints on stdout"),
        ([], "Missing option '-o'"),
        (["-o", "s.png", "--columns", "0"], "--columns"),
    ],
)
def test_bad_options_are_usage_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    images.gray8(tmp_path / "g.png")
    monkeypatch.chdir(tmp_path)
    result = run("sheet", "g.png", "-k", "sobel", *args)
    one_line_error(result, 2, message)
    assert result.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.png"]


def test_a_many_channel_array_is_refused(tmp_path: Path) -> None:
    images.npy(tmp_path / "c.npy", np.random.default_rng(5).random((6, 7, 3)))
    result = run("sheet", tmp_path / "c.npy", "-k", "sobel", "-o", tmp_path / "s.png")
    one_line_error(result, 1, "holds 3 channels; a sheet shows one gray channel")
    assert not (tmp_path / "s.png").exists()


# --- pipes and the real command --------------------------------------------------------------


def test_standard_output_gets_the_same_png(tmp_path: Path, photo: Path) -> None:
    sheet_json(photo, "-k", "all-edges", "-o", tmp_path / "s.png")
    result = run("sheet", photo, "-k", "all-edges", "-o", "-")
    assert result.exit_code == 0, result.stderr
    with Image.open(io.BytesIO(result.stdout_bytes)) as image:
        assert image.format == "PNG"
        assert np.array_equal(np.asarray(image), read_pixels(tmp_path / "s.png"))


def test_standard_input_and_format(tmp_path: Path, photo: Path) -> None:
    result = run("sheet", "-", "-k", "vertical", "-o", "-", "--format", "tiff",
                 stdin=photo.read_bytes())  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.stdout_bytes.startswith(b"II*\x00")


def test_the_installed_command_writes_a_sheet(tmp_path: Path) -> None:
    out = tmp_path / "edges.png"
    done = run_installed(
        "sheet", SAMPLES / "coins.png", "-k", "all-edges", "--padding", "same", "-o", out
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert done.stderr == ""  # quiet when not on a terminal
    with Image.open(out) as image:
        assert image.mode == "L"
        # Five 303x384 tiles ('same' keeps the size), three columns of two rows.
        cell = (label_height() + LABEL_GAP + 303, 384)
        assert (image.height, image.width) == (2 * cell[0] + 3 * MARGIN, 3 * cell[1] + 4 * MARGIN)
    # A failure: one line, exit 1, nothing written.
    failed = run_installed(
        "sheet", SAMPLES / "coins.png", "-k", "box:400", "-o", tmp_path / "no.png"
    )
    assert failed.returncode == 1
    assert failed.stderr.startswith("convcli: error: box:400: kernel 400x400 is larger")
    assert not (tmp_path / "no.png").exists()


def test_weighted_alpha_refuses_an_edge_kernel_before_any_pixel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    images.rgba8(tmp_path / "a.png")
    monkeypatch.setattr("convcli.imageio.reading._PillowImage.decode_rows", _must_not_decode)
    result = run("sheet", tmp_path / "a.png", "-k", "box-3", "-k", "vertical", "--alpha",
                 "weighted", "-o", tmp_path / "s.png")  # fmt: skip
    one_line_error(result, 2, "'vertical' sums to 0: use --alpha carry or channel")
    assert not (tmp_path / "s.png").exists()


def _must_not_decode(*args: object, **kwargs: object) -> None:
    raise AssertionError("must not decode")
