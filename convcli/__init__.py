"""convcli: filter images with 2-D convolution kernels, with PyTorch's ``conv2d`` semantics.

The library is pure NumPy and usable on its own::

    from convcli import conv2d, convolve2d, output_shape
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from convcli.errors import (
    ConvcliError,
    ImageReadError,
    ImageWarning,
    ImageWriteError,
    KernelError,
    ParameterError,
    ShapeError,
    UnknownKernelError,
    WeightsError,
)

if TYPE_CHECKING:
    from convcli.core.convolution import apply_kernel, convolve2d
    from convcli.core.layer import conv2d
    from convcli.core.params import ConvParams
    from convcli.core.shape import output_shape

__version__ = "1.0.0"

__all__ = [
    "ConvParams",
    "ConvcliError",
    "ImageReadError",
    "ImageWarning",
    "ImageWriteError",
    "KernelError",
    "ParameterError",
    "ShapeError",
    "UnknownKernelError",
    "WeightsError",
    "__version__",
    "apply_kernel",
    "conv2d",
    "convolve2d",
    "output_shape",
]

# Imported on first use (PEP 562), so that the command line starts without them: NumPy alone
# would add ~70 ms to `convcli --help`.
_LAZY = {
    "ConvParams": "convcli.core.params",
    "apply_kernel": "convcli.core.convolution",
    "conv2d": "convcli.core.layer",
    "convolve2d": "convcli.core.convolution",
    "output_shape": "convcli.core.shape",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value  # later lookups find it without this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
