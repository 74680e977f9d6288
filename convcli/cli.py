"""The ``convcli`` command: a thin Click layer over the library.

Each command parses its options, calls one library function and reports. Errors from the
library are turned into one line on stderr and an exit code in one place, :meth:`ConvcliGroup.main`:

====  ==========================================================================
0     success
1     the data did not cooperate: unreadable input, unwritable output, a kernel
      that does not fit the image
2     the command line is wrong: unknown kernel, bad option value or combination
130   interrupted (Ctrl-C)
143   terminated (SIGTERM)
====  ==========================================================================
"""

from __future__ import annotations

import json
import signal
import sys
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

import click

from convcli import __version__
from convcli.console import print_product, report_error, show_warning, stderr_console
from convcli.errors import (
    ConvcliError,
    ImageWarning,
    KernelError,
    ParameterError,
    ShapeError,
    UnknownKernelError,
)
from convcli.image_io import read_size
from convcli.kernels import KERNELS, Kernel
from convcli.options import KernelType, PairType, geometry_options, pad_mode_option
from convcli.params import ConvParams, Pair, format_size
from convcli.pipeline import apply_to_file
from convcli.rangemap import RANGE_MODES
from convcli.render import arithmetic_record, arithmetic_report, kernel_listing, kernel_matrix
from convcli.shape import arithmetic, check_fits

EXIT_OK = 0
EXIT_DATA_ERROR = 1
EXIT_USAGE_ERROR = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 128 + signal.SIGTERM


def exit_code_for(error: ConvcliError) -> int:
    """Usage errors (the command line is wrong) exit 2; data errors exit 1."""
    if isinstance(error, ParameterError | KernelError | UnknownKernelError):
        return EXIT_USAGE_ERROR
    return EXIT_DATA_ERROR


class Interrupted(click.ClickException):
    """Ctrl-C while a command runs."""

    exit_code = EXIT_INTERRUPTED

    def __init__(self) -> None:
        super().__init__("interrupted")


