"""``convcli shape``: the output-shape arithmetic, without filtering anything."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from convcli.cli.options import conv_params, geometry_options
from convcli.cli.types import KernelSpecType, PairType
from convcli.terminal.console import echo_product, print_product

if TYPE_CHECKING:
    from convcli.core.params import ConvParams, Pair
    from convcli.kernels.kernel import Step


@click.command()
@click.argument("image", required=False, type=click.Path(path_type=Path))
@click.option(
    "--input",
    "input_size",
    type=PairType("input size", minimum=1, metavar="HxW"),
    help="Input size instead of an image, e.g. 300x451.",
)
@click.option(
    "-k",
    "--kernel",
    "steps",
    multiple=True,
    type=KernelSpecType(),
    help="Take the kernel size from a kernel; repeat for a chain.",
)
@click.option(
    "--kernel-size",
    type=PairType("kernel size", minimum=1, metavar="K|HxW"),
    help="Kernel size instead of a kernel, e.g. 3 or 5x3.",
)
@geometry_options
@click.option("--json", "as_json", is_flag=True, help="Print the arithmetic as JSON.")
@conv_params
def shape(
    image: Path | None,
    input_size: Pair | None,
    steps: tuple[Step, ...],
    kernel_size: Pair | None,
    params: ConvParams,
    as_json: bool,
) -> None:
    """Print the output-shape arithmetic of a convolution, or of each step of a chain.

    Per axis, o = floor((i + 2p - d(k - 1) - 1) / s) + 1. Give the input as an image (only
    its header is read) or as --input HxW, and the kernel as -k SPEC or --kernel-size.

    \b
    Examples:
      convcli shape --input 300x451 -k sobel-x --stride 2 --padding 1
      convcli shape photo.png --kernel-size 7 --dilation 2 --json
      convcli shape --input 64x64 -k gaussian:2 -k sobel --stride 2
    """
    import json

    from convcli.core.params import format_size
    from convcli.core.shape import chain_arithmetic, check_chain_fits
    from convcli.terminal.render import chain_record, chain_report

    if bool(steps) == (kernel_size is not None):
        raise click.UsageError("give either -k SPEC or --kernel-size, not both or neither")
    if image is None and input_size is not None:
        size = input_size
    elif image is not None and input_size is None:
        size = _header_size(image)
    else:
        raise click.UsageError("give either an IMAGE or --input HxW, not both or neither")
    names: list[str | None]
    if kernel_size is None:
        names, shapes = [step.name for step in steps], [step.shape for step in steps]
    else:
        names, shapes = [None], [kernel_size]
    axes = chain_arithmetic(size, shapes, params)
    labels = [name or format_size(shape) for name, shape in zip(names, shapes, strict=True)]
    if as_json:
        # Scripts get the record even when a kernel does not fit ("fits": false), then exit 1.
        echo_product(json.dumps(chain_record(names, axes)))
        check_chain_fits(axes, labels)
    else:
        check_chain_fits(axes, labels)  # the error carries the arithmetic to stderr
        print_product(chain_report(labels, axes))


def _header_size(image: Path) -> Pair:
    """The (height, width) of `image`, from its header: Pillow, only when there is an image."""
    from convcli.imageio.reading import read_size

    return read_size(image)
