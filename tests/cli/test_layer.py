"""``convcli layer``: a whole layer on an image, through CliRunner, and one real run."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image

from convcli import conv2d
from convcli.kernels.banks import bank
from tests.cli_helpers import one_line_error, run, run_installed
from tests.conftest import SAMPLE_IMAGES
from tests.imageio.test_weights import write_safetensors
from tests.images import gray8, gray16, rgb8, rgba8

CAT = SAMPLE_IMAGES / "chelsea.png"


def as_input(pixels: np.ndarray) -> np.ndarray:
    """An 8-bit (H, W) or (H, W, C) image as torchvision's ToTensor makes it: (C, H, W) / 255."""
    planes = pixels[np.newaxis] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)
    return (planes / np.float32(255)).astype(np.float32)


def test_npy_output_is_the_layer_exactly(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    pixels = rgb8(tmp_path / "in.png", 20, 23)
    weight = rng.standard_normal((5, 3, 3, 4)).astype(np.float32)
    bias = rng.standard_normal(5).astype(np.float32)
    np.save(tmp_path / "w.npy", weight)
    np.save(tmp_path / "b.npy", bias)
    out = tmp_path / "maps.npy"
    result = run(
        "layer", tmp_path / "in.png", "-w", tmp_path / "w.npy", "--bias", tmp_path / "b.npy",
        "--stride", "2", "--padding", "1", "--pad-mode", "reflect", "-o", out,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.stdout == result.stderr == ""
    maps = np.load(out)
    expected = conv2d(as_input(pixels), weight, bias, stride=2, padding=1, padding_mode="reflect")
    assert maps.dtype == np.float32
    np.testing.assert_array_equal(maps, expected)


def test_normalised_and_relu(tmp_path: Path) -> None:
    pixels = rgb8(tmp_path / "in.png", 12, 10)
    weight = np.random.default_rng(2).standard_normal((4, 3, 3, 3)).astype(np.float32)
    np.save(tmp_path / "w.npy", weight)
    out = tmp_path / "maps.npy"
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    result = run(
        "layer", tmp_path / "in.png", "-w", tmp_path / "w.npy", "--relu", "-o", out,
        "--mean", ",".join(map(str, mean)), "--std", ",".join(map(str, std)),
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    planes = as_input(pixels)
    normalised = (planes - np.array(mean, np.float32)[:, None, None]) / np.array(std, np.float32)[
        :, None, None
    ]
    expected = np.maximum(conv2d(normalised, weight), 0)
    np.testing.assert_allclose(np.load(out), expected, rtol=0, atol=1e-5)
    assert (np.load(out) >= 0).all()


def test_the_built_in_bank_on_a_photo_writes_tiff_pages_and_a_json_record(
    tmp_path: Path,
) -> None:
    out = tmp_path / "maps.tif"
    result = run("layer", CAT, "-w", "gabor-rgb", "--padding", "same", "-o", out, "--json")
    assert result.exit_code == 0, result.stderr
    chosen = bank("gabor-rgb")
    weight, bias = chosen.build()
    pages = tifffile.imread(out)
    photo = np.asarray(Image.open(CAT).convert("RGB"))
    expected = conv2d(as_input(photo), weight, bias, padding="same")
    assert pages.dtype == np.float32
    np.testing.assert_array_equal(pages, expected)
    record = json.loads(result.stdout)
    assert record["input"]["shape"] == [3, *photo.shape[:2]]
    assert record["weights"] == {"name": "gabor-rgb", "shape": list(weight.shape)}
    assert record["output"]["shape"] == list(expected.shape)
    assert [entry["label"] for entry in record["maps"]] == list(chosen.labels)
    assert record["maps"][3]["min"] == pytest.approx(float(expected[3].min()))
    assert record["maps"][3]["max"] == pytest.approx(float(expected[3].max()))


def test_a_sheet_shows_the_filters_and_every_map(tmp_path: Path) -> None:
    out = tmp_path / "maps.png"
    result = run("layer", CAT, "-w", "gabor-rgb", "--stride", "2", "-o", out, "--tile-size", "64")
    assert result.exit_code == 0, result.stderr
    sheet = np.asarray(Image.open(out))
    assert sheet.ndim == 3
    assert sheet.shape[2] == 3
    count = bank("gabor-rgb").build()[0].shape[0]
    # Each map tile, at most 64 pixels a side, sits in the sheet: at least that many cells.
    assert sheet.shape[0] * sheet.shape[1] > count * 64 * 32
    # The colour filters are drawn in colour somewhere on the sheet.
    assert (np.ptp(sheet.astype(int), axis=2) > 40).any()


def test_the_trained_bank_runs_as_dlib_feeds_it(tmp_path: Path) -> None:
    pixels = rgb8(tmp_path / "in.png", 21, 19)
    out = tmp_path / "maps.npy"
    mean, std = (0.4815, 0.4588, 0.4090), (1.0039,) * 3
    result = run(
        "layer", tmp_path / "in.png", "-w", "face-resnet-conv1", "--stride", "2", "-o", out,
        "--mean", ",".join(map(str, mean)), "--std", ",".join(map(str, std)), "--json",
        "--explain",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "then (x - mean) / std with mean 0.4815,0.4588,0.409 and std" in result.stderr
    weight, bias = bank("face-resnet-conv1").build()
    planes = as_input(pixels) - np.array(mean, np.float32)[:, None, None]
    planes /= np.array(std, np.float32)[:, None, None]
    expected = conv2d(planes, weight, bias, stride=2)
    np.testing.assert_allclose(np.load(out), expected, rtol=0, atol=1e-5)
    record = json.loads(result.stdout)
    assert record["bias"] == {"name": "face-resnet-conv1", "shape": [32]}


def test_gray_image_and_gray_bank(tmp_path: Path) -> None:
    pixels = gray8(tmp_path / "in.png", 16, 16)
    out = tmp_path / "maps.npy"
    result = run("layer", tmp_path / "in.png", "-w", "gabor-gray", "-o", out)
    assert result.exit_code == 0, result.stderr
    weight, bias = bank("gabor-gray").build()
    np.testing.assert_array_equal(np.load(out), conv2d(as_input(pixels), weight, bias))


def test_sixteen_bits_are_scaled_by_65535(tmp_path: Path) -> None:
    pixels = gray16(tmp_path / "in.png")
    np.save(tmp_path / "w.npy", np.ones((1, 1, 1, 1)))
    out = tmp_path / "maps.npy"
    assert run("layer", tmp_path / "in.png", "-w", tmp_path / "w.npy", "-o", out).exit_code == 0
    np.testing.assert_allclose(np.load(out)[0], pixels / 65535, rtol=1e-6)


def test_alpha_is_a_fourth_channel_only_when_the_layer_takes_four(tmp_path: Path) -> None:
    pixels = rgba8(tmp_path / "in.png", 8, 9)
    four = np.ones((1, 4, 1, 1), np.float32)
    np.save(tmp_path / "w4.npy", four)
    out = tmp_path / "maps.npy"
    assert run("layer", tmp_path / "in.png", "-w", tmp_path / "w4.npy", "-o", out).exit_code == 0
    np.testing.assert_allclose(np.load(out)[0], as_input(pixels).sum(axis=0), rtol=1e-6)
    np.save(tmp_path / "w3.npy", four[:, :3])
    assert run("layer", tmp_path / "in.png", "-w", tmp_path / "w3.npy", "-o", out).exit_code == 0
    np.testing.assert_allclose(np.load(out)[0], as_input(pixels)[:3].sum(axis=0), rtol=1e-6)


def test_npy_input_is_taken_as_it_is(tmp_path: Path) -> None:
    planes = np.random.default_rng(3).standard_normal((2, 9, 7))
    np.save(tmp_path / "in.npy", planes)
    weight = np.random.default_rng(4).standard_normal((3, 2, 2, 2))
    np.save(tmp_path / "w.npy", weight)
    out = tmp_path / "maps.npy"
    assert run("layer", tmp_path / "in.npy", "-w", tmp_path / "w.npy", "-o", out).exit_code == 0
    np.testing.assert_allclose(np.load(out), conv2d(planes, weight), rtol=1e-6)


def test_safetensors_by_name_finds_its_bias_and_list_shows_the_tensors(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    tensors = {
        "conv1.weight": rng.standard_normal((4, 3, 3, 3)).astype(np.float32),
        "conv1.bias": rng.standard_normal(4).astype(np.float32),
        "fc.weight": rng.standard_normal((10, 4)).astype(np.float32),
    }
    path = write_safetensors(
        tmp_path / "model.safetensors", {name: ("F32", array) for name, array in tensors.items()}
    )
    listed = run("layer", "--list", path)
    assert listed.exit_code == 0, listed.stderr
    assert listed.stdout == "conv1.weight\t4x3x3x3\tF32\n"
    pixels = rgb8(tmp_path / "in.png", 10, 10)
    out = tmp_path / "maps.npy"
    result = run("layer", tmp_path / "in.png", "-w", f"{path}:conv1.weight", "-o", out, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["bias"] == {"name": "conv1.bias", "shape": [4]}
    expected = conv2d(as_input(pixels), tensors["conv1.weight"], tensors["conv1.bias"])
    np.testing.assert_array_equal(np.load(out), expected)


def test_hwio_layout(tmp_path: Path) -> None:
    pixels = rgb8(tmp_path / "in.png", 8, 8)
    weight = (
        np.random.default_rng(6).standard_normal((2, 3, 3, 5)).astype(np.float32)
    )  # kh kw in out
    np.save(tmp_path / "w.npy", weight)
    out = tmp_path / "maps.npy"
    result = run(
        "layer", tmp_path / "in.png", "-w", tmp_path / "w.npy", "--layout", "hwio", "-o", out
    )
    assert result.exit_code == 0, result.stderr
    expected = conv2d(as_input(pixels), weight.transpose(3, 2, 0, 1))
    np.testing.assert_allclose(np.load(out), expected, rtol=1e-6)


def test_explain_prints_the_arithmetic_on_stderr(tmp_path: Path) -> None:
    out = tmp_path / "maps.npy"
    result = run(
        "layer", CAT, "-w", "gabor-rgb", "--stride", "2", "--padding", "3", "-o", out, "--explain"
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    count, _, kh, kw = bank("gabor-rgb").build()[0].shape
    assert f"o_h = floor((300 + 2*3 - 1*({kh} - 1) - 1) / 2) + 1" in result.stderr
    assert f"C_out x C_in/groups x kh x kw = {count} x 3 x {kh} x {kw}, groups = 1" in result.stderr
    assert "multiply-adds" in result.stderr


class Marker:
    """Unpickling this creates a file: proof that a pickle was loaded."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (Path.touch, (str(self.path),))


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".ckpt"])
def test_a_pickle_is_refused_unopened_and_nothing_is_written(tmp_path: Path, suffix: str) -> None:
    marker = tmp_path / "marker"
    weights = tmp_path / f"model{suffix}"
    weights.write_bytes(pickle.dumps(Marker(marker)))
    rgb8(tmp_path / "in.png")
    out = tmp_path / "maps.png"
    out.write_bytes(b"kept")
    result = run("layer", tmp_path / "in.png", "-w", weights, "-o", out)
    message = one_line_error(result, 2, "pickle")
    assert "safetensors" in message
    assert not marker.exists()
    assert out.read_bytes() == b"kept"


@pytest.mark.parametrize(
    ("arguments", "code", "text"),
    [
        (["-w", "gabor-rbg"], 2, "gabor-rgb"),
        (
            ["-w", "gabor-rgb", "--mean", "0.5,0.5"],
            2,
            "--mean needs one value per input channel (3), got 2: 0.5,0.5",
        ),
        (
            ["-w", "gabor-rgb", "--std", "0.5"],
            2,
            "--std needs one value per input channel (3), got 1",
        ),
        (["-w", "gabor-rgb", "--std", "1,0,1"], 2, "--std values must not be 0"),
        (["-w", "gabor-rgb", "--groups", "2"], 2, "the layer takes 6 input channels"),
        (["-w", "gabor-rgb", "--padding", "300"], 1, "reflect"),
    ],
)
def test_bad_layers_are_one_line_and_nothing_is_written(
    tmp_path: Path, arguments: list[str], code: int, text: str
) -> None:
    rgb8(tmp_path / "in.png", 8, 8)
    out = tmp_path / "maps.png"
    extra = ["--pad-mode", "reflect"] if "300" in arguments else []
    result = run("layer", tmp_path / "in.png", *arguments, *extra, "-o", out)
    one_line_error(result, code, text)
    assert not out.exists()


def test_channels_the_image_cannot_give_are_refused(tmp_path: Path) -> None:
    rgb8(tmp_path / "in.png", 8, 8)
    np.save(tmp_path / "w.npy", np.ones((2, 2, 3, 3)))
    out = tmp_path / "maps.png"
    result = run("layer", tmp_path / "in.png", "-w", tmp_path / "w.npy", "-o", out)
    one_line_error(result, 2, "the layer takes 2 input channels;")
    assert not out.exists()


def test_a_colour_image_is_made_gray_for_a_gray_layer(tmp_path: Path) -> None:
    pixels = rgb8(tmp_path / "in.png", 8, 8)
    out = tmp_path / "maps.npy"
    result = run("layer", tmp_path / "in.png", "-w", "gabor-gray", "-o", out, "--explain")
    assert result.exit_code == 0, result.stderr
    assert "made gray (rec601)" in result.stderr
    gray = pixels @ np.array([0.299, 0.587, 0.114])
    weight, bias = bank("gabor-gray").build()
    np.testing.assert_allclose(
        np.load(out), conv2d(gray[np.newaxis] / 255, weight, bias), atol=1e-5
    )


def test_a_sheet_in_a_gray_only_format_is_refused_before_anything_is_computed(
    tmp_path: Path,
) -> None:
    rgb8(tmp_path / "in.png", 8, 8)
    out = tmp_path / "maps.pgm"
    result = run("layer", tmp_path / "in.png", "-w", "gabor-rgb", "-o", out)
    one_line_error(result, 2, "pgm cannot hold 8-bit colour")
    assert not out.exists()


def test_usage_errors(tmp_path: Path) -> None:
    one_line_error(run("layer", CAT, "-o", tmp_path / "x.png"), 2, "--weights")
    one_line_error(run("layer", CAT, "-w", "gabor-rgb", "-o", "-", "--json"), 2, "--json")
    one_line_error(run("layer", CAT, "--list", tmp_path / "x.npz"), 2, "--list")


def test_installed_command_writes_a_sheet(tmp_path: Path) -> None:
    out = tmp_path / "maps.png"
    done = run_installed("layer", CAT, "-w", "gabor-rgb", "--padding", "same", "-o", out)
    assert done.returncode == 0, done.stderr
    assert done.stdout == done.stderr == ""
    with Image.open(out) as sheet:
        assert sheet.mode == "RGB"
        assert sheet.width > 300
