"""The Click parameter types of the command line: pairs, padding, kernel specs, numbers, pixels.

The command line reads pairs as ``H,W`` (or ``HxW``) and names case-insensitively, then hands
the values to the library's own normalisers, so both enforce one set of rules in one set of
words. A refusal here is a usage error (exit 2).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import click

from convcli.errors import KernelError, ParameterError, UnknownKernelError, did_you_mean

if TYPE_CHECKING:
    from click.shell_completion import CompletionItem

    from convcli.core.params import Pair
    from convcli.kernels.kernel import Step

# The library is imported where a value is converted, and Click's completion where a value is
# completed, not here: `convcli --help` needs neither, and the kernels bring NumPy (~100 ms).

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


class NumberListType(click.ParamType["tuple[float, ...]"]):
    """Finite numbers separated by commas, one per channel: ``0.485,0.456,0.406``."""

    name = "numbers"

    def __init__(self, what: str) -> None:
        self.what = what

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[float, ...]:
        if isinstance(value, tuple):
            return value
        parts = str(value).split(",")
        numbers = []
        for part in parts:
            try:
                numbers.append(NumberType().convert(part, param, ctx))
            except click.BadParameter:
                self.fail(
                    f"{self.what} {value!r}: {part.strip()!r} is not a finite number"
                    " (give one per channel, separated by commas)",
                    param,
                    ctx,
                )
        return tuple(numbers)


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
