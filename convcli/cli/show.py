"""``convcli show``: images drawn in the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from convcli.cli.options import image_options_of

if TYPE_CHECKING:
    from convcli.pipeline.apply import ImageOptions


@click.command()
@click.argument(
    "images",
    metavar="IMAGE...",
    nargs=-1,
    required=True,
    type=click.Path(path_type=Path, allow_dash=True),
)
@click.option(
    "--width",
    type=click.IntRange(min=1),
    metavar="N",
    help="Draw N cells wide, however tall (default: fit the terminal, width and height).",
)
@image_options_of("no_auto_orient", "max_pixels")
def show(images: tuple[Path, ...], width: int | None, image: ImageOptions) -> None:
    """Draw images in the terminal, side by side when they fit, two pixels a character cell.

    Each image is read as apply reads it (16-bit, float and .npy included), colour kept, and
    shrunk to fit; without colour (NO_COLOR), a ramp of characters. Stdout must be a terminal.

    \b
    Examples:
      convcli show photo.jpg
      convcli show photo.png edges.png
      convcli show --width 60 scan16.tif result.npy
      convcli apply -k sobel --padding same photo.png - | convcli show -
    """
    from convcli.terminal.show import draw, read_sources

    sources = read_sources(images, auto_orient=image.auto_orient, max_pixels=image.max_pixels)
    draw(sources, command="show", width=width)
