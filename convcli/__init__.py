"""convcli: filter images with 2-D convolution kernels, with PyTorch's ``conv2d`` semantics.

The library is pure NumPy and usable on its own::

    from convcli import convolve2d, output_shape
"""

from convcli.core import apply_kernel, convolve2d
from convcli.errors import (
    ConvcliError,
    ImageReadError,
    ImageWarning,
    ImageWriteError,
    KernelError,
    ParameterError,
    ShapeError,
    UnknownKernelError,
)
from convcli.params import ConvParams
from convcli.shape import output_shape

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
    "__version__",
    "apply_kernel",
    "convolve2d",
    "output_shape",
]
