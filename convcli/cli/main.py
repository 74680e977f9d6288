"""The ``convcli`` command: a thin Click layer over the library.

Each command, in a module of its own, parses its options into the library's option objects,
calls one library function and reports. Errors from the library become one line on stderr and
an exit code in one place, :class:`~convcli.cli.exits.ConvcliGroup` (see
:mod:`convcli.cli.exits` for the codes).
"""

from __future__ import annotations

import signal
from types import FrameType
from typing import NoReturn

import click

from convcli import __version__
from convcli.cli.apply import apply
from convcli.cli.exits import EXIT_TERMINATED, ConvcliGroup
from convcli.cli.explain import explain
from convcli.cli.kernels import kernels
from convcli.cli.layer import layer
from convcli.cli.shape import shape
from convcli.cli.sheet import sheet
from convcli.cli.show import show

# Each command imports what it needs when it runs, down to json: NumPy, Pillow and Rich would
# add ~150 ms to every start, `convcli --help` and `convcli shape` included.


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
      convcli explain --input 5x5 -k vertical --at 1,1
      convcli sheet photo.png -k all-edges -o edges.png
      convcli layer photo.png -w gabor-rgb -o maps.png
      convcli show photo.png edges.png
    """


for command in (apply, explain, kernels, layer, shape, sheet, show):
    cli.add_command(command)


def main() -> None:
    """The ``convcli`` entry point."""
    # SIGTERM unwinds like Ctrl-C, so that no temporary file outlives a killed run.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    cli.main(prog_name="convcli")


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> NoReturn:
    raise SystemExit(EXIT_TERMINATED)
