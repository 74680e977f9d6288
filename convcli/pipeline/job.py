"""One file through the pipeline, as the command line runs it: the run, its record, its warnings.

A file's own failure (it cannot be read, its kernel does not fit, there is not enough memory
for it) becomes its record and its error, never an exception: a batch goes on with the next
file, and the single file of ``apply`` is reported the same way.
"""

from __future__ import annotations

import io
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from convcli.core.params import ConvParams
from convcli.errors import ConvcliError, ImageWarning, NotEnoughMemoryError, ParameterError
from convcli.imageio.files import STDOUT_NAME, Job, with_input_kept
from convcli.kernels.kernel import Step
from convcli.pipeline.apply import (
    ApplyReport,
    ImageOptions,
    PlannedImage,
    apply_to_image,
    plan_image,
)
from convcli.pipeline.parts import Progress

if TYPE_CHECKING:
    from convcli.pipeline.explain import WorkedPixel


@dataclass(frozen=True)
class Recipe:
    """What a run does to every file: the chain, its geometry, and how images are read,
    computed and written."""

    steps: tuple[Step, ...]
    params: ConvParams
    options: ImageOptions = ImageOptions()


_FACTS = (
    "input_shape", "output_shape", "kernels", "gray", "format", "depth", "range", "alpha",
    "value_range", "clipped",
)  # fmt: skip
"""The keys of a record that describe the file written, between its error and its time."""


@dataclass(frozen=True)
class FileRecord:
    """What ``--json`` prints for one file: the same keys whether it was written, planned or
    failed, those that do not apply null."""

    input: str
    output: str
    status: Literal["ok", "planned", "error"]
    ms: float
    """How long the run (or the plan) took, in milliseconds."""
    error: str | None = None
    """The message of a failure; None otherwise."""
    report: ApplyReport | None = None
    """What a written file holds (status ``ok``)."""
    planned: PlannedImage | None = None
    """What a file would hold (status ``planned``)."""
    worker: str | None = None
    """The Dask worker that ran it (a batch on a cluster), or None: this machine."""

    def to_json(self) -> dict[str, Any]:
        """The record as JSON values, in the order the README lists its keys."""
        facts: dict[str, Any] = dict.fromkeys(_FACTS)
        if self.report is not None:
            report = self.report
            facts.update(
                input_shape=list(report.input_shape),
                output_shape=list(report.output_shape),
                kernels=list(report.kernels),
                gray=report.gray,
                format=report.format,
                depth=report.depth,
                range=report.range_mode,
                alpha=report.alpha,
                value_range=list(report.value_range),
                clipped=report.clipped,
            )
        elif self.planned is not None:
            planned = self.planned
            rows, cols = planned.steps[-1]
            facts.update(
                input_shape=list(planned.info.size),
                output_shape=[rows.output, cols.output],
                kernels=list(planned.kernels),
                format=planned.format,
                depth=planned.depth,
                alpha=planned.alpha,
            )
        record = {
            "input": self.input,
            "output": self.output,
            "status": self.status,
            "error": self.error,
            **facts,
            "ms": round(self.ms, 3),
        }
        if self.worker is not None:  # a batch on a cluster: which worker ran the file
            record["worker"] = self.worker
        return record


@dataclass(frozen=True)
class FileResult:
    """What became of one job: the file written or the error met, the warnings on the way."""

    job: Job
    outcome: ApplyReport | ConvcliError
    """What the written file holds, or why there is none."""
    ms: float
    """How long the run took, in milliseconds."""
    warnings: tuple[str, ...] = ()
    worked: WorkedPixel | None = None
    """The output pixel ``apply --at`` asked for, worked by hand; None without it."""
    worker: str | None = None
    """The address of the Dask worker that ran the job, or None: this machine."""

    @property
    def error(self) -> ConvcliError | None:
        """The file's error; None when it was written."""
        return self.outcome if isinstance(self.outcome, ConvcliError) else None

    @property
    def ok(self) -> bool:
        """Whether the file was written."""
        return self.error is None

    @property
    def record(self) -> FileRecord:
        """What ``--json`` prints for the file."""
        source, destination = self.job.names()
        if isinstance(self.outcome, ConvcliError):
            error = str(self.outcome)
            return FileRecord(source, destination, "error", self.ms, error, worker=self.worker)
        return FileRecord(
            source, destination, "ok", self.ms, report=self.outcome, worker=self.worker
        )


def run_job(
    job: Job,
    recipe: Recipe,
    *,
    at: tuple[int, int] | None = None,
    progress: Progress | None = None,
) -> FileResult:
    """Run one job, a single file's or a batch's: an error of the file's own becomes its
    outcome, never an exception.

    With `at` (``apply --at``), that output pixel is worked by hand first (see
    :mod:`convcli.pipeline.explain`), so that a pixel outside the output fails the job before
    anything is written; an input that one reading would use up (standard input, a named
    pipe) is kept in memory for both readings. `progress` is told the rows written of an
    image read in parts (see :func:`~convcli.pipeline.apply.apply_to_image`).
    """
    started = time.perf_counter()
    outcome: ApplyReport | ConvcliError
    worked = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if at is not None:
                job, worked = _work_pixel(job, recipe, at)
            outcome = apply_to_image(
                job.source,
                job.destination,
                recipe.steps,
                recipe.params,
                recipe.options,
                source_name=job.names()[0],
                progress=progress,
            )
        except ConvcliError as error:
            outcome = error
        except MemoryError:
            outcome = NotEnoughMemoryError(
                f"not enough memory for {job.names()[0]!r} and this chain"
            )
    messages = tuple(str(warning.message) for warning in caught)
    return FileResult(job, outcome, _ms_since(started), messages, worked)


def _work_pixel(job: Job, recipe: Recipe, at: tuple[int, int]) -> tuple[Job, WorkedPixel]:
    """Output pixel `at` of `job` worked by hand, and the job to run, which reads its input
    from memory where reading it would use it up."""
    job, kept = with_input_kept(job)
    source = io.BytesIO(kept) if isinstance(kept, bytes) else kept
    destination = job.names()[1] if isinstance(job.destination, Path) else STDOUT_NAME
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ImageWarning)  # the run itself says them, once
        from convcli.pipeline.explain import explain_image  # for --at only

        worked = explain_image(
            source,
            recipe.steps,
            recipe.params,
            at,
            recipe.options,
            destination=destination,
            name=job.names()[0],
        )
    return job, worked


def plan_job(job: Job, recipe: Recipe) -> FileRecord:
    """What running `job` would write, from the input's header and every check the run
    makes before decoding: a record with status ``planned`` (or ``error``) and no values.

    Raises
    ------
    ParameterError
        If the job reads or writes a stream rather than a file: only files can be planned.
    """
    source, destination = job.names()
    if not (isinstance(job.source, Path) and isinstance(job.destination, Path)):
        raise ParameterError("a dry run plans files: standard input and output are not")
    started = time.perf_counter()
    try:
        made = not job.destination.parent.exists()  # the run makes --out-dir first
        planned = plan_image(
            job.source,
            job.destination,
            recipe.steps,
            recipe.params,
            recipe.options,
            directory_made=made,
        )
    except ConvcliError as error:
        return FileRecord(source, destination, "error", _ms_since(started), str(error))
    return FileRecord(source, destination, "planned", _ms_since(started), planned=planned)


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000
