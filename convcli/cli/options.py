"""Click parameter types and the options the commands share.

The command line reads pairs as ``H,W`` (or ``HxW``) and names case-insensitively, then hands
the values to the library's own normalisers, so both enforce one set of rules in one set of
words. A refusal here is a usage error (exit 2).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from convcli.choices import (
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
from convcli.errors import KernelError, ParameterError, UnknownKernelError, did_you_mean

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem

    from convcli.core.params import Pair
    from convcli.kernels.kernel import Step

# The library is imported where a value is converted, and Click's completion where a value is
# completed, not here: `convcli --help` needs neither, and the kernels and images bring NumPy
# and Pillow (~100 ms).

_INTEGERS = re.compile(r"^\s*(-?\d+)\s*(?:[,x]\s*(-?\d+)\s*)?$")


def parse_pair(text: str) -> int | tuple[int, int] | str:
    """``"3"`` -> 3, ``"3,1"`` or ``"3x1"`` -> (3, 1); `text` itself if it is neither.

    >>> parse_pair("2"), parse_pair("3,1"), parse_pair("300x451"), parse_pair("two")
    (2, (3, 1), (300, 451), 'two')
    """
    match = _INTEGERS.match(text)
    if match is None:
        return text
    first, second = match.groups()
    return int(first) if second is None else (int(first), int(second))


class PairType(click.ParamType["Pair"]):
    """An integer, or ``H,W`` for per-axis values; at least `minimum`."""

    def __init__(self, what: str, minimum: int, metavar: str = "N|H,W") -> None:
        self.what = what
        self.minimum = minimum
        self.metavar = metavar
        self.name = what

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return self.metavar

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Pair:
        from convcli.core.params import to_pair

        # Click may hand back a value it converted already: a pair, checked again.
        parsed = parse_pair(value) if isinstance(value, str) else value
        try:
            return to_pair(parsed, self.what, minimum=self.minimum, shown=repr(value))
        except ParameterError as error:
            self.fail(str(error), param, ctx)


class PaddingType(click.ParamType["Pair | str"]):
    """Padding: an integer, ``H,W``, ``same`` or ``valid``."""

    name = "padding"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "N|H,W|same|valid"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> Pair | str:
        from convcli.core.params import to_padding

        if isinstance(value, str):
            value = parse_pair(value.strip().lower())
        try:
            return to_padding(value)
        except ParameterError as error:
            self.fail(str(error), param, ctx)

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        from click.shell_completion import CompletionItem

        return [CompletionItem(name) for name in ("same", "valid") if name.startswith(incomplete)]


class KernelSpecType(click.ParamType["Step"]):
    """A kernel spec: a built-in, an operator, ``family:ARGS``, a file or an inline matrix."""

    name = "kernel"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "SPEC"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Step:
        from convcli.kernels.kernel import Kernel, Operator
        from convcli.kernels.spec import resolve_kernel

        if isinstance(value, Kernel | Operator):
            return value
        try:
            return resolve_kernel(str(value))
        except (KernelError, UnknownKernelError) as error:
            self.fail(str(error), param, ctx)

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        from click.shell_completion import CompletionItem

        from convcli.kernels.parametric import FAMILIES
        from convcli.kernels.registry import KERNELS, OPERATORS

        named = [
            CompletionItem(name, help=summary)
            for name, summary in [
                *((k.name, k.summary) for k in KERNELS.values()),
                *((o.name, o.summary) for o in OPERATORS.values()),
                *((f"{f.name}:", f.summary) for f in FAMILIES.values()),
            ]
            if name.startswith(incomplete)
        ]
        # Kernel files complete as paths, as the shell would.
        return [*named, CompletionItem(incomplete, type="file")]


class SheetSpecType(KernelSpecType):
    """What ``sheet -k`` takes: a preset (several kernels), or any kernel spec (one). Each
    kernel comes with its spec as given, which the sheet's record keeps (a JSON file's own
    name is only its label)."""

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "SPEC|PRESET"

    def convert(  # type: ignore[override]  # a preset stands for several steps
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[tuple[str, Step], ...]:
        from convcli.kernels.presets import PRESETS
        from convcli.kernels.registry import closest_names
        from convcli.kernels.spec import resolve_kernel

        if isinstance(value, tuple):
            return value
        text = str(value).strip()
        # A preset is a built-in name: it comes before a file of that name, as kernels do.
        specs = PRESETS[text].kernels if text in PRESETS else (str(value),)
        try:
            return tuple((spec, resolve_kernel(spec)) for spec in specs)
        except UnknownKernelError as error:
            near = closest_names(error.name, list(PRESETS))  # a misspelt preset first
            others = tuple(name for name in error.suggestions if name not in near)
            self.fail(
                f"unknown kernel {error.name!r}{did_you_mean((*near, *others)[:3])} (list the"
                f" kernels with 'convcli kernels'; the presets are {', '.join(PRESETS)})",
                param,
                ctx,
            )
        except KernelError as error:
            self.fail(str(error), param, ctx)

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[CompletionItem]:
        from click.shell_completion import CompletionItem

        from convcli.kernels.presets import PRESETS

        presets = [
            CompletionItem(preset.name, help=preset.summary)
            for preset in PRESETS.values()
            if preset.name.startswith(incomplete)
        ]
        return [*presets, *super().shell_complete(ctx, param, incomplete)]


class NumberType(click.ParamType[float]):
    """A finite number, written as a decimal or a fraction (``0.0625`` or ``1/16``)."""

    name = "number"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        from convcli.kernels.formats import parse_number

        if isinstance(value, float):
            return value
        try:
            return parse_number(str(value).strip(), str(value))
        except KernelError:
            self.fail(
                f"{value!r} is not a finite number (a decimal or a fraction like 1/16)", param, ctx
            )


F = TypeVar("F", bound=Callable[..., Any])


def geometry_options(function: F) -> F:
    """``--stride``, ``--padding`` and ``--dilation``: what decides the output's shape."""
    decorators = [
        click.option(
            "--stride",
            type=PairType("stride", minimum=1),
            default="1",
            show_default=True,
            help="Step between windows, per axis as H,W.",
        ),
        click.option(
            "--padding",
            type=PaddingType(),
            default="0",
            show_default=True,
            help="Pixels added on each side; 'same' keeps the size (stride 1), 'valid' is 0.",
        ),
        click.option(
            "--dilation",
            type=PairType("dilation", minimum=1),
            default="1",
            show_default=True,
            help="Spacing between kernel taps; 2 spreads a 3x3 kernel over 5x5.",
        ),
    ]
    for decorator in reversed(decorators):
        function = decorator(function)
    return function


