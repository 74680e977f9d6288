"""The ``convcli`` command: a thin Click layer over the library.

Each command parses its options, calls one library function and reports. Errors from the
library become one line on stderr and an exit code in one place, :class:`ConvcliGroup`
(see :mod:`convcli.cli.exits` for the codes).
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from types import FrameType
from typing import IO, TYPE_CHECKING, Any, NoReturn

import click

from convcli import __version__
from convcli.choices import FORMAT_NAMES
from convcli.cli.exits import (
    EXIT_DATA_ERROR,
    EXIT_TERMINATED,
    ConvcliGroup,
    SomeFilesFailedError,
    exit_code_for,
)
from convcli.cli.options import (
    KernelSpecType,
    PairType,
    PositionType,
    SheetSpecType,
    flip_option,
    geometry_options,
    image_options,
    image_options_of,
    kernel_steps_option,
    pad_mode_option,
    sheet_image_options,
    step_options,
)
from convcli.kernels.presets import describe_presets
from convcli.terminal.console import (
    echo_product,
    print_explanation,
    print_product,
    report_warning,
    stderr_console,
)

if TYPE_CHECKING:
    from convcli.core.params import Pair
    from convcli.kernels.kernel import Step
    from convcli.pipeline.apply import ImageOptions
    from convcli.terminal.show import ApplyPreview

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
      convcli show photo.png edges.png
    """


_KERNEL_HELP = (
    "Kernel: a built-in name, an operator (sobel), family:ARGS (gaussian:1.4), a file"
    " (.txt .csv .tsv .mat .json .npy) or an inline matrix ('1,0,-1; 2,0,-2; 1,0,-1')."
    " Repeat to chain kernels."
)


