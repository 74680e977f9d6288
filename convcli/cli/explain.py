"""``convcli explain``: one output pixel worked by hand."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from convcli.choices import FORMAT_NAMES
from convcli.cli.options import (
    KERNEL_HELP,
    conv_params,
    format_option,
    geometry_options,
    image_options_of,
    kernel_steps_option,
    pad_options,
    prepared_chain,
    step_options,
)
from convcli.cli.streams import input_source
from convcli.cli.types import PairType, PositionType
from convcli.terminal.console import print_product

if TYPE_CHECKING:
    from convcli.core.params import ConvParams, Pair
    from convcli.kernels.kernel import Step
    from convcli.pipeline.apply import ImageOptions

# The options that read an image, which the ramp is not.
_IMAGE_READING = ("color", "gray", "alpha", "no_alpha", "no_auto_orient", "max_pixels")


@click.command()
@click.argument("source", metavar="[IMAGE]", required=False, type=click.Path(path_type=Path))
@click.option(
    "--input",
    "input_size",
    type=PairType("input size", minimum=1, metavar="HxW"),
    help="Instead of an image, the ramp x[i, j] = i*W + j of this size, e.g. 5x5.",
)
@kernel_steps_option(KERNEL_HELP)
@click.option(
    "--at",
    required=True,
    type=PositionType(),
    help="The output pixel to work: ROW,COL, from 0; negative counts from the end.",
)
@geometry_options
@pad_options
@step_options
@image_options_of(
    "range_mode",
    "color",
    "gray",
    "depth",
    "alpha",
    "no_alpha",
    "no_auto_orient",
    "max_pixels",
    "method",
    "threads",
    "output_format",
    worded={
        "output_format": format_option(
            FORMAT_NAMES,
            "Work the pixel as this format would hold it (default png; npy for --input).",
        )
    },
)
@conv_params
@prepared_chain
def explain(
    source: Path | None,
    input_size: Pair | None,
    chain: tuple[Step, ...],
    params: ConvParams,
    at: tuple[int, int],
    image: ImageOptions,
) -> None:
    """Work one output pixel by hand: its window, the products, their sum, the pixel written.

    Prints the shape arithmetic, which input rows and columns the window covers (those in
    the padding marked *, with what the pad mode puts there), the window, the kernel and
    their products, the sum, the scale and bias, and the mapping to the output's values;
    last, the output pixel, as apply would write it. Give an IMAGE (- for standard input)
    or --input HxW for the ramp x[i, j] = i*W + j, small enough to check by hand.

    \b
    Examples:
      convcli explain --input 5x5 -k sobel-x --at 0,0 --padding 1 --stride 2
      convcli explain photo.png -k vertical --at 120,200
      convcli explain photo.png -k sobel --at -1,-1 --padding 1 --pad-mode reflect
      convcli explain --input 7x7 -k gaussian-3 -k laplacian --at 2,2 --dilation 2
    """
    from convcli.pipeline.explain import explain_image, explain_ramp
    from convcli.terminal.render_pixel import worked_pixel_report

    neither_or_both = "give either an IMAGE or --input HxW, not both or neither"
    if source is None:
        if input_size is None:
            raise click.UsageError(neither_or_both)
        context = click.get_current_context()
        for name in _IMAGE_READING:
            if context.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE:
                option = "--" + name.replace("_", "-")
                raise click.UsageError(f"{option} is for an IMAGE; the ramp is one gray channel")
        worked = explain_ramp(input_size, chain, params, at, image)
    elif input_size is None:
        worked = explain_image(input_source(source), chain, params, at, image)
    else:
        raise click.UsageError(neither_or_both)
    print_product(worked_pixel_report(worked))
