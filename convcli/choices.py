"""The values the command line offers and defaults to, in a module free of NumPy and Pillow.

Click needs them when the commands are defined, so ``convcli --help`` would otherwise pay for
importing the modules that compute with them. Those modules take them from here; where a value
is defined elsewhere (by Pillow, or next to the code that gives it meaning), this is a copy,
and ``tests/test_startup.py`` checks it against its original.
"""

from __future__ import annotations

from typing import Literal, TypeAlias, get_args

PadMode: TypeAlias = Literal["zeros", "reflect", "replicate", "circular", "symmetric", "constant"]
"""PyTorch's padding modes, then NumPy's ``symmetric`` and ``constant``; see
:mod:`convcli.core.padding` for what each one adds."""

PAD_MODES: tuple[PadMode, ...] = get_args(PadMode)

GrayWeights: TypeAlias = Literal["rec601", "rec709", "average"]
GRAY_CHOICES: tuple[GrayWeights, ...] = get_args(GrayWeights)

OutputDepth: TypeAlias = Literal["8", "16", "float"]
"""What ``--depth`` asks for: 8- or 16-bit pixels, or 32-bit floats."""
OUTPUT_DEPTHS: tuple[OutputDepth, ...] = get_args(OutputDepth)

WrittenDepth: TypeAlias = Literal["8", "16", "float", "npy"]
"""What an output holds: an :data:`OutputDepth`, or ``npy``, the float result as computed."""

AlphaRule: TypeAlias = Literal["auto", "weighted", "carry", "channel"]
"""How alpha goes through a chain (see :mod:`convcli.pipeline.alpha`)."""
ALPHA_RULES: tuple[AlphaRule, ...] = get_args(AlphaRule)

DEFAULT_MAX_PIXELS = 89_478_485
"""Pillow's decompression-bomb limit: a copy of ``PIL.Image.MAX_IMAGE_PIXELS``."""

Method: TypeAlias = Literal["auto", "direct", "separable", "gemm", "fft"]
"""How the core computes a convolution (see :mod:`convcli.core.methods`)."""
METHODS: tuple[Method, ...] = get_args(Method)

Layout: TypeAlias = Literal["oihw", "hwio"]
"""How a layer's weight is ordered: PyTorch's (C_out, C_in, kh, kw), or Keras' and
TensorFlow's (kh, kw, C_in, C_out)."""
LAYOUTS: tuple[Layout, ...] = get_args(Layout)

DEFAULT_PNG_COMPRESSION = 1
"""zlib level for PNG output: 1 writes a 4096x4096 photograph several times faster than
Pillow's default 6, for a file a few percent larger."""

RangeMode: TypeAlias = Literal["auto", "clip", "abs", "rescale"]
"""How float results become pixels (see :mod:`convcli.pipeline.rangemap`)."""
RANGE_MODES: tuple[RangeMode, ...] = get_args(RangeMode)

FORMAT_NAMES: tuple[str, ...] = (
    "png", "tiff", "jpeg", "bmp", "gif", "webp", "pgm", "ppm", "tga", "jp2", "npy",
    "tif", "jpg",
)  # fmt: skip
"""What ``--format`` takes, names then other extensions: a copy of
:func:`convcli.imageio.writing.format_names`."""

SHEET_FORMAT_NAMES: tuple[str, ...] = tuple(n for n in FORMAT_NAMES if n not in ("ppm", "npy"))
"""What ``sheet --format`` takes: the formats that hold an 8-bit gray picture."""
