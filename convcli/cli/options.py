"""The options the commands share, and the objects they are built into.

Each group of options reaches a command as one value: the geometry as a
:class:`~convcli.core.params.ConvParams` (``params``), the kernels with ``--normalize``,
``--scale`` and ``--bias`` as the chain run (``chain``), and the image options as one
:class:`~convcli.pipeline.apply.ImageOptions` (``image``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from convcli.choices import (
    ALPHA_RULES,
    DEFAULT_MAX_PIXELS,
    DEFAULT_PNG_COMPRESSION,
    FORMAT_NAMES,
    GRAY_CHOICES,
    METHODS,
    OUTPUT_DEPTHS,
    PAD_MODES,
    RANGE_MODES,
    SHEET_FORMAT_NAMES,
)
from convcli.cli.types import KernelSpecType, NumberType, PaddingType, PairType

# The library is imported when a command runs, not here: `convcli --help` needs none of it.

F = TypeVar("F", bound=Callable[..., Any])

KERNEL_HELP = (
    "Kernel: a built-in name, an operator (sobel), family:ARGS (gaussian:1.4), a file"
    " (.txt .csv .tsv .mat .json .npy) or an inline matrix ('1,0,-1; 2,0,-2; 1,0,-1')."
    " Repeat to chain kernels."
)
"""What ``-k`` takes, where it names a chain (``apply``, ``explain``)."""


_GEOMETRY = (
    ("--stride", PairType("stride", minimum=1), "1", "Step between windows, per axis as H,W."),
    (
        "--padding",
        PaddingType(),
        "0",
        "Pixels added on each side; 'same' keeps the size (stride 1), 'valid' is 0.",
    ),
    (
        "--dilation",
        PairType("dilation", minimum=1),
        "1",
        "Spacing between kernel taps; 2 spreads a 3x3 kernel over 5x5.",
    ),
)


def geometry_options(function: F) -> F:
    """``--stride``, ``--padding`` and ``--dilation``: what decides the output's shape."""
    for flag, kind, default, help_text in reversed(_GEOMETRY):
        option = click.option(flag, type=kind, default=default, show_default=True, help=help_text)
        function = option(function)
    return function


def choice_option(
    flag: str,
    choices: Sequence[str],
    help_text: str,
    *,
    default: str | None = None,
    name: str | None = None,
    case_sensitive: bool = True,
) -> Callable[[F], F]:
    """An option taking one of `choices`, its default (if any) shown in the help."""
    return click.option(
        flag,
        *([name] if name else []),
        type=click.Choice(choices, case_sensitive=case_sensitive),
        default=default,
        show_default=default is not None,
        help=help_text,
    )


def format_option(names: Sequence[str], help_text: str) -> Callable[[F], F]:
    """``--format NAME``, case-insensitive, into the ``output_format`` argument."""
    return choice_option("--format", names, help_text, name="output_format", case_sensitive=False)


def max_pixels_option(help_text: str) -> Callable[[F], F]:
    """``--max-pixels N``: the decompression-bomb limit, Pillow's by default."""
    return click.option(
        "--max-pixels",
        type=click.IntRange(min=1),
        default=DEFAULT_MAX_PIXELS,
        show_default=True,
        help=help_text,
    )


def pad_options(function: F) -> F:
    """``--pad-mode`` and ``--pad-value``: what the padding holds."""
    with_value = click.option(
        "--pad-value",
        type=NumberType(),
        default=0.0,
        metavar="V",
        help="What constant padding holds, in the image's units (--pad-mode constant).",
    )(function)
    return choice_option(
        "--pad-mode",
        PAD_MODES,
        "What the padding holds: zeros, reflect (c b|a b c d|c b), replicate (a a|a b c d|d d),"
        " circular (c d|a b c d|a b), symmetric (b a|a b c d|d c) or constant (V V|a b c d|V V).",
        default="zeros",
    )(with_value)