@cli.command()
@kernel_steps_option(_KERNEL_HELP)
@geometry_options
@pad_mode_option
@step_options
@image_options
@click.option("--explain", is_flag=True, help="Print the shape arithmetic of each step to stderr.")
@click.option(
    "--at",
    type=PositionType(),
    help="Work output pixel ROW,COL by hand on stderr, as convcli explain does (implies"
    " --explain).",
)
@click.option(
    "--preview",
    is_flag=True,
    help="Draw the input and the written output side by side in the terminal, on stdout.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print a JSON record of each file on stdout (a line)."
)
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False),
    help="Batch: write every INPUT here, as its stem, --suffix and extension (made if missing).",
)
@click.option("--suffix", default="", help="Batch: add this to each output's stem, e.g. _edges.")
@click.option(
    "--inputs-from",
    type=click.File("r", errors="surrogateescape"),  # file names need not be UTF-8
    help="Batch: read more INPUT paths from FILE (- for stdin), one a line.",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    help="Batch: files processed in parallel processes (default: the cores; 1 = one by one).",
)
@click.option("-q", "--quiet", is_flag=True, help="Batch: no progress bar and no summary.")
@click.option(
    "--dry-run", is_flag=True, help="Batch: print each output and its shape; write nothing."
)
@click.argument(
    "paths", metavar="INPUT... [OUTPUT]", nargs=-1, type=click.Path(path_type=Path, allow_dash=True)
)
def apply(
    steps: tuple[Step, ...],
    stride: Pair,
    padding: Pair | str,
    dilation: Pair,
    pad_mode: str,
    flip: bool,
    normalize: bool,
    scale: float | None,
    bias: float | None,
    image: ImageOptions,
    explain: bool,
    at: tuple[int, int] | None,
    preview: bool,
    as_json: bool,
    out_dir: str | None,
    suffix: str,
    inputs_from: IO[str] | None,
    jobs: int | None,
    quiet: bool,
    dry_run: bool,
    paths: tuple[Path, ...],
) -> None:
    """Filter an image with one kernel, or a chain of them, and write the result.

    INPUT is read as gray (or colour with --color), filtered by each -k in turn (no rounding
    in between), scaled and biased, mapped to the output's range by --range and written to
    OUTPUT in the format its extension names. Either may be - for standard input or output.
    With --out-dir, every path is an INPUT: a batch, written into that directory.

    \b
    Examples:
      convcli apply -k vertical photo.png edges.png
      convcli apply -k sobel --padding same photo.jpg magnitude.png
      convcli apply -k gaussian:1.4 -k laplacian --padding same photo.png log.png
      convcli apply -k gaussian-3 --color --padding same photo.png soft.png
      convcli apply -k my_kernel.txt --normalize scan.tif out.tif
      convcli apply -k gaussian-3 - - < in.png | convcli apply -k vertical - out.png
      convcli apply -k sobel photos/*.jpg --out-dir edges --suffix _edges -j 2
    """
    import json

    from convcli.core.params import ConvParams, format_size
    from convcli.imageio.files import Job
    from convcli.pipeline.batch import process
    from convcli.pipeline.chain import prepare_chain
    from convcli.terminal.render import chain_report, explain_values

    params = ConvParams.from_args(
        stride=stride, padding=padding, dilation=dilation, pad_mode=pad_mode, flip=flip
    )
    chain = prepare_chain(steps, normalize=normalize, scale=scale, bias=bias)
    if out_dir is not None or inputs_from is not None:
        from convcli.terminal.batch_report import BatchRequest, apply_batch

        if out_dir == "":  # an unset shell variable, most likely: not "here"
            raise click.UsageError("--out-dir is empty: name a directory ('.' for this one)")
        if out_dir is None:
            raise click.UsageError("--inputs-from needs --out-dir DIR, where the outputs go")
        one_file = {"--explain": explain, "--at": at is not None, "--preview": preview}
        for option, given in one_file.items():
            if given:
                raise click.UsageError(f"{option} is for one file: give INPUT and OUTPUT")
        request = BatchRequest(Path(out_dir), suffix, inputs_from, jobs, quiet, dry_run, as_json)
        if apply_batch(paths, request, chain, params, image):
            raise SomeFilesFailedError()
        return
    batch_only = {"--suffix": suffix, "--jobs": jobs, "--quiet": quiet, "--dry-run": dry_run}
    for option, value in batch_only.items():
        if value:
            raise click.UsageError(f"{option} is for batches: give --out-dir DIR")
    if len(paths) != 2:
        raise click.UsageError(
            "give INPUT and OUTPUT, or several INPUTs with --out-dir DIR"
            f" (got {len(paths)} path{'' if len(paths) == 1 else 's'})"
        )
    input_path, output_path = paths
    for stdout_user, given in {"--json": as_json, "--preview": preview}.items():
        if given and str(output_path) == "-":
            raise click.UsageError(
                f"{stdout_user} prints on stdout, so OUTPUT cannot be '-' with it"
            )
    if preview and as_json:
        raise click.UsageError("--preview and --json both print on stdout: give one of them")
    source: Path | IO[bytes] = input_path
    if str(input_path) == "-":
        source = _standard_stream(sys.stdin, "read standard input")
    destination: Path | IO[bytes] = output_path
    if str(output_path) == "-":
        destination = _standard_stream(sys.stdout, "write standard output")
    job = Job(source, destination)
    previewer: ApplyPreview | None = None
    if preview:
        from convcli.terminal.show import ApplyPreview

        previewer = ApplyPreview(job, image)  # keeps what apply reads only once
        job = previewer.job
    # One file is a batch of one: the same function runs every file of a batch.
    result = process(job, chain, params, image, at=at)
    for warning in result.warnings:
        report_warning(warning)
    if result.report is None:  # it failed: say it in one line, with its exit code
        error = result.error
        if as_json and (error is None or exit_code_for(error) == EXIT_DATA_ERROR):
            echo_product(json.dumps(result.record))
        if error is None:
            raise MemoryError
        raise error
    report, worked = result.report, result.worked
    if as_json:
        echo_product(json.dumps(result.record))
    console = stderr_console()
    if explain and worked is None:
        console.print(chain_report(report.kernels, report.steps))
        for step in chain:
            if step.scale != 1 or step.bias != 0:
                console.print(
                    f"{step.name}: result x {step.scale:g} + {step.bias:g}",
                    soft_wrap=True,
                    markup=False,
                )
        console.print(explain_values(report), soft_wrap=True, markup=False)
    if console.is_terminal and not as_json:
        console.print(
            f"wrote {report.output}: {' then '.join(report.kernels)} on"
            f" {format_size(report.input_shape)} -> {format_size(report.output_shape)},"
            f" {report.format} {report.depth}",
            soft_wrap=True,
            markup=False,
        )
    if worked is not None:
        from convcli.terminal.render_pixel import worked_pixel_report

        console.print(explain_values(report), soft_wrap=True, markup=False)
        print_explanation(worked_pixel_report(worked))
    if previewer is not None:
        previewer.draw()


