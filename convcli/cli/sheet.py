"""``convcli sheet``: each kernel's response to one image, side by side on a contact sheet."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from convcli.cli.options import (
    conv_params,
    flip_option,
    geometry_options,
    pad_options,
    sheet_image_options,
)
from convcli.cli.streams import input_source, output_destination
from convcli.cli.types import SheetSpecType
from convcli.kernels.presets import describe_presets
from convcli.terminal.console import echo_product, stderr_console

if TYPE_CHECKING:
    from convcli.core.params import ConvParams
    from convcli.kernels.kernel import Step
    from convcli.pipeline.apply import ImageOptions


@click.command()
@click.argument("image_path", metavar="IMAGE", type=click.Path(path_type=Path, allow_dash=True))
@click.option(
    "-k",
    "--kernel",
    "specs",
    required=True,
    multiple=True,
    type=SheetSpecType(),
    help="A tile: anything apply's -k takes (a name, an operator, family:ARGS, a file, a"
    f" matrix), or a preset of several: {describe_presets()}. Repeat for more tiles.",
)
@click.option(
    "-o",
    "--output",
    required=True,
    metavar="OUTPUT",
    type=click.Path(path_type=Path, allow_dash=True),
    help="The sheet, in the format its extension names; - for standard output (png).",
)
@geometry_options
@pad_options
@flip_option
@click.option(
    "--columns",
    type=click.IntRange(min=1),
    metavar="N",
    help="Tiles in a row (default: up to 4 in one row, else about as many rows as columns).",
)
@click.option(
    "--tile-size",
    type=click.IntRange(min=1),
    metavar="N",
    help="Shrink every tile by one factor, the largest to N pixels on its longest side"
    " (tiles then no longer equal apply's output); a sheet over --max-pixels needs it.",
)
@sheet_image_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON record of the sheet on stdout.")
@conv_params
def sheet(
    image_path: Path,
    specs: tuple[tuple[tuple[str, Step], ...], ...],
    output: Path,
    params: ConvParams,
    columns: int | None,
    tile_size: int | None,
    image: ImageOptions,
    as_json: bool,
) -> None:
    """Filter an image by each kernel separately and write the responses side by side.

    The sheet shows IMAGE (- for standard input) as apply reads it (gray), then each kernel's
    response, labelled with its name and size, in a grid: the feature maps of a CNN's first
    layer. Each tile is what 'convcli apply -k K' writes with the same options, pixel for pixel
    (--tile-size aside).

    \b
    Examples:
      convcli sheet photo.png -k all-edges -o edges.png
      convcli sheet photo.png -k vertical -k gaussian:2 -k sobel -o sheet.png
      convcli sheet photo.png -k all-edges --padding same --pad-mode reflect -o same.png
      convcli sheet photo.png -k sobel-x -k gaussian:3 -k box:9 --stride 2 -o shapes.png
      convcli sheet big.jpg -k all-blurs --tile-size 256 --columns 5 -o blurs.png
    """
    import json

    from convcli.pipeline.sheet import make_sheet

    if as_json and str(output) == "-":
        raise click.UsageError("--json prints on stdout, so -o cannot be '-' with it")
    given = [spec for group in specs for spec in group]  # (-k text, kernel), presets expanded
    report = make_sheet(
        input_source(image_path),
        output_destination(output),
        [step for _, step in given],
        params,
        image,
        columns=columns,
        tile_size=tile_size,
        specs=[text for text, _ in given],
    )
    if as_json:
        echo_product(json.dumps(report.record()))
    console = stderr_console()
    if console.is_terminal and not as_json:
        console.print(f"wrote {report.summary()}", soft_wrap=True, markup=False)