class ConvcliGroup(click.Group):
    """A group that reports every failure as one line and an exit code, never a traceback."""

    debug = False

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise Interrupted() from None

    def main(  # type: ignore[override]  # Click types main() as NoReturn only when standalone
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:  # the caller handles errors itself
            return super().main(args, prog_name, standalone_mode=False, **extra)
        self.debug = False
        with warnings.catch_warnings():
            warnings.simplefilter("always", ImageWarning)
            warnings.showwarning = show_warning
            code = self._run(args, prog_name, **extra)
        sys.exit(code)

    def _run(self, args: Sequence[str] | None, prog_name: str | None, **extra: Any) -> int:
        """Run the command line; report any failure in one line; return the exit code."""
        try:
            result = super().main(args, prog_name, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as error:  # bare `convcli`: the help
            error.show()
            return error.exit_code
        except (Interrupted, click.exceptions.Abort):
            if stderr_console().is_terminal:
                print(file=sys.stderr)  # past the terminal's "^C"
            report_error("interrupted")
            return EXIT_INTERRUPTED
        except click.UsageError as error:
            self._show_traceback()
            # A bad value names its option and the rule; other slips get a pointer to the help.
            names_the_rule = isinstance(error, click.BadParameter) and not isinstance(
                error, click.MissingParameter
            )
            hint = ""
            if error.ctx is not None and not names_the_rule:
                hint = f" (see '{error.ctx.command_path} --help')"
            report_error(error.format_message() + hint)
            return error.exit_code
        except click.ClickException as error:
            self._show_traceback()
            report_error(error.format_message())
            return error.exit_code
        except ConvcliError as error:
            self._show_traceback()
            report_error(str(error), error.details if isinstance(error, ShapeError) else ())
            return exit_code_for(error)
        except MemoryError:
            self._show_traceback()
            report_error("not enough memory for this image and kernel")
            return EXIT_DATA_ERROR
        except Exception as error:  # a bug: say so in one line, keep the traceback for --debug
            self._show_traceback()
            report_error(
                f"internal error: {type(error).__name__}: {error}"
                " (run 'convcli --debug ...' to see the traceback)"
            )
            return EXIT_DATA_ERROR
        return result if isinstance(result, int) else EXIT_OK

    def _show_traceback(self) -> None:
        if self.debug:
            traceback.print_exc(file=sys.stderr)


def _set_debug(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and isinstance(ctx.command, ConvcliGroup):
        ctx.command.debug = True


@click.group(
    cls=ConvcliGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "-V", "--version", prog_name="convcli")
@click.option(
    "--debug",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_set_debug,
    help="Show the traceback when something fails.",
)
def cli() -> None:
    """Filter images with 2-D convolution kernels, as PyTorch's conv2d computes them.

    Kernels are applied as written (cross-correlation); sizes are HxW, rows first.

    \b
    Examples:
      convcli apply -k vertical photo.png edges.png
      convcli apply -k gaussian-5 --padding same photo.jpg blurred.png
      convcli shape --input 300x451 -k sobel-x --stride 2 --padding 1
      convcli kernels sobel-x
    """


@cli.command()
@click.option(
    "-k",
    "--kernel",
    required=True,
    type=KernelType(),
    help="Built-in kernel to apply ('convcli kernels' lists them).",
)
@geometry_options
@pad_mode_option
@click.option(
    "--flip",
    is_flag=True,
    help="Rotate the kernel 180 degrees first: true convolution instead of cross-correlation.",
)
@click.option(
    "--range",
    "range_mode",
    type=click.Choice(RANGE_MODES),
    default="auto",
    show_default=True,
    help="Float results to pixels: clip to 0..255; abs then clip; rescale min..max onto "
    "0..255; auto = abs for zero-sum kernels (edges), clip otherwise.",
)
@click.option("--explain", is_flag=True, help="Print the output-shape arithmetic to stderr.")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.argument("output_path", metavar="OUTPUT", type=click.Path(path_type=Path))
def apply(
    kernel: Kernel,
    stride: Pair,
    padding: Pair | str,
    dilation: Pair,
    pad_mode: str,
    flip: bool,
    range_mode: str,
    explain: bool,
    input_path: Path,
    output_path: Path,
) -> None:
    """Filter an image with a kernel and write the result.

    INPUT is read as grayscale, filtered, mapped to 0..255 by --range and written to OUTPUT
    in the format its extension names.

    \b
    Examples:
      convcli apply -k vertical photo.png edges.png
      convcli apply -k sobel-y --stride 2 --padding 1 photo.jpg half.png
      convcli apply -k gaussian-5 --padding same --pad-mode reflect in.png blur.png
    """
    params = ConvParams.from_args(
        stride=stride, padding=padding, dilation=dilation, pad_mode=pad_mode, flip=flip
    )
    report = apply_to_file(input_path, output_path, kernel, params, range_mode=range_mode)
    console = stderr_console()
    if explain:
        console.print(arithmetic_report(report.axes))
        low, high = report.value_range
        console.print(
            f"values {low:.6g} to {high:.6g} before mapping; range {report.range_mode}",
            soft_wrap=True,
        )
    if console.is_terminal:
        console.print(
            f"wrote {output_path}: {report.kernel} on {format_size(report.input_shape)}"
            f" -> {format_size(report.output_shape)}, range {report.range_mode}",
            soft_wrap=True,
            markup=False,
        )


@cli.command()
@click.argument("name", metavar="NAME", required=False, type=KernelType())
def kernels(name: Kernel | None) -> None:
    """List the built-in kernels, or print one kernel's weights.

    \b
    Examples:
      convcli kernels
      convcli kernels sobel-x
    """
    if name is None:
        print_product(kernel_listing(list(KERNELS.values())))
    else:
        print_product(kernel_matrix(name))


@cli.command()
@click.argument("image", required=False, type=click.Path(path_type=Path))
@click.option(
    "--input",
    "input_size",
    type=PairType("input size", minimum=1, metavar="HxW"),
    help="Input size instead of an image, e.g. 300x451.",
)
@click.option("-k", "--kernel", type=KernelType(), help="Take the kernel size from a kernel.")
@click.option(
    "--kernel-size",
    type=PairType("kernel size", minimum=1, metavar="K|HxW"),
    help="Kernel size instead of a kernel, e.g. 3 or 5x3.",
)
@geometry_options
@click.option("--json", "as_json", is_flag=True, help="Print the arithmetic as JSON.")
def shape(
    image: Path | None,
    input_size: Pair | None,
    kernel: Kernel | None,
    kernel_size: Pair | None,
    stride: Pair,
    padding: Pair | str,
    dilation: Pair,
    as_json: bool,
) -> None:
    """Print the output-shape arithmetic of a convolution.

    Per axis, o = floor((i + 2p - d(k - 1) - 1) / s) + 1. Give the input as an image (only
    its header is read) or as --input HxW, and the kernel as -k NAME or --kernel-size.

    \b
    Examples:
      convcli shape --input 300x451 -k sobel-x --stride 2 --padding 1
      convcli shape photo.png --kernel-size 7 --dilation 2 --json
    """
    if (image is None) == (input_size is None):
        raise click.UsageError("give either an IMAGE or --input HxW, not both or neither")
    if (kernel is None) == (kernel_size is None):
        raise click.UsageError("give either -k NAME or --kernel-size, not both or neither")
    params = ConvParams.from_args(stride=stride, padding=padding, dilation=dilation)
    size = read_size(image) if image is not None else input_size
    hw = kernel.shape if kernel is not None else kernel_size
    assert size is not None  # checked above
    assert hw is not None
    axes = arithmetic(size, hw, params)
    if as_json:
        # Scripts get the record even when the kernel does not fit ("fits": false), then exit 1.
        click.echo(json.dumps(arithmetic_record(axes)))
        check_fits(axes)
    else:
        check_fits(axes)  # the error carries the arithmetic to stderr
        print_product(arithmetic_report(axes))


def main() -> None:
    """The ``convcli`` entry point."""
    # SIGTERM unwinds like Ctrl-C, so that no temporary file outlives a killed run.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    cli.main(prog_name="convcli")


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> NoReturn:
    raise SystemExit(EXIT_TERMINATED)