@cli.command()
@click.argument("spec", metavar="SPEC", required=False, type=KernelSpecType())
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["txt", "json"]),
    help="Write the kernel as a text matrix or JSON that -k reads back equal.",
)
def kernels(spec: Step | None, output_format: str | None) -> None:
    """List the built-in kernels, or show any kernel as it was parsed.

    SPEC is anything -k takes: a name, an operator, family:ARGS, a file or a matrix.

    \b
    Examples:
      convcli kernels
      convcli kernels sobel-x
      convcli kernels gaussian:1.4 --format txt > blur.txt
      convcli kernels "1,2,1; 2,4,2; 1,2,1" --format json
    """
    from convcli.kernels.formats import to_json, to_text
    from convcli.kernels.kernel import Operator
    from convcli.kernels.parametric import FAMILIES
    from convcli.kernels.registry import KERNELS, OPERATORS
    from convcli.terminal.render import kernel_listing, step_view

    if spec is None:
        if output_format is not None:
            raise click.UsageError("--format needs a SPEC: the kernel to write")
        print_product(
            kernel_listing(
                list(KERNELS.values()), list(OPERATORS.values()), list(FAMILIES.values())
            )
        )
    elif output_format is None:
        print_product(step_view(spec))
    elif isinstance(spec, Operator):
        raise click.UsageError(
            f"{spec.name} is an operator, not one matrix; write {spec.x.name} or {spec.y.name}"
        )
    else:
        echo_product(to_text(spec) if output_format == "txt" else to_json(spec), newline=False)


