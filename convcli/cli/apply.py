"""``convcli apply``: filter one image, or a batch of them, and write the results."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING

import click

from convcli.cli.exits import EXIT_DATA_ERROR, SomeFilesFailedError, exit_code_for
from convcli.cli.options import (
    KERNEL_HELP,
    conv_params,
    geometry_options,
    image_options,
    kernel_steps_option,
    pad_options,
    prepared_chain,
    step_options,
)
from convcli.cli.streams import input_source, output_destination
from convcli.cli.types import PositionType
from convcli.errors import ConvcliError
from convcli.terminal.console import echo_product, report_warning

if TYPE_CHECKING:
    from convcli.core.params import ConvParams
    from convcli.kernels.kernel import Step
    from convcli.pipeline.apply import ImageOptions
    from convcli.pipeline.job import FileResult, Recipe

# What apply runs is imported when it runs, down to json: `convcli --help` needs none of it.


@click.command()
@kernel_steps_option(KERNEL_HELP)
@geometry_options
@pad_options
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
@click.option(
    "--dask",
    metavar="ADDRESS",
    help="Batch: run the files on the Dask cluster whose scheduler is at ADDRESS"
    " (tcp://host:8786); the workers must see the same files. Needs convcli[dask].",
)
@click.option(
    "--dask-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="Batch: how long the Dask scheduler has to answer, and its cluster to show a worker.",
)
@click.option(
    "-q",
    "--quiet",
    is_flag=True,
    help="No progress bar (a batch's, or a large image's) and no batch summary.",
)
@click.option(
    "--dry-run", is_flag=True, help="Batch: print each output and its shape; write nothing."
)
@click.argument(
    "paths", metavar="INPUT... [OUTPUT]", nargs=-1, type=click.Path(path_type=Path, allow_dash=True)
)
@conv_params
@prepared_chain
def apply(
    chain: tuple[Step, ...],
    params: ConvParams,
    image: ImageOptions,
    explain: bool,
    at: tuple[int, int] | None,
    preview: bool,
    as_json: bool,
    out_dir: str | None,
    suffix: str,
    inputs_from: IO[str] | None,
    jobs: int | None,
    dask: str | None,
    dask_timeout: float,
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
    from convcli.pipeline.job import Recipe

    recipe = Recipe(chain, params, image)
    if out_dir is not None or inputs_from is not None:
        from convcli.pipeline.batch import BatchRequest
        from convcli.terminal.batch_report import BatchReporting, apply_batch

        for_one_file = {"--explain": explain, "--at": at is not None, "--preview": preview}
        directory = _batch_directory(out_dir, for_one_file)
        if dask is not None and jobs is not None:
            raise click.UsageError(
                "--jobs is for a batch on this machine: on a cluster, the workers' threads say"
                " how many files run at once"
            )
        request = BatchRequest(directory, suffix, inputs_from, jobs, dry_run, dask, dask_timeout)
        if apply_batch(paths, request, recipe, BatchReporting(as_json=as_json, quiet=quiet)):
            raise SomeFilesFailedError()
        return
    for_batches = {"--suffix": suffix, "--jobs": jobs, "--dry-run": dry_run, "--dask": dask}
    input_path, output_path = _one_file(paths, for_batches, as_json=as_json, preview=preview)
    _apply_one(
        input_path,
        output_path,
        recipe,
        explain=explain,
        at=at,
        preview=preview,
        as_json=as_json,
        quiet=quiet,
    )


def _batch_directory(out_dir: str | None, for_one_file: dict[str, bool]) -> Path:
    """The batch's ``--out-dir``, refused when missing or empty, or with an option for one
    file."""
    if out_dir == "":  # an unset shell variable, most likely: not "here"
        raise click.UsageError("--out-dir is empty: name a directory ('.' for this one)")
    if out_dir is None:
        raise click.UsageError("--inputs-from needs --out-dir DIR, where the outputs go")
    for option, given in for_one_file.items():
        if given:
            raise click.UsageError(f"{option} is for one file: give INPUT and OUTPUT")
    return Path(out_dir)


def _one_file(
    paths: tuple[Path, ...], for_batches: Mapping[str, object], *, as_json: bool, preview: bool
) -> tuple[Path, Path]:
    """INPUT and OUTPUT, refused with an option for batches or what cannot share stdout."""
    for option, value in for_batches.items():
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
    return input_path, output_path


def _apply_one(
    input_path: Path,
    output_path: Path,
    recipe: Recipe,
    *,
    explain: bool,
    at: tuple[int, int] | None,
    preview: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Filter one file as one job of a batch is filtered, then say what it did."""
    from convcli.imageio.files import Job
    from convcli.pipeline.job import run_job
    from convcli.terminal.progress import rows_progress

    job = Job(input_source(input_path), output_destination(output_path))
    previewer = None
    if preview:
        from convcli.terminal.show import ApplyPreview

        previewer = ApplyPreview(job, recipe.options)  # keeps what apply reads only once
        job = previewer.job
    with rows_progress(job.names()[0], quiet=quiet) as progress:
        result = run_job(job, recipe, at=at, progress=progress)
    _report(result, recipe, explain=explain, as_json=as_json)
    if previewer is not None:
        previewer.draw()


def _report(result: FileResult, recipe: Recipe, *, explain: bool, as_json: bool) -> None:
    """Say what one file's run did: its warnings, its JSON record, the explanations asked
    for, and on a terminal what was written. A failure is raised, to end the command."""
    import json

    from convcli.core.params import format_size
    from convcli.terminal.console import print_explanation, stderr_console, stderr_is_terminal

    for warning in result.warnings:
        report_warning(warning)
    report, worked = result.outcome, result.worked
    if isinstance(report, ConvcliError):  # in one line, with its exit code; with its record
        if as_json and exit_code_for(report) == EXIT_DATA_ERROR:  # when the data is to blame
            echo_product(json.dumps(result.record.to_json()))
        raise report
    if as_json:
        echo_product(json.dumps(result.record.to_json()))
    on_terminal = stderr_is_terminal()
    if not (explain or worked is not None or (on_terminal and not as_json)):
        return  # nothing more to say: Rich is not even imported
    from convcli.terminal.render import chain_report, explain_values

    console = stderr_console()
    if explain and worked is None:
        console.print(chain_report(report.kernels, report.steps))
        for step in recipe.steps:
            if step.scale != 1 or step.bias != 0:
                console.print(
                    f"{step.name}: result x {step.scale:g} + {step.bias:g}",
                    soft_wrap=True,
                    markup=False,
                )
        console.print(explain_values(report), soft_wrap=True, markup=False)
    if on_terminal and not as_json:
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
