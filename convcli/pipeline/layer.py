"""``convcli layer``: a whole convolution layer on one image, its feature maps and its filters.

The image's channels are the layer's input, as torchvision's ``ToTensor`` makes them: RGB is
three channels in R, G, B order, gray one, each scaled to 0..1 (8-bit samples by 255, 16-bit
by 65535; unitless 32-bit samples as they are), then normalised by ``mean`` and ``std`` when
given. A ``.npy`` input is (C, H, W), or (H, W) for one channel, taken as it is. The layer is
:func:`convcli.core.layer.conv2d`, optionally followed by a ReLU. The output's extension says
what is written:

``.npy``            the maps, (C_out, oh, ow) float32, exactly the layer's output
``.tif``/``.tiff``  one float32 page per map
an image format     a sheet: the filters drawn above, the feature maps in a labelled grid
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from convcli.choices import DEFAULT_MAX_PIXELS
from convcli.core.layer import conv2d
from convcli.core.params import ConvParams, format_size
from convcli.core.shape import Axes, arithmetic
from convcli.errors import ImageReadError, ParameterError, WeightsError
from convcli.imageio.files import STDOUT_NAME, check_destination, same_file, write_output
from convcli.imageio.reading import open_image, seekable_stream
from convcli.imageio.weights import (
    LayerWeights,
    Layout,
    load_layer_weights,
    parse_weight_spec,
)
from convcli.imageio.writing import OutputFormat, check_format_holds, choose_format, encode_into
from convcli.kernels.banks import BANKS, bank
from convcli.pipeline.sheet import compose, shrink, stack_sections

FloatArray = npt.NDArray[np.floating[Any]]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
"""The per-channel mean and standard deviation torchvision's ImageNet models expect."""

FILTER_TILE = 35
"""Filters are enlarged (each weight a square of pixels) to about this many pixels a side."""
DEFAULT_TILE_SIZE = 256
"""Feature maps are shrunk to at most this many pixels on their longest side by default."""
SHOWN_PERCENTILES = (0.5, 99.5)
"""A map is drawn from this low percentile of its values (black) to this high one (white)."""


@dataclass(frozen=True, eq=False)  # it holds arrays
class Layer:
    """A layer's weights, where they came from, and a label for each output channel."""

    weight: FloatArray
    """(C_out, C_in / groups, kh, kw)."""
    bias: FloatArray | None
    """(C_out,) or None."""
    name: str
    """The file and tensor, or the built-in bank's name."""
    bias_name: str | None
    labels: tuple[str, ...]
    """One per output channel: a bank's description, or the channel's number."""


def load_layer(weights: str, *, bias: str | None = None, layout: Layout = "oihw") -> Layer:
    """A built-in bank by name, or the weights (and bias) of a file: ``FILE`` or ``FILE:NAME``.

    Raises
    ------
    WeightsError
        If the file cannot be read, or holds no such tensor, or no usable one.
    """
    if weights in BANKS:
        if bias is not None:
            raise WeightsError(f"the built-in bank {weights!r} has its own bias; drop --bias")
        chosen = bank(weights)
        weight, bank_bias = chosen.build()
        return Layer(weight, bank_bias, weights, weights, tuple(chosen.labels))
    spec = parse_weight_spec(weights)
    if not spec.path.exists() and "." not in spec.path.name and ":" not in weights:
        bank(weights)  # no such file, and no extension: a bank's name mistyped, say which
    loaded: LayerWeights = load_layer_weights(
        spec, bias=None if bias is None else parse_weight_spec(bias), layout=layout
    )
    labels = tuple(str(index) for index in range(loaded.weight.shape[0]))
    return Layer(loaded.weight, loaded.bias, loaded.weight_name, loaded.bias_name, labels)


@dataclass(frozen=True)
class LayerOptions:
    """How the layer runs and what it writes, beyond its geometry."""

    groups: int = 1
    relu: bool = False
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    same_range: bool = False
    """Draw every feature map from all maps' :data:`SHOWN_PERCENTILES`, not from its own."""
    columns: int | None = None
    tile_size: int = DEFAULT_TILE_SIZE
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    """An image file whose header claims more pixels is refused (None: no limit)."""
    force: bool = False
    """Allow the output to be the input file."""


@dataclass(frozen=True, eq=False)
class LayerInput:
    """An image as a layer's input: (C, H, W) floats, and what they are."""

    values: FloatArray
    description: str
    """How the channels were made, for the explanation."""


