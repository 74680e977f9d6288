"""The examples run: one huge image on a Dask cluster, made small enough to check."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt
import tifffile
import zarr
from distributed import Client

from tests.conftest import REPOSITORY
from tests.core.test_lazy import assert_equals_numpy

HUGE_IMAGE = REPOSITORY / "examples" / "huge_image_on_dask.py"
TILE = (16, 16)
"""The smallest tile TIFF allows; a Gaussian of sigma 3 spans 19 pixels, more than a tile."""


def load(path: Path) -> ModuleType:
    """The module of the script at `path`, imported by path: examples/ is not a package."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiled_tiff(path: Path, image: npt.NDArray[Any]) -> Path:
    """`image` written to `path` as a TIFF in tiles of :data:`TILE`."""
    tifffile.imwrite(path, image, tile=TILE)
    return path


def assert_blurred(image: npt.NDArray[Any], out: Path, sigma: float, pad_mode: str) -> None:
    """The zarr array at `out` is `image` blurred as convolve2d blurs it in float32."""
    written = zarr.open_array(out, mode="r")
    assert written.chunks == TILE + image.shape[2:]
    case = {
        "image": image.astype(np.float32),
        "kernel": load(HUGE_IMAGE).gaussian(sigma).weights,
        "options": {"padding": "same", "pad_mode": pad_mode, "method": "auto"},
    }
    assert case["kernel"].shape[0] > TILE[0]  # each chunk is smaller than the kernel's reach
    assert_equals_numpy(case, np.asarray(written[...]))


def test_the_script_blurs_a_tiled_tiff_on_a_scheduler(tmp_path: Path, dask_client: Client) -> None:
    gray = np.random.default_rng(5).integers(0, 2**16, (70, 53), dtype=np.uint16)
    tiff, out = tiled_tiff(tmp_path / "scan.tif", gray), tmp_path / "blurred.zarr"
    scheduler = str(dask_client.scheduler_info()["address"])
    args = [str(tiff), str(out), "--scheduler", scheduler, "--sigma", "3", "--pad-mode", "circular"]
    done = subprocess.run(
        [sys.executable, str(HUGE_IMAGE), *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert_blurred(gray, out, 3.0, "circular")


def test_main_starts_a_cluster_of_its_own(tmp_path: Path) -> None:
    colour = np.random.default_rng(6).integers(0, 256, (40, 37, 3), dtype=np.uint8)
    tiff, out = tiled_tiff(tmp_path / "photo.tif", colour), tmp_path / "blurred.zarr"
    load(HUGE_IMAGE).main(tiff, out, sigma=3.0)
    assert_blurred(colour, out, 3.0, "reflect")
