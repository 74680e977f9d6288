"""``convcli layer``: a whole convolution layer's feature maps of one image, and its filters."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from convcli.choices import LAYOUTS, PAD_MODES
from convcli.cli.options import choice_option, conv_params, geometry_options, max_pixels_option
from convcli.cli.streams import input_source, output_destination
from convcli.cli.types import NumberListType
from convcli.terminal.console import echo_product, stderr_console

if TYPE_CHECKING:
    from convcli.core.params import ConvParams


@click.command()
@click.argument(
    "image_path", metavar="IMAGE", required=False, type=click.Path(path_type=Path, allow_dash=True)
)
@click.option(
    "-w",
    "--weights",
    metavar="SPEC",
    help="The layer's filters: a built-in bank (gabor-rgb, gabor-gray, face-resnet-conv1),"
    " FILE (.npy, .npz,"
    " .safetensors) or FILE:NAME (resnet18.safetensors:conv1.weight). A bias named like"
    " the weight (conv1.bias) is found by itself.",
)
@click.option("--bias", metavar="SPEC", help="The bias, (C_out,): FILE or FILE:NAME.")
@choice_option(
    "--layout",
    LAYOUTS,
    "How the weight's axes are ordered: oihw (PyTorch: C_out, C_in, kh, kw) or hwio (Keras,"
    " TensorFlow: kh, kw, C_in, C_out).",
    default="oihw",
)
@click.option(
    "--list",
    "list_file",
    metavar="FILE",
    type=click.Path(path_type=Path),
    help="List the 4-D tensors FILE holds, with their shapes, and exit.",
)
@click.option(
    "-o",
    "--output",
    metavar="OUTPUT",
    type=click.Path(path_type=Path, allow_dash=True),
    help="OUTPUT.npy: the maps, (C_out, oh, ow) float32; .tif: one float32 page per map; an"
    " image (.png, .jpg, ...; - for PNG on standard output): filters and feature maps drawn.",
)
@geometry_options
@click.option(
    "--groups",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Channels in this many groups, each convolved on its own (C_in: depthwise).",
)
@choice_option(
    "--pad-mode",
    PAD_MODES,
    "What the padding holds (as apply's --pad-mode; constant holds 0).",
    default="zeros",
)
@click.option("--relu", is_flag=True, help="Keep max(0, x) of each map, as a ReLU after the layer.")
@click.option(
    "--mean",
    type=NumberListType("mean"),
    metavar="R,G,B",
    help="Subtract from each input channel (0..1 units), e.g. ImageNet's 0.485,0.456,0.406.",
)
@click.option(
    "--std",
    type=NumberListType("std"),
    metavar="R,G,B",
    help="Then divide each channel by it, e.g. ImageNet's 0.229,0.224,0.225.",
)
@click.option(
    "--same-range",
    is_flag=True,
    help="Draw every map from all maps' 0.5th to 99.5th percentile, instead of each from its"
    " own (then black and white mean the same value on every map).",
)
@click.option("--columns", type=click.IntRange(min=1), metavar="N", help="Maps in a row.")
@click.option(
    "--tile-size",
    type=click.IntRange(min=1),
    default=256,
    show_default=True,
    metavar="N",
    help="Shrink the drawn maps, the largest to N pixels on its longest side (never enlarged).",
)
@max_pixels_option("Refuse images with more pixels than this (a decompression bomb).")
@click.option("--force", is_flag=True, help="Allow OUTPUT to be the input file.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON record on stdout.")
@click.option(
    "--explain", is_flag=True, help="Print the layer's shape arithmetic (on stderr) as well."
)
@conv_params
def layer(
    image_path: Path | None,
    weights: str | None,
    bias: str | None,
    layout: str,
    list_file: Path | None,
    output: Path | None,
    params: ConvParams,
    groups: int,
    relu: bool,
    mean: tuple[float, ...] | None,
    std: tuple[float, ...] | None,
    same_range: bool,
    columns: int | None,
    tile_size: int,
    max_pixels: int,
    force: bool,
    as_json: bool,
    explain: bool,
) -> None:
    """Run a convolution layer on IMAGE (- for standard input): C_out filters over the image's
    channels, as torch.nn.functional.conv2d computes them, and write its feature maps.

    RGB images are 3 channels (R, G, B), gray ones 1, scaled to 0..1 as torchvision's ToTensor
    does, then normalised by --mean and --std; a .npy input is (C, H, W) as it is.

    \b
    Examples:
      convcli layer photo.png -w gabor-rgb -o maps.png
      convcli layer photo.png -w gabor-rgb --stride 2 --padding 3 --relu -o maps.png
      convcli layer face.jpg -w face-resnet-conv1 --stride 2 --mean 0.4815,0.4588,0.4090 \\
          --std 1.0039,1.0039,1.0039 -o maps.png
      convcli layer --list resnet18.safetensors
      convcli layer photo.jpg -w resnet18.safetensors:conv1.weight --stride 2 --padding 3 \\
          --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225 -o conv1.png
      convcli layer photo.png -w filters.npy --bias bias.npy --groups 3 -o maps.npy --json
    """
    import json

    if list_file is not None:
        if image_path is not None or weights is not None or output is not None:
            raise click.UsageError("--list FILE takes no IMAGE, --weights or --output")
        _list_tensors(list_file, as_json)
        return
    if image_path is None or weights is None or output is None:
        raise click.UsageError("give IMAGE, --weights SPEC and -o OUTPUT (or --list FILE)")
    if as_json and str(output) == "-":
        raise click.UsageError("--json prints on stdout, so -o cannot be '-' with it")

    from convcli.core.params import to_choice
    from convcli.pipeline.layer import LayerOptions, layer_arithmetic, load_layer, run_layer

    chosen = load_layer(weights, bias=bias, layout=to_choice(layout, LAYOUTS, "layout"))
    options = LayerOptions(
        groups=groups,
        relu=relu,
        mean=mean,
        std=std,
        same_range=same_range,
        columns=columns,
        tile_size=tile_size,
        max_pixels=max_pixels,
        force=force,
    )
    result = run_layer(
        input_source(image_path), output_destination(output), chosen, params, options
    )
    console = stderr_console()
    if explain:
        console.print(f"input: {result.input_description}", soft_wrap=True, markup=False)
        for line in layer_arithmetic(result.input_shape, chosen.weight.shape, params, groups):
            console.print(line, soft_wrap=True, markup=False, highlight=False)
    if as_json:
        echo_product(json.dumps(result.record()))
    if console.is_terminal and not as_json:
        console.print(f"wrote {result.summary()}", soft_wrap=True, markup=False)


def _list_tensors(path: Path, as_json: bool) -> None:
    """Print the 4-D tensors of a weights file, one a line (or JSON)."""
    import json

    from convcli.imageio.weights import list_tensors

    tensors = [tensor for tensor in list_tensors(path) if len(tensor.shape) == 4]
    if as_json:
        records = [
            {"name": tensor.name, "shape": list(tensor.shape), "dtype": tensor.dtype}
            for tensor in tensors
        ]
        echo_product(json.dumps(records))
        return
    if not tensors:
        stderr_console().print(f"{path} holds no 4-D tensor", soft_wrap=True, markup=False)
        return
    for tensor in tensors:
        shape = "x".join(str(side) for side in tensor.shape)
        echo_product(f"{tensor.name}\t{shape}\t{tensor.dtype}")