def read_layer_input(
    source: Path | bytes | IO[bytes],
    channels: int,
    *,
    name: str,
    max_pixels: int | None,
) -> LayerInput:
    """The image at `source` as `channels` channels of a layer's input.

    An image file's channels are its colours (R, G, B; a gray image has one), its alpha added
    as a fourth when the layer takes four; a colour image given to a one-channel layer is
    made gray (Rec. 601), a gray one given to a three-channel layer repeated three times, as
    torchvision's ``Grayscale`` and ``convert("RGB")`` do. ``.npy``: (C, H, W) or (H, W).

    Raises
    ------
    ImageReadError
        If the image cannot be read.
    ParameterError
        If its channels cannot be the layer's.
    """
    stream = seekable_stream(source, name)
    with stream:
        if stream.read(6) == b"\x93NUMPY":
            stream.seek(0)
            return _npy_input(stream, channels, name)
        stream.seek(0)
        planes, how = _image_input(stream, channels, name, max_pixels)
    return LayerInput(planes, how)


def _image_input(
    stream: IO[bytes], channels: int, name: str, max_pixels: int | None
) -> tuple[FloatArray, str]:
    """An image file's planes (C, H, W), scaled to 0..1, and how they were made."""
    with open_image(stream, name=name, max_pixels=max_pixels) as opened:
        info = opened.info
        colour = info.channels == 3 and channels != 1
        decoded = opened.decode(color=colour, gray="rec601", keep_alpha=channels == 4)
    values = np.asarray(decoded.values)
    planes = values[np.newaxis] if values.ndim == 2 else values.transpose(2, 0, 1)
    scale = info.max_value
    how = f"{info.mode} image"
    if decoded.alpha is not None:
        planes = np.concatenate([planes, decoded.alpha[np.newaxis]])
    if scale is not None:
        planes = (planes / np.float32(scale)).astype(np.float32)
        how += f" scaled to 0..1 (by {scale:g})"
    if len(planes) == 1 and channels == 3:
        planes = np.repeat(planes, 3, axis=0)
        how += ", gray repeated as R, G, B"
    elif info.channels == 3 and channels == 1:
        how += ", made gray (rec601)"
    if len(planes) != channels:
        raise ParameterError(
            f"the layer takes {channels} input channels; {name} gives {len(planes)} ({info.mode})"
        )
    return planes, how