def kernel_steps_option(help_text: str) -> Callable[[F], F]:
    """``-k/--kernel SPEC``, repeatable and required: the chain, in the ``steps`` argument."""
    return click.option(
        "-k",
        "--kernel",
        "steps",
        required=True,
        multiple=True,
        type=KernelSpecType(),
        help=help_text,
    )


flip_option = click.option(
    "--flip",
    is_flag=True,
    help="Rotate the kernel 180 degrees first: true convolution instead of cross-correlation.",
)


def step_options(function: F) -> F:
    """``--flip``, ``--normalize``, ``--scale`` and ``--bias``: what each kernel does."""
    decorators = [
        flip_option,
        click.option(
            "--normalize", is_flag=True, help="Divide each kernel by the sum of its weights."
        ),
        click.option(
            "--scale",
            type=NumberType(),
            help="Multiply the result by S (GIMP's divisor D is 1/D); replaces a file's own scale.",
        ),
        click.option(
            "--bias", type=NumberType(), help="Add B to the result; replaces a file's own bias."
        ),
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


def conv_params(function: F) -> F:
    """Hand the command its geometry as one :class:`~convcli.core.params.ConvParams`, in its
    ``params`` argument, from the options :func:`geometry_options`, :func:`pad_options` and
    ``--flip`` give it (the last two default when the command has none). Goes right above
    the command's function, below its options."""

    @functools.wraps(function)
    def command(*args: Any, **kwargs: Any) -> Any:
        from convcli.core.params import ConvParams

        kwargs["params"] = ConvParams.from_args(
            stride=kwargs.pop("stride"),
            padding=kwargs.pop("padding"),
            dilation=kwargs.pop("dilation"),
            pad_mode=kwargs.pop("pad_mode", "zeros"),
            pad_value=kwargs.pop("pad_value", 0.0),
            flip=kwargs.pop("flip", False),
        )
        return function(*args, **kwargs)

    return command  # type: ignore[return-value]


def prepared_chain(function: F) -> F:
    """Hand the command the chain it runs, in its ``chain`` argument: the ``-k`` steps with
    ``--normalize``, ``--scale`` and ``--bias`` applied (see
    :func:`convcli.pipeline.chain.prepare_chain`). Goes right above the command's function,
    below its options."""

    @functools.wraps(function)
    def command(*args: Any, **kwargs: Any) -> Any:
        from convcli.pipeline.chain import prepare_chain

        steps = prepare_chain(
            kwargs.pop("steps"),
            normalize=kwargs.pop("normalize"),
            scale=kwargs.pop("scale"),
            bias=kwargs.pop("bias"),
        )
        kwargs["chain"] = tuple(steps)
        return function(*args, **kwargs)

    return command  # type: ignore[return-value]


# The flags that say "no": each sets the ImageOptions field named here to False. Every other
# image option sets the field of its own name, but for how the core computes.
_NEGATED_FIELDS = {"no_alpha": "keep_alpha", "no_auto_orient": "auto_orient"}
_COMPUTE_FIELDS = ("method", "threads")


def image_options(function: F) -> F:
    """How pixels are read, computed, mapped and written: twelve options, handed to the
    command as one :class:`~convcli.pipeline.apply.ImageOptions` in its ``image`` argument."""
    return image_options_of(*_IMAGE_OPTIONS)(function)


def image_options_of(
    *names: str, worded: dict[str, Callable[[Any], Any]] | None = None
) -> Callable[[F], F]:
    """:func:`image_options`, only the options `names` (their parameter names); the others
    keep their defaults in the ``image`` argument. `worded` gives some of them otherwise, for
    a command they mean something else to, under the same parameter names."""
    table = {**_IMAGE_OPTIONS, **(worded or {})}

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def command(*args: Any, **kwargs: Any) -> Any:
            from convcli.core.methods import Compute
            from convcli.pipeline.apply import ImageOptions

            fields: dict[str, Any] = {}
            compute: dict[str, Any] = {}
            for name in names:
                value = kwargs.pop(name)
                if name in _NEGATED_FIELDS:
                    fields[_NEGATED_FIELDS[name]] = not value
                elif name in _COMPUTE_FIELDS:
                    compute[name] = value
                else:
                    fields[name] = value
            kwargs["image"] = ImageOptions(**fields, compute=Compute(**compute))
            return function(*args, **kwargs)

        for name in reversed(names):
            command = table[name](command)
        return command  # type: ignore[return-value]

    return decorate


_IMAGE_OPTIONS: dict[str, Callable[[Any], Any]] = {
    "range_mode": choice_option(
        "--range",
        RANGE_MODES,
        "Float results to pixels: clip to the output's range; abs then clip; rescale"
        " min..max onto it; auto = abs for results signed around 0 (edges), clip otherwise.",
        default="auto",
        name="range_mode",
    ),
    "color": click.option(
        "--color",
        "--colour",
        "color",
        is_flag=True,
        help="Filter R, G and B separately and write colour (default: one gray channel).",
    ),
    "gray": choice_option(
        "--gray",
        GRAY_CHOICES,
        "How colour becomes gray: Rec. 601 luma (Pillow's), Rec. 709, or the mean.",
        default="rec601",
    ),
    "depth": choice_option(
        "--depth",
        OUTPUT_DEPTHS,
        "Output bits per value: 8, 16, or float (TIFF); default: the input's.",
    ),
    "output_format": format_option(
        FORMAT_NAMES, "Output format when OUTPUT is - or has no extension (default png)."
    ),
    "alpha": choice_option(
        "--alpha",
        ALPHA_RULES,
        "How alpha goes through the kernels: weighted (colour weighted by alpha, alpha"
        " filtered, no dark fringes: ImageMagick's, GIMP's), carry (colour as stored, alpha"
        " from under the window's centre) or channel (alpha filtered as a channel: OpenCV's);"
        " auto = weighted when no kernel has a weight below 0 (blurs), carry otherwise.",
        default="auto",
    ),
    "no_alpha": click.option(
        "--no-alpha",
        is_flag=True,
        help="Drop the alpha channel instead of carrying it to the output.",
    ),
    "no_auto_orient": click.option(
        "--no-auto-orient",
        is_flag=True,
        help="Ignore the EXIF orientation (default: turn photographs upright).",
    ),
    "max_pixels": max_pixels_option(
        "Refuse images whose header claims more pixels (decompression bombs)."
    ),
    "force": click.option("--force", is_flag=True, help="Allow OUTPUT to overwrite INPUT."),
    "png_compression": click.option(
        "--png-compression",
        type=click.IntRange(0, 9),
        default=DEFAULT_PNG_COMPRESSION,
        show_default=True,
        help="zlib level of PNG output: 0 none, 1 fast, 9 smallest (Pillow's default is 6).",
    ),
    "method": choice_option(
        "--method",
        METHODS,
        "How the core computes: direct taps, separable passes (rank-1 kernels), matrix"
        " products (gemm) or FFT;"
        " auto picks the fastest. All give the same result within float rounding.",
        default="auto",
    ),
    "threads": click.option(
        "--threads",
        type=click.IntRange(min=1),
        help="At most this many threads (default: every core this process may use).",
    ),
}


sheet_image_options = image_options_of(
    "range_mode",
    "gray",
    "alpha",
    "output_format",
    "no_auto_orient",
    "max_pixels",
    "force",
    "png_compression",
    "method",
    "threads",
    worded={
        "output_format": format_option(
            SHEET_FORMAT_NAMES, "Sheet format when OUTPUT is - or has no extension (default png)."
        ),
        "max_pixels": max_pixels_option(
            "Refuse an IMAGE whose header claims more pixels (decompression bombs), and a"
            " sheet that would have more."
        ),
        "force": click.option(
            "--force", is_flag=True, help="Allow OUTPUT to overwrite IMAGE or a kernel file."
        ),
    },
)
"""The image options a sheet takes: it reads one gray channel and writes 8-bit gray, so
--color, --depth and --no-alpha do not apply (--alpha decides the colour, not an alpha)."""