pad_mode_option = click.option(
    "--pad-mode",
    type=click.Choice(PAD_MODES),
    default="zeros",
    show_default=True,
    help="What the padding holds: zeros, reflect (c b|a b c d|c b), "
    "replicate (a a|a b c d|d d) or circular (c d|a b c d|a b).",
)


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


class PositionType(click.ParamType["tuple[int, int]"]):
    """An output pixel as ``ROW,COL``; negative counts from the end, as NumPy indexes."""

    name = "position"

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        return "ROW,COL"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[int, int]:
        if isinstance(value, tuple):
            return value
        parsed = parse_pair(str(value)) if "," in str(value) else str(value)
        if not isinstance(parsed, tuple):
            self.fail(f"{value!r} is not ROW,COL (two integers, e.g. 10,20)", param, ctx)
        return parsed


# The flags that say "no": each sets the ImageOptions field named here to False. Every other
# image option sets the field of its own name.
_NEGATED_FIELDS = {"no_alpha": "keep_alpha", "no_auto_orient": "auto_orient"}


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
            from convcli.pipeline.apply import ImageOptions

            fields: dict[str, Any] = {}
            for name in names:
                value = kwargs.pop(name)
                if name in _NEGATED_FIELDS:
                    fields[_NEGATED_FIELDS[name]] = not value
                else:
                    fields[name] = value
            kwargs["image"] = ImageOptions(**fields)
            return function(*args, **kwargs)

        for name in reversed(names):
            command = table[name](command)
        return command  # type: ignore[return-value]

    return decorate


_IMAGE_OPTIONS: dict[str, Callable[[Any], Any]] = {
    "range_mode": click.option(
        "--range",
        "range_mode",
        type=click.Choice(RANGE_MODES),
        default="auto",
        show_default=True,
        help="Float results to pixels: clip to the output's range; abs then clip; rescale"
        " min..max onto it; auto = abs for results signed around 0 (edges), clip otherwise.",
    ),
    "color": click.option(
        "--color",
        "--colour",
        "color",
        is_flag=True,
        help="Filter R, G and B separately and write colour (default: one gray channel).",
    ),
    "gray": click.option(
        "--gray",
        type=click.Choice(GRAY_CHOICES),
        default="rec601",
        show_default=True,
        help="How colour becomes gray: Rec. 601 luma (Pillow's), Rec. 709, or the mean.",
    ),
    "depth": click.option(
        "--depth",
        type=click.Choice(OUTPUT_DEPTHS),
        help="Output bits per value: 8, 16, or float (TIFF); default: the input's.",
    ),
    "output_format": click.option(
        "--format",
        "output_format",
        type=click.Choice(FORMAT_NAMES, case_sensitive=False),
        help="Output format when OUTPUT is - or has no extension (default png).",
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
    "max_pixels": click.option(
        "--max-pixels",
        type=click.IntRange(min=1),
        default=DEFAULT_MAX_PIXELS,
        show_default=True,
        help="Refuse images whose header claims more pixels (decompression bombs).",
    ),
    "force": click.option("--force", is_flag=True, help="Allow OUTPUT to overwrite INPUT."),
    "png_compression": click.option(
        "--png-compression",
        type=click.IntRange(0, 9),
        default=DEFAULT_PNG_COMPRESSION,
        show_default=True,
        help="zlib level of PNG output: 0 none, 1 fast, 9 smallest (Pillow's default is 6).",
    ),
    "method": click.option(
        "--method",
        type=click.Choice(METHODS),
        default="auto",
        show_default=True,
        help="How the core computes: direct taps, separable passes (rank-1 kernels) or FFT;"
        " auto picks the fastest. All give the same result within float rounding.",
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
    "output_format",
    "no_auto_orient",
    "max_pixels",
    "force",
    "png_compression",
    "method",
    "threads",
    worded={
        "output_format": click.option(
            "--format",
            "output_format",
            type=click.Choice(SHEET_FORMAT_NAMES, case_sensitive=False),
            help="Sheet format when OUTPUT is - or has no extension (default png).",
        ),
        "max_pixels": click.option(
            "--max-pixels",
            type=click.IntRange(min=1),
            default=DEFAULT_MAX_PIXELS,
            show_default=True,
            help="Refuse an IMAGE whose header claims more pixels (decompression bombs), and a"
            " sheet that would have more.",
        ),
        "force": click.option(
            "--force", is_flag=True, help="Allow OUTPUT to overwrite IMAGE or a kernel file."
        ),
    },
)
"""The image options a sheet takes: it reads one gray channel and writes 8-bit gray, so
--color, --depth and --no-alpha do not apply."""