@cli.command()
@click.argument("source", metavar="[IMAGE]", required=False, type=click.Path(path_type=Path))
@click.option(
    "--input",
    "input_size",
    type=PairType("input size", minimum=1, metavar="HxW"),
    help="Instead of an image, the ramp x[i, j] = i*W + j of this size, e.g. 5x5.",
)
@kernel_steps_option(_KERNEL_HELP)
@click.option(
    "--at",
    required=True,
    type=PositionType(),
    help="The output pixel to work: ROW,COL, from 0; negative counts from the end.",
)
@geometry_options
@pad_mode_option
@step_options
@image_options_of(
    "range_mode",
    "color",
    "gray",
    "depth",
    "no_alpha",
    "no_auto_orient",
    "max_pixels",
    "method",
    "threads",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMAT_NAMES, case_sensitive=False),
    help="Work the pixel as this format would hold it (default png; npy for --input).",
)
def explain(
    source: Path | None,
    input_size: Pair | None,
    steps: tuple[Step, ...],
    at: tuple[int, int],
    stride: Pair,
    padding: Pair | str,
    dilation: Pair,
    pad_mode: str,
    flip: bool,
    normalize: bool,
    scale: float | None,
    bias: float | None,
    image: ImageOptions,
    output_format: str | None,
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
    import dataclasses

    from convcli.core.params import ConvParams
    from convcli.pipeline.chain import prepare_chain
    from convcli.pipeline.explain import explain_image, explain_ramp
    from convcli.terminal.render_pixel import worked_pixel_report

    if (source is None) == (input_size is None):
        raise click.UsageError("give either an IMAGE or --input HxW, not both or neither")
    if input_size is not None:
        context = click.get_current_context()
        for name in ("color", "gray", "no_alpha", "no_auto_orient", "max_pixels"):
            if context.get_parameter_source(name) is click.core.ParameterSource.COMMANDLINE:
                option = "--" + name.replace("_", "-")
                raise click.UsageError(f"{option} is for an IMAGE; the ramp is one gray channel")
    params = ConvParams.from_args(
        stride=stride, padding=padding, dilation=dilation, pad_mode=pad_mode, flip=flip
    )
    chain = prepare_chain(steps, normalize=normalize, scale=scale, bias=bias)
    options = dataclasses.replace(image, output_format=output_format)
    if input_size is not None:
        worked = explain_ramp(input_size, chain, params, at, options)
    else:
        assert source is not None  # checked above
        stream: Path | IO[bytes] = source
        if str(source) == "-":
            stream = _standard_stream(sys.stdin, "read standard input")
        worked = explain_image(stream, chain, params, at, options)
    print_product(worked_pixel_report(worked))


@cli.command()
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


@cli.command()
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
def shape(
    image: Path | None,
    input_size: Pair | None,
    steps: tuple[Step, ...],
    kernel_size: Pair | None,
    stride: Pair,
    padding: Pair | str,
    dilation: Pair,
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

    from convcli.core.params import ConvParams, format_size
    from convcli.core.shape import chain_arithmetic, check_chain_fits
    from convcli.terminal.render import chain_record, chain_report

    if (image is None) == (input_size is None):
        raise click.UsageError("give either an IMAGE or --input HxW, not both or neither")
    if bool(steps) == (kernel_size is not None):
        raise click.UsageError("give either -k SPEC or --kernel-size, not both or neither")
    params = ConvParams.from_args(stride=stride, padding=padding, dilation=dilation)
    size = input_size
    if image is not None:
        from convcli.imageio.reading import read_size  # Pillow, only when there is an image

        size = read_size(image)
    assert size is not None  # checked above
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


@cli.command()
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
@pad_mode_option
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
def sheet(
    image_path: Path,
    specs: tuple[tuple[tuple[str, Step], ...], ...],
    output: Path,
    stride: Pair,
    padding: Pair | str,
    dilation: Pair,
    pad_mode: str,
    flip: bool,
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

    from convcli.core.params import ConvParams
    from convcli.pipeline.sheet import make_sheet

    if as_json and str(output) == "-":
        raise click.UsageError("--json prints on stdout, so -o cannot be '-' with it")
    params = ConvParams.from_args(
        stride=stride, padding=padding, dilation=dilation, pad_mode=pad_mode, flip=flip
    )
    given = [spec for group in specs for spec in group]  # (-k text, kernel), presets expanded
    source: Path | IO[bytes] = image_path
    if str(image_path) == "-":
        source = _standard_stream(sys.stdin, "read standard input")
    destination: Path | IO[bytes] = output
    if str(output) == "-":
        destination = _standard_stream(sys.stdout, "write standard output")
    report = make_sheet(
        source,
        destination,
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


def _standard_stream(stream: Any, doing: str) -> IO[bytes]:
    """The binary side of sys.stdin or sys.stdout, or a clear error if it is closed."""
    binary: IO[bytes] | None = getattr(stream, "buffer", None)
    if binary is None:
        raise click.ClickException(f"cannot {doing}: it is closed")
    if stream is sys.stdout:
        stream.flush()  # text written before, if any, goes first
    return binary


def main() -> None:
    """The ``convcli`` entry point."""
    # SIGTERM unwinds like Ctrl-C, so that no temporary file outlives a killed run.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    cli.main(prog_name="convcli")


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> NoReturn:
    raise SystemExit(EXIT_TERMINATED)
