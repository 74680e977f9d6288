"""The options of one convolution, normalised once into a frozen :class:`ConvParams`.

Every size convcli reads or prints is (height, width), rows before columns, like a NumPy shape.
Scalars become per-axis pairs in exactly one helper, :func:`to_pair`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, SupportsIndex, TypeAlias, TypeVar

# The command line offers these without importing this module; they live with its choices.
from convcli.choices import PAD_MODES as PAD_MODES
from convcli.choices import PadMode as PadMode
from convcli.errors import ParameterError

Pair: TypeAlias = tuple[int, int]
"""A per-axis value, (height, width)."""

IntOrPair: TypeAlias = SupportsIndex | Iterable[SupportsIndex]
"""An int for both axes, or an (h, w) pair: a tuple, a list, a 1-D array."""
PaddingArg: TypeAlias = IntOrPair | str
Choice = TypeVar("Choice", bound=str)


def to_pair(value: object, name: str, *, minimum: int, shown: str | None = None) -> Pair:
    """Return `value` as an (h, w) pair of ints, each at least `minimum`.

    Accepts an int (used for both axes) or two ints in a sequence or 1-D array. Booleans and
    floats are refused, as PyTorch refuses them. `shown` is how an error quotes the value, if
    not as its ``repr`` (the command line quotes what was typed).

    >>> to_pair(2, "stride", minimum=1)
    (2, 2)
    >>> to_pair((1, 3), "dilation", minimum=1)
    (1, 3)
    >>> to_pair(0, "stride", minimum=1)
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: stride must be an integer >= 1 or an (h, w) pair of them, got 0
    """
    pair = _two_ints(value)
    if pair is None or min(pair) < minimum:
        quoted = repr(value) if shown is None else shown
        raise ParameterError(
            f"{name} must be an integer >= {minimum} or an (h, w) pair of them, got {quoted}"
        )
    return pair


def _two_ints(value: object) -> Pair | None:
    """An int twice, or the two ints of a pair; None for anything else."""
    single = _as_int(value)
    if single is not None:
        return (single, single)
    if not isinstance(value, Iterable) or isinstance(value, str | bytes):
        return None
    try:
        items = [_as_int(item) for item in value]
    except TypeError:  # a 0-d array is iterable in type only
        return None
    if len(items) != 2:
        return None
    first, second = items
    if first is None or second is None:
        return None
    return (first, second)


def _as_int(value: object) -> int | None:
    """`value` as an int if it is an integer (NumPy's included, bool excluded), else None."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    return None


def to_padding(value: object) -> Pair | Literal["same"]:
    """Return `value` as a padding pair, or ``"same"``; ``"valid"`` is (0, 0).

    >>> to_padding("valid"), to_padding(1), to_padding("same")
    ((0, 0), (1, 1), 'same')
    """
    if isinstance(value, str):
        if value == "same":
            return "same"
        if value == "valid":
            return (0, 0)
        raise ParameterError(
            f"padding must be an integer >= 0, an (h, w) pair, 'same' or 'valid', got {value!r}"
        )
    return to_pair(value, "padding", minimum=0)


def to_choice(value: object, choices: tuple[Choice, ...], name: str) -> Choice:
    """Return the member of `choices` equal to `value`, or raise :class:`ParameterError`.

    >>> to_choice("reflect", PAD_MODES, "pad mode")
    'reflect'
    >>> to_choice("mirror", PAD_MODES, "pad mode")
    Traceback (most recent call last):
    ...
    convcli.errors.ParameterError: pad mode must be one of zeros, reflect, replicate,
    circular, symmetric, constant; got 'mirror'
    """
    for choice in choices:
        if value == choice:
            return choice
    raise ParameterError(f"{name} must be one of {', '.join(map(str, choices))}; got {value!r}")


@dataclass(frozen=True)
class Border:
    """What the padding holds: a pad mode and, for ``constant``, its value (0 for ``zeros``)."""

    mode: PadMode = "zeros"
    value: float = 0.0

    @property
    def constant(self) -> bool:
        """Whether the padding holds one value rather than pixels of the image."""
        return self.mode in ("zeros", "constant")


@dataclass(frozen=True, kw_only=True)
class ConvParams:
    """How a kernel slides over an image: PyTorch's ``conv2d`` options, per axis.

    Each field also takes what :func:`convcli.convolve2d` takes (an int for both axes, a list
    or a 1-D array, ``"valid"``) and stores it as written below, so every spelling of one
    geometry gives one equal, hashable object.

    Attributes
    ----------
    stride : (int, int)
        Step between windows, >= 1.
    padding : (int, int) or "same"
        Rows added at top and bottom, columns at left and right, >= 0. ``"same"`` pads so that
        the output has the input's size (stride 1 only); an odd total puts the extra row or
        column at the bottom or right, as PyTorch does.
    dilation : (int, int)
        Spacing between kernel taps, >= 1; 1 is an ordinary kernel.
    pad_mode : str
        What the padding holds: ``zeros``, ``reflect``, ``replicate``, ``circular``,
        ``symmetric`` or ``constant`` (see :mod:`convcli.core.padding`).
    pad_value : float
        What ``constant`` padding holds; 0 for every other mode.
    flip : bool
        False: cross-correlation, the kernel applied as written (PyTorch, the deep-learning
        convention). True: true convolution, the kernel rotated by 180 degrees first.
    """

    stride: Pair = (1, 1)
    padding: Pair | Literal["same"] = (0, 0)
    dilation: Pair = (1, 1)
    pad_mode: PadMode = "zeros"
    pad_value: float = 0.0
    flip: bool = False

    def __post_init__(self) -> None:
        # Every spelling the fields accept is stored as its normal form (an int as a pair of
        # ints, "valid" as (0, 0)), so that equal geometries are equal, and hashable.
        stride = to_pair(self.stride, "stride", minimum=1)
        padding = to_padding(self.padding)
        dilation = to_pair(self.dilation, "dilation", minimum=1)
        pad_mode = to_choice(self.pad_mode, PAD_MODES, "pad mode")
        pad_value = _finite(self.pad_value, "pad value")
        if pad_value != 0 and pad_mode != "constant":
            raise ParameterError(
                f"a pad value ({pad_value:g}) is for pad mode constant, not {pad_mode}"
            )
        if not isinstance(self.flip, bool):
            raise ParameterError(f"flip must be True or False, got {self.flip!r}")
        if padding == "same" and stride != (1, 1):
            raise ParameterError(
                f"padding 'same' needs stride 1, got stride {format_pair(stride)}"
                " (as in PyTorch; give the padding as a number instead)"
            )
        normal = {
            "stride": stride,
            "padding": padding,
            "dilation": dilation,
            "pad_mode": pad_mode,
            "pad_value": pad_value,
        }
        for field, value in normal.items():
            object.__setattr__(self, field, value)  # a frozen dataclass sets its own fields

    @classmethod
    def from_args(
        cls,
        *,
        stride: IntOrPair = 1,
        padding: PaddingArg = 0,
        dilation: IntOrPair = 1,
        pad_mode: str = "zeros",
        pad_value: float = 0.0,
        flip: bool = False,
    ) -> ConvParams:
        """Build from scalars, pairs or names, as :func:`convcli.convolve2d` accepts them.

        >>> ConvParams.from_args(stride=2, padding="valid") == ConvParams(stride=(2, 2))
        True
        """
        return cls(
            stride=to_pair(stride, "stride", minimum=1),
            padding=to_padding(padding),
            dilation=to_pair(dilation, "dilation", minimum=1),
            pad_mode=to_choice(pad_mode, PAD_MODES, "pad mode"),
            pad_value=pad_value,
            flip=flip,
        )

    @property
    def border(self) -> Border:
        """What the padding holds, as the padding code takes it."""
        return Border(self.pad_mode, self.pad_value)


def _finite(value: object, name: str) -> float:
    """`value` as a float, if it is a finite real number (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParameterError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ParameterError(f"{name} must be finite, got {value!r}")
    return number


def format_pair(pair: Pair) -> str:
    """Write a pair as ``"3"`` when both axes agree, else as ``"3x1"`` (height first).

    >>> format_pair((2, 2)), format_pair((3, 1))
    ('2', '3x1')
    """
    height, width = pair
    return str(height) if height == width else f"{height}x{width}"


def format_size(size: Pair) -> str:
    """Write a size as ``HxW``, rows first, always with both numbers.

    >>> format_size((300, 451))
    '300x451'
    """
    return f"{size[0]}x{size[1]}"