def _npy_input(stream: IO[bytes], channels: int, name: str) -> LayerInput:
    try:
        array = np.load(stream, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise ImageReadError(f"cannot read {name!r} as .npy: {error}") from None
    if array.ndim == 2:
        array = array[np.newaxis]
    if array.ndim != 3 or array.dtype.kind not in "biuf":
        raise ParameterError(
            f"{name} holds {array.dtype} {tuple(array.shape)}; a layer's .npy input is (C, H, W)"
            " or (H, W) of real numbers"
        )
    if len(array) != channels:
        raise ParameterError(
            f"the layer takes {channels} input channels; {name} has {len(array)}"
            f" (shape {tuple(array.shape)}, read as (C, H, W))"
        )
    return LayerInput(array, ".npy array, as it is")


def normalised(planes: FloatArray, mean: Sequence[float], std: Sequence[float]) -> FloatArray:
    """(planes - mean) / std, per channel, as torchvision's ``Normalize``.

    Raises
    ------
    ParameterError
        If there is not one mean and one std per channel, or a std is 0.
    """
    count = len(planes)
    for name, values in (("--mean", mean), ("--std", std)):
        if len(values) != count:
            raise ParameterError(
                f"{name} needs one value per input channel ({count}), got {len(values)}:"
                f" {_listed(values)}"
            )
    if any(value == 0 for value in std):
        raise ParameterError("--std values must not be 0")
    shift = np.asarray(mean, planes.dtype)[:, np.newaxis, np.newaxis]
    scale = np.asarray(std, planes.dtype)[:, np.newaxis, np.newaxis]
    result: FloatArray = (planes - shift) / scale
    return result


@dataclass(frozen=True, eq=False)
class LayerResult:
    """What ``convcli layer`` computed and wrote."""

    source: str
    destination: str
    written: str
    """``npy``, ``tiff``, or the sheet's image format."""
    input_shape: tuple[int, int, int]
    input_description: str
    layer: Layer
    params: ConvParams
    options: LayerOptions
    axes: Axes
    maps: FloatArray
    """(C_out, oh, ow) float32, after the ReLU if asked."""

    def record(self) -> dict[str, Any]:
        """A JSON-ready record: shapes, options, and each map's min and max."""
        rows, cols = self.axes
        return {
            "input": {"path": self.source, "shape": list(self.input_shape)},
            "weights": {"name": self.layer.name, "shape": list(self.layer.weight.shape)},
            "bias": None
            if self.layer.bias is None
            else {"name": self.layer.bias_name, "shape": list(self.layer.bias.shape)},
            "stride": list(self.params.stride),
            "padding": [[rows.pad_before, rows.pad_after], [cols.pad_before, cols.pad_after]],
            "dilation": list(self.params.dilation),
            "groups": self.options.groups,
            "pad_mode": self.params.pad_mode,
            "relu": self.options.relu,
            "output": {
                "path": self.destination,
                "written": self.written,
                "shape": list(self.maps.shape),
            },
            "maps": [
                {
                    "index": index,
                    "label": label,
                    "min": float(plane.min()),
                    "max": float(plane.max()),
                }
                for index, (label, plane) in enumerate(
                    zip(self.layer.labels, self.maps, strict=True)
                )
            ],
        }

    def summary(self) -> str:
        """One line: what was written, from what."""
        shape = "x".join(str(side) for side in self.maps.shape)
        return f"{self.destination}: {shape} feature maps ({self.written}) of {self.source}"


def run_layer(
    source: Path | IO[bytes],
    destination: Path | IO[bytes],
    layer: Layer,
    params: ConvParams,
    options: LayerOptions,
) -> LayerResult:
    """Read the image, run the layer, write the output (see the module's docstring).

    Raises
    ------
    ImageReadError, ImageWriteError
        If the image cannot be read or the output written; nothing is then written.
    ParameterError, ShapeError, KernelError
        If the image, the weights and the options do not make a layer.
    """
    source_name = str(source) if isinstance(source, Path) else "-"
    destination_name = str(destination) if isinstance(destination, Path) else STDOUT_NAME
    fmt = choose_format(destination_name, None)
    if fmt.name != "tiff":
        check_format_holds(fmt, "RGB")  # the sheet is in colour (.npy holds anything)
    if isinstance(destination, Path):
        check_destination(destination)
        if isinstance(source, Path) and same_file(source, destination) and not options.force:
            raise ParameterError(
                f"OUTPUT {destination_name!r} is the input: writing over it needs --force"
            )
    channels = layer.weight.shape[1] * options.groups
    given = read_layer_input(source, channels, name=source_name, max_pixels=options.max_pixels)
    planes, description = given.values, given.description
    if options.mean is not None or options.std is not None:
        mean, std = options.mean or (0.0,) * channels, options.std or (1.0,) * channels
        planes = normalised(planes, mean, std)
        description += f", then (x - mean) / std with mean {_listed(mean)} and std {_listed(std)}"
    maps = conv2d(
        planes,
        layer.weight,
        layer.bias,
        stride=params.stride,
        padding=params.padding,
        dilation=params.dilation,
        groups=options.groups,
        padding_mode=params.pad_mode,
    ).astype(np.float32, copy=False)
    if options.relu:
        np.maximum(maps, 0, out=maps)
    axes = arithmetic(planes.shape[1:], layer.weight.shape[2:], params)
    result = LayerResult(
        source_name,
        destination_name,
        fmt.name,
        (planes.shape[0], planes.shape[1], planes.shape[2]),
        description,
        layer,
        params,
        options,
        axes,
        maps,
    )
    write_output(destination, lambda stream: _write(stream, result, fmt))
    return result


def _listed(values: Sequence[float]) -> str:
    """``0.485,0.456,0.406``: numbers as the command line takes them."""
    return ",".join(f"{value:g}" for value in values)


def _write(stream: IO[bytes], result: LayerResult, fmt: OutputFormat) -> None:
    if fmt.name == "tiff":
        from convcli.imageio.tiff import write_tiff_pages

        write_tiff_pages(stream, result.maps)
        return
    # .npy: the maps as they are (float32); an image format: the sheet.
    pixels = result.maps if fmt.pillow is None else layer_sheet(result)
    encode_into(stream, pixels, None, "RGB", fmt)


# --- The sheet --------------------------------------------------------------------------------


def layer_sheet(result: LayerResult) -> npt.NDArray[np.uint8]:
    """The filters in a grid, then the feature maps in a labelled grid below: (H, W, 3)."""
    layer, options = result.layer, result.options
    filter_tiles = [filter_tile(weights) for weights in layer.weight]
    filters = compose(
        filter_tiles,
        [str(index) for index in range(len(filter_tiles))],
        columns=_filter_columns(len(filter_tiles), options.columns),
    )
    map_tiles = shrink(map_pixels(result.maps, same_range=options.same_range), options.tile_size)
    map_labels = [
        f"{index} {label}" if label != str(index) else label
        for index, label in enumerate(layer.labels)
    ]
    maps = compose(map_tiles, map_labels, columns=options.columns)
    shape = "x".join(str(side) for side in layer.weight.shape)
    titles = (
        f"filters: {layer.name} {shape} (mid-gray is 0; 3-channel filters in colour)",
        f"feature maps {format_size(result.maps.shape[1:])}"
        + (", after ReLU" if options.relu else "")
        + ", black to white: "
        + ("one range for all" if options.same_range else "each its own range")
        + " (0.5th to 99.5th percentile)",
    )
    return stack_sections([(titles[0], filters.pixels), (titles[1], maps.pixels)])


def filter_tile(weights: FloatArray) -> npt.NDArray[np.uint8]:
    """One filter (C_in / groups, kh, kw) drawn: RGB if it has 3 input channels, else gray
    (the mean of its channels); 0 is mid-gray, the largest |weight| black or white; each
    weight a square of pixels."""
    planes = weights if len(weights) == 3 else weights.mean(axis=0, keepdims=True)
    largest = float(np.abs(planes).max()) or 1.0
    levels = np.rint(127.5 + 127.5 * planes / largest).clip(0, 255).astype(np.uint8)
    pixels = levels.transpose(1, 2, 0) if len(planes) == 3 else levels[0]
    factor = max(1, round(FILTER_TILE / max(weights.shape[1:])))
    enlarged: npt.NDArray[np.uint8] = np.repeat(np.repeat(pixels, factor, axis=0), factor, axis=1)
    return enlarged


def map_pixels(maps: FloatArray, *, same_range: bool) -> list[npt.NDArray[np.uint8]]:
    """Each map (oh, ow) as 8-bit gray, from its :data:`SHOWN_PERCENTILES` low value (black) to
    its high one (white), so that a few extreme pixels do not wash the rest out to one gray; or
    all maps by the same two values, with `same_range`. A map of one value is mid-gray."""
    if same_range:
        ranges = [_shown_range(maps)] * len(maps)
    else:
        ranges = [_shown_range(plane) for plane in maps]
    tiles = []
    for plane, (low, high) in zip(maps, ranges, strict=True):
        if high > low:
            scaled = (plane - low) * (255.0 / (high - low))
            tiles.append(np.rint(scaled).clip(0, 255).astype(np.uint8))
        else:
            tiles.append(np.full(plane.shape, 128, np.uint8))
    return tiles


def _shown_range(values: FloatArray) -> tuple[float, float]:
    """The values drawn black and white: the :data:`SHOWN_PERCENTILES` of `values`, or their
    min and max when those are equal (a map of few distinct values)."""
    low, high = (float(value) for value in np.percentile(values, SHOWN_PERCENTILES))
    if high > low:
        return low, high
    return float(values.min()), float(values.max())


def _filter_columns(count: int, columns: int | None) -> int:
    """Filters per row: at least as many as the maps' grid has, up to 16."""
    return max(columns or 0, min(count, 16))


# --- The explanation ---------------------------------------------------------------------------


def layer_arithmetic(
    input_shape: tuple[int, int, int],
    weight_shape: tuple[int, ...],
    params: ConvParams,
    groups: int,
) -> list[str]:
    """The layer's shape arithmetic, line by line: channels, each axis's formula, the output,
    and what it costs."""
    channels, height, width = input_shape
    out_channels, per_group, kh, kw = weight_shape
    rows, cols = arithmetic((height, width), (kh, kw), params)
    per_out_group = out_channels // groups
    lines = [
        f"input   C_in x H x W = {channels} x {height} x {width}",
        f"weight  C_out x C_in/groups x kh x kw = {out_channels} x {per_group} x {kh} x {kw},"
        f" groups = {groups}",
    ]
    if groups == 1:
        lines.append(
            f"        each of the {out_channels} filters sums over all {channels} input channels"
        )
    else:
        lines.append(
            f"        group g: input channels g*{per_group} to g*{per_group}+{per_group - 1},"
            f" output channels g*{per_out_group} to g*{per_out_group}+{per_out_group - 1}"
            + (" (depthwise: one input channel per filter)" if per_group == 1 else "")
        )
    lines += [rows.formula(), cols.formula()]
    lines.append(f"output  C_out x o_h x o_w = {out_channels} x {rows.output} x {cols.output}")
    macs = out_channels * rows.output * cols.output * per_group * kh * kw
    parameters = math.prod(weight_shape) + out_channels
    lines.append(
        f"cost    C_out x o_h x o_w x C_in/groups x kh x kw = {macs:,} multiply-adds;"
        f" {parameters:,} parameters with the bias"
    )
    return lines
