"""Shared fixtures: small synthetic images written to a temporary directory, a Dask cluster."""

from __future__ import annotations

import importlib.util
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import settings
from PIL import Image

from convcli.imageio.reading import open_image

if TYPE_CHECKING:
    from distributed import Client

# No property test is timed: an example that takes long on a busy machine (a Dask cluster
# starting beside it, two cores shared) is no failure. Speed is the benchmark's business.
settings.register_profile("convcli", deadline=None)
settings.load_profile("convcli")

REPOSITORY = Path(__file__).resolve().parent.parent
"""The checkout: README.md, sample_images/, scripts/."""
SAMPLE_IMAGES = REPOSITORY / "sample_images"


def load_script(name: str) -> ModuleType:
    """``scripts/NAME.py`` as a module (scripts/ is not a package), registered under NAME."""
    path = REPOSITORY / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


def vertical_bar(height: int = 20, width: int = 30) -> npt.NDArray[np.uint8]:
    """A dark image with one bright vertical bar, columns 10..19."""
    image = np.full((height, width), 30, dtype=np.uint8)
    image[:, 10:20] = 200
    return image


@pytest.fixture
def bar_png(tmp_path: Path) -> Path:
    """A 20x30 PNG of :func:`vertical_bar`."""
    path = tmp_path / "bar.png"
    Image.fromarray(vertical_bar()).save(path)
    return path


@pytest.fixture
def colour_png(tmp_path: Path) -> Path:
    """A 12x16 random RGB PNG."""
    rgb = np.random.default_rng(7).integers(0, 256, (12, 16, 3), dtype=np.uint8)
    path = tmp_path / "colour.png"
    Image.fromarray(rgb).save(path)
    return path


def read_gray(path: Path, gray: str = "rec601") -> npt.NDArray[np.floating[Any]]:
    """An image's gray values in its own units, as ``convcli apply`` reads them (float32 for
    8- and 16-bit samples)."""
    with open_image(path) as image:
        return image.decode(color=False, gray=gray).values


def read_pixels(path: Path) -> npt.NDArray[np.uint8]:
    """An image file's pixels as an array (H, W)."""
    with Image.open(path) as image:
        return np.asarray(image)


def open_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, message: str, *, fail: bool = False
) -> None:
    """Make every image Pillow opens warn `message` when decoded (and fail, if `fail`)."""
    real_open = Image.open

    def open_image(*args: object, **kwargs: object) -> Image.Image:
        image = real_open(*args, **kwargs)  # type: ignore[arg-type]
        real_load = image.load
        decoded = False

        def load() -> object:
            nonlocal decoded
            if not decoded:  # as Pillow: a loaded image's load() decodes nothing more
                warnings.warn(message, UserWarning, stacklevel=2)
                if fail:
                    raise OSError("broken data stream")
            decoded = True
            return real_load()

        monkeypatch.setattr(image, "load", load)
        return image

    monkeypatch.setattr(Image, "open", open_image)


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Client]:
    """A Dask client of a cluster of two worker processes on 127.0.0.1, for one test module;
    both closed after it."""
    from distributed import Client, LocalCluster  # only the modules that use it pay for it

    # The scheduler serves HTTP even without a dashboard, on port 8787 unless told: a free
    # port, so that two clusters never collide (distributed warns when they do).
    cluster = LocalCluster(
        n_workers=2, processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0"
    )
    with cluster, Client(cluster) as client:
        yield client
