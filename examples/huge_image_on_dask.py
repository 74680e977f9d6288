"""Blur one TIFF too large for memory on a Dask cluster, into a zarr array, chunk by chunk.

    python examples/huge_image_on_dask.py scan.tif blurred.zarr
    python examples/huge_image_on_dask.py scan.tif blurred.zarr --scheduler tcp://10.0.0.5:8786

Without ``--scheduler`` it starts a cluster of worker processes on this machine (on
127.0.0.1). The TIFF should be tiled (``tifffile.imwrite(..., tile=(512, 512))``, or
``vips tiffsave --tile``): each task reads the tiles of its chunk, the neighbours its kernel
reaches into and, for the pad mode, the lines at the far side of the image, and each
output chunk is written into the zarr array by the worker that computed it. No process
holds the whole image, in or out. On a real cluster both paths must be on a file system
that every worker sees.

The blur is a Gaussian of ``--sigma`` pixels (a kernel of 2*ceil(3 sigma) + 1 taps a side),
"same" padding, computed in float32. Needs the dask extra: ``pip install 'convcli[dask]'``.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import numpy.typing as npt
import tifffile
import zarr
from distributed import Client, LocalCluster

from convcli import convolve2d
from convcli.choices import PAD_MODES
from convcli.kernels.parametric import gaussian


class TiffTiles:
    """The first image of a TIFF file as an array Dask can slice in any process.

    tifffile's zarr store holds the open file, which cannot be sent to another process: each
    slice opens the file by its path and reads the tiles it covers, no others.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        with tifffile.imread(path, aszarr=True) as store:
            tiles = zarr.open_array(store, mode="r")
            self.shape: tuple[int, ...] = tiles.shape
            self.dtype = np.dtype(tiles.dtype)
            self.tile: tuple[int, ...] = tiles.chunks
        self.ndim = len(self.shape)

    def __getitem__(self, key: Any) -> npt.NDArray[Any]:
        with tifffile.imread(self.path, aszarr=True) as store:
            return np.asarray(zarr.open_array(store, mode="r")[key])

    def __dask_tokenize__(self) -> object:
        """What names this image for Dask: the file, and when it was last written."""
        status = self.path.stat()
        return (str(self.path.resolve()), status.st_mtime_ns, status.st_size)


def read_tiff(path: Path, tiles_per_chunk: int = 1) -> da.Array:
    """The TIFF at `path` as a lazy Dask array, (H, W) or (H, W, C), in chunks of
    `tiles_per_chunk` x `tiles_per_chunk` tiles (all channels in each)."""
    tiles = TiffTiles(path)
    chunks = (*(side * tiles_per_chunk for side in tiles.tile[:2]), *tiles.shape[2:])
    meta = np.empty((0,) * tiles.ndim, dtype=tiles.dtype)
    image: da.Array = da.from_array(tiles, chunks=chunks, meta=meta)
    return image


def blur(image: da.Array, sigma: float, pad_mode: str = "reflect") -> da.Array:
    """`image` blurred by a Gaussian of `sigma` pixels, "same" padding: a lazy float32 array in
    the image's chunks."""
    kernel = gaussian(sigma).weights
    blurred: da.Array = convolve2d(
        image.astype(np.float32), kernel, padding="same", pad_mode=pad_mode
    )
    return blurred


def main(
    tiff: Path,
    out: Path,
    scheduler: str | None = None,
    *,
    sigma: float = 8.0,
    pad_mode: str = "reflect",
    tiles_per_chunk: int = 1,
) -> None:
    """Blur the TIFF at `tiff` into a new zarr array at `out`, on the Dask scheduler at the
    address `scheduler`, or on a cluster started here for the run."""
    blurred = blur(read_tiff(tiff, tiles_per_chunk), sigma, pad_mode)
    with contextlib.ExitStack() as stack:
        if scheduler is None:
            # Its HTTP server (and dashboard, with bokeh) on a free port: 8787 may be taken.
            cluster = LocalCluster(host="127.0.0.1", dashboard_address="127.0.0.1:0")
            scheduler = stack.enter_context(cluster).scheduler_address
        stack.enter_context(Client(scheduler))  # the default scheduler from here on
        da.to_zarr(blurred, str(out))


def run(argv: Sequence[str] | None = None) -> None:
    """The command line: ``python examples/huge_image_on_dask.py IN.tif OUT.zarr ...``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tiff", type=Path, help="a tiled TIFF, gray or colour")
    parser.add_argument("zarr", type=Path, help="where to write the blurred zarr array (new)")
    parser.add_argument("--scheduler", help="a Dask scheduler's address (default: start one here)")
    parser.add_argument("--sigma", type=float, default=8.0, help="the blur, in pixels (8)")
    parser.add_argument("--pad-mode", choices=PAD_MODES, default="reflect")
    parser.add_argument("--tiles-per-chunk", type=int, default=1, help="a side of a chunk (1)")
    args = parser.parse_args(argv)
    main(
        args.tiff,
        args.zarr,
        args.scheduler,
        sigma=args.sigma,
        pad_mode=args.pad_mode,
        tiles_per_chunk=args.tiles_per_chunk,
    )


if __name__ == "__main__":
    run()
