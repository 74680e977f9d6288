"""Benchmark convcli against its peers and print the results as Markdown tables.

Three sections, measured in one process and printed to stdout:

- core: one ``convolve2d`` call on a random float32 image against OpenCV's ``filter2D``,
  ``scipy.ndimage.correlate`` and, on 512x512 only, the classic per-pixel double loop. Every
  peer's result is checked against OpenCV's first: a benchmark of wrong results is worthless.
- whole process: ``convcli apply -k vertical`` on a 4096x4096 RGB PNG against ImageMagick's
  ``convert`` (when a real ImageMagick is installed) and a straightforward NumPy script: wall
  time and peak memory (maximum resident set size) of each process.
- images larger than memory: ``convcli apply -k vertical`` on 8-bit tiled TIFFs of 8192x8192
  and 32768x32768 (one gigapixel), read and written a band of rows at a time, against the
  same run holding the image whole (8192x8192 only) and libvips' ``vips conv`` (when
  installed): wall time, throughput and peak memory.
- batches on a Dask cluster: files per second of ``convcli apply --out-dir`` over 500 small
  photographs on a 2-worker cluster against a local ``-j 2`` batch and a 1-worker cluster, and
  the client's peak memory for a batch of 100,000 file names.
- a convolution layer: ``conv2d`` against PyTorch's CPU ``conv2d`` on ResNet's first layer, a
  3-to-16 3x3 layer and a depthwise one, with the memory a call holds.
- start-up: ``convcli --help`` against a bare ``python -c pass``.

Times are medians of repeated runs after a warm-up run; a peer slow enough to use up the time
budget of a case is run fewer times. Progress goes to stderr. OpenCV and SciPy come with the
optional ``bench`` extra (with PyTorch): ``pip install -e '.[bench]'``.

Run ``python scripts/bench.py`` (a few minutes) or ``python scripts/bench.py --quick``.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import datetime
import importlib
import json
import math
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
import numpy.typing as npt
import PIL
from PIL import Image

import convcli
from convcli import ConvParams, convolve2d
from convcli.core.methods import choose_method
from convcli.core.params import PaddingArg

Array = npt.NDArray[np.float32]
T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "build" / "bench"  # generated inputs, kept between runs, never committed
SOURCE_PHOTO = ROOT / "sample_images" / "astronaut.png"  # 512x512 RGB: square, so no distortion
PROCESS_SIZE = 4096
SEED = 5
RELATIVE_TOLERANCE = 1e-4  # of the kernel's absolute sum times the image's range
DASH = "-"
TURN_PAUSE = 0.5  # seconds before a peer's turn: thread pools spinning after the other stop

# Keywords passed to every convolve2d call. When the core gains a thread-count parameter, pin it
# here (and print it in the header) so that the figures say what they were measured with.
CORE_OPTIONS: dict[str, Any] = {}

VERTICAL = np.array([[1, 0, -1]] * 3, dtype=np.float32)  # convcli's built-in `vertical`
IMAGEMAGICK_VERTICAL = "3x3: 1,0,-1 1,0,-1 1,0,-1"  # the same weights, as ImageMagick writes them

# A plain NumPy program doing what `convcli apply -k vertical` does (gray, filter with no
# padding, absolute value, 8 bits): the memory a straightforward script needs.
NUMPY_SCRIPT = """
import sys
import numpy as np
from PIL import Image
gray = np.asarray(Image.open(sys.argv[1]).convert("L"), dtype=np.float32)
kernel = np.array([[1, 0, -1]] * 3, dtype=np.float32)
h, w = gray.shape[0] - 2, gray.shape[1] - 2
out = sum(kernel[a, b] * gray[a : a + h, b : b + w] for a in range(3) for b in range(3))
Image.fromarray(np.clip(np.abs(out), 0, 255).astype(np.uint8)).save(sys.argv[2])
"""


# What `convcli apply -k vertical IN OUT` runs on the input decoded whole, by Pillow, as every
# format is that cannot be read in parts (and as a TIFF was before it could): the in-memory
# path the parts are measured against. Given as an open stream, the TIFF is not read in parts.
WHOLE_SCRIPT = """
import sys
from pathlib import Path
from convcli.core.params import ConvParams
from convcli.kernels.spec import resolve_kernel
from convcli.pipeline.apply import ImageOptions, apply_to_image
with open(sys.argv[1], "rb") as source:
    apply_to_image(source, Path(sys.argv[2]), [resolve_kernel("vertical")], ConvParams(),
                   ImageOptions(max_pixels=2**40), source_name=sys.argv[1])
"""
BLAS_OVERRIDES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
"""Variables that pin OpenBLAS to another processor's kernel: `make bench` unsets them, as a
user's machine does not set them."""
VIPS_VERTICAL = "3 3 1 0\n1 0 -1\n1 0 -1\n1 0 -1\n"  # libvips' matrix file: w h scale offset
TILE = 256


# Starts a command, waits for it and prints its wall time, exit code and peak RSS (KiB). It runs
# in a small interpreter of its own because Linux counts a child's memory from the fork: a child
# of this benchmark, holding large images and two libraries, would inherit its peak as a floor.
# Children of the launcher inherit only the launcher's size (about 8 MiB).
LAUNCHER = """
import os, sys, time
start = time.perf_counter()
quiet = [(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)]
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ, file_actions=quiet)
_, status, usage = os.wait4(pid, 0)
print(time.perf_counter() - start, os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


class BenchmarkError(Exception):
    """A peer failed or disagreed with another: the figures would mean nothing."""


@dataclass(frozen=True)
class Effort:
    """How hard to try: repeats per measurement and the seconds a peer may spend on one case."""

    sizes: tuple[int, ...]
    repeats: int
    budget: float
    loop_budget: float
    process_runs: int
    startup_runs: int
    large_sizes: tuple[int, ...]
    names: tuple[int, ...]
    """Batch sizes whose client memory is measured on a cluster."""


FULL = Effort(
    (512, 2048, 4096),
    repeats=7,
    budget=5.0,
    loop_budget=1.0,
    process_runs=5,
    startup_runs=10,
    large_sizes=(8192, 32768),
    names=(10_000, 100_000),
)
QUICK = Effort(
    (512, 2048),
    repeats=3,
    budget=1.0,
    loop_budget=0.5,
    process_runs=2,
    startup_runs=5,
    large_sizes=(8192,),
    names=(10_000,),
)
WHOLE_LARGEST = 8192  # the in-memory run is measured up to this size: past it, gigabytes
LOOP_SIZE = 512  # the per-pixel loop takes seconds even here


@dataclass(frozen=True)
class Case:
    """One core measurement: a kernel applied with a stride and a dilation, zero padding."""

    name: str
    kernel: Array
    stride: int = 1
    dilation: int = 1

    @property
    def padding(self) -> PaddingArg:
        """convcli's padding that centres each window on its pixel, as OpenCV does (odd kernels)."""
        if self.stride == 1:
            return "same"
        return self.dilation * (int(self.kernel.shape[0]) - 1) // 2

    def params(self) -> ConvParams:
        """The options as convcli's core receives them."""
        return ConvParams.from_args(
            stride=self.stride, padding=self.padding, dilation=self.dilation
        )

    def dilated_kernel(self) -> Array:
        """The kernel spread out with zeros between its taps, for peers without dilation."""
        kh, kw = self.kernel.shape
        d = self.dilation
        spread = np.zeros((d * (kh - 1) + 1, d * (kw - 1) + 1), dtype=np.float32)
        spread[::d, ::d] = self.kernel
        return spread

    def tolerance(self, image: Array) -> float:
        """The largest difference float32 rounding explains, for this kernel on `image`."""
        image_range = float(image.max() - image.min())
        return RELATIVE_TOLERANCE * float(np.abs(self.kernel).sum()) * image_range


@dataclass(frozen=True)
class Timing:
    """The median of `runs` timed calls, in seconds."""

    seconds: float
    runs: int


@dataclass(frozen=True)
class ProcessRun:
    """One finished process: wall time in seconds and peak resident memory in MiB."""

    seconds: float
    peak_mib: float


def gaussian_kernel(size: int, sigma: float) -> Array:
    """A normalised size x size Gaussian, built from its 1-D factor."""
    offsets = np.arange(size) - (size - 1) / 2
    factor = np.exp(-(offsets**2) / (2 * sigma**2))
    kernel = np.outer(factor, factor)
    return np.asarray(kernel / kernel.sum(), dtype=np.float32)


def core_cases(rng: np.random.Generator) -> list[Case]:
    """Edge, dense random and Gaussian kernels; stride and dilation on the 3x3 edge."""
    from convcli.kernels.parametric import laplacian_of_gaussian

    return [
        Case("3x3 edge", VERTICAL),
        Case("5x5 dense", rng.uniform(-1, 1, (5, 5)).astype(np.float32)),
        Case("7x7 dense", rng.uniform(-1, 1, (7, 7)).astype(np.float32)),
        Case("15x15 gaussian", gaussian_kernel(15, sigma=2.5)),
        Case("31x31 dense", rng.uniform(-1, 1, (31, 31)).astype(np.float32)),
        Case("log:2 (13x13, rank 3)", laplacian_of_gaussian(2.0).weights.astype(np.float32)),
        Case("3x3 edge, stride 2", VERTICAL, stride=2),
        Case("3x3 edge, dilation 2", VERTICAL, dilation=2),
    ]


def per_pixel_loop(image: Array, case: Case) -> Array:
    """The classic teaching loop: one output pixel at a time, each a window times the kernel.

    Zero padding centres the window on every `stride`-th pixel, as OpenCV's placement does.
    """
    kernel, stride, dilation = case.kernel, case.stride, case.dilation
    reach_h, reach_w = (dilation * (n - 1) for n in kernel.shape)
    padded = np.pad(
        image, ((reach_h // 2, reach_h - reach_h // 2), (reach_w // 2, reach_w - reach_w // 2))
    )
    out_h, out_w = ((n - 1) // stride + 1 for n in image.shape)
    out = np.empty((out_h, out_w), dtype=np.float32)
    for r in range(out_h):
        for c in range(out_w):
            top, left = r * stride, c * stride
            window = padded[
                top : top + reach_h + 1 : dilation, left : left + reach_w + 1 : dilation
            ]
            out[r, c] = (window * kernel).sum()
    return out


def import_peer(name: str) -> Any:
    """Import an optional peer library, or say how to install it."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        raise BenchmarkError(
            f"{name} is missing: install the bench extra (pip install -e '.[bench]')"
        ) from error


def timed(call: Callable[[], T]) -> tuple[float, T]:
    """Seconds one call took, and what it returned."""
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def measure(
    call: Callable[[], T], *, repeats: int, budget: float, warm_up: bool = True
) -> tuple[Timing, T]:
    """Median time of up to `repeats` calls, stopping early once the calls have used `budget` s.

    The warm-up call (caches, page faults, lazy set-up) is not counted, unless it alone used up
    the budget: one-off costs are small beside a call that slow, so it is measured just once.
    """
    seconds, result = timed(call)
    spent = seconds
    samples = [seconds] if not warm_up or seconds >= budget else []
    while len(samples) < repeats and (not samples or spent < budget):
        seconds, result = timed(call)
        samples.append(seconds)
        spent += seconds
    return Timing(statistics.median(samples), len(samples)), result


def measure_in_turns(
    calls: dict[str, Callable[[], T]], *, rounds: int = 3, per_round: int = 3
) -> tuple[dict[str, Timing], dict[str, T]]:
    """Median time of each call over `rounds` rounds, in which each call in turn is timed
    `per_round` times after an untimed one; and what each returned.

    Taking turns by rounds lets a machine slow for a while slow both peers alike, and a pause
    before each peer's turn lets the other's thread pool (OpenMP's, OpenBLAS's) stop spinning:
    calls taking turns one by one slowed PyTorch 2-3x.
    """
    results: dict[str, T] = {}
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            time.sleep(TURN_PAUSE)
            results[name] = call()
            for _ in range(per_round):
                seconds, results[name] = timed(call)
                samples[name].append(seconds)
    timings = {
        name: Timing(statistics.median(times), len(times)) for name, times in samples.items()
    }
    return timings, results


def check_agreement(label: str, reference: Array, result: Array, tolerance: float) -> None:
    """Raise :class:`BenchmarkError` unless `result` equals `reference` within `tolerance`."""
    if result.shape != reference.shape:
        raise BenchmarkError(f"{label}: shape {result.shape}, expected {reference.shape}")
    difference = np.abs(result - reference)
    worst = np.unravel_index(int(np.argmax(difference)), difference.shape)
    if not difference[worst] <= tolerance:  # also catches NaN
        raise BenchmarkError(
            f"{label}: differs by {difference[worst]:.3g} at {tuple(map(int, worst))}"
            f" ({result[worst]:.6g} against {reference[worst]:.6g}), tolerance {tolerance:.3g}"
        )


def format_ms(timing: Timing | None) -> str:
    """Milliseconds, a dagger marking a single run; a dash for a peer that did not run."""
    if timing is None:
        return DASH
    return three_figures(timing.seconds * 1000) + ("†" if timing.runs == 1 else "")


def format_ratio(numerator: float | None, denominator: float | None) -> str:
    """A ratio such as ``1.23x``, or a dash when either side is missing."""
    if numerator is None or denominator is None or denominator == 0:
        return DASH
    return three_figures(numerator / denominator) + "x"


def three_figures(value: float) -> str:
    """`value` to three significant figures, without an exponent: 0.126, 4.15, 23503."""
    decimals = max(0, 2 - math.floor(math.log10(value))) if value > 0 else 0
    return f"{value:.{decimals}f}"


def seconds_of(timing: Timing | None) -> float | None:
    """The median seconds of a timing that may be missing."""
    return None if timing is None else timing.seconds


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table, one row per line."""
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def progress(message: str) -> None:
    """Say what is being measured, on stderr."""
    print(message, file=sys.stderr, flush=True)


def core_calls(case: Case, image: Array, cv2: Any, ndimage: Any) -> dict[str, Callable[[], Array]]:
    """A call per peer computing `case` on `image`, OpenCV's first: the reference for the rest."""
    peer_kernel = case.dilated_kernel()
    keep = slice(None, None, case.stride)

    def opencv() -> Array:
        filtered = cv2.filter2D(image, -1, peer_kernel, borderType=cv2.BORDER_CONSTANT)
        return cast("Array", filtered[keep, keep])

    def convcli_core() -> Array:
        return convolve2d(
            image,
            case.kernel,
            stride=case.stride,
            padding=case.padding,
            dilation=case.dilation,
            **CORE_OPTIONS,
        )

    def scipy() -> Array:
        filtered = ndimage.correlate(image, peer_kernel, mode="constant", cval=0.0)
        return cast("Array", filtered[keep, keep])

    def loop() -> Array:
        return per_pixel_loop(image, case)

    return {"OpenCV": opencv, "convcli": convcli_core, "scipy": scipy, "loop": loop}


def measure_case(
    case: Case, image: Array, calls: dict[str, Callable[[], Array]], effort: Effort
) -> dict[str, Timing | None]:
    """Time each peer on one case and check that all agree with OpenCV; None for peers skipped."""
    label = f"{case.name}, {image.shape[0]}x{image.shape[1]}"
    timings: dict[str, Timing | None] = {}
    results: dict[str, Array] = {}
    for peer, call in calls.items():
        if peer == "loop":
            if image.shape[0] != LOOP_SIZE:
                timings[peer] = None
                continue
            timing, results[peer] = measure(
                call, repeats=2, budget=effort.loop_budget, warm_up=False
            )
        else:
            timing, results[peer] = measure(call, repeats=effort.repeats, budget=effort.budget)
        timings[peer] = timing
        progress(f"core {label}: {peer} {format_ms(timing)} ms, {timing.runs} timed")
    for peer, result in results.items():
        if peer != "OpenCV":
            tolerance = case.tolerance(image)
            check_agreement(f"{peer} against OpenCV, {label}", results["OpenCV"], result, tolerance)
    return timings


def benchmark_core(effort: Effort) -> str:
    """Time every case at every size against OpenCV, SciPy and the loop; the core table."""
    cv2 = import_peer("cv2")
    ndimage = import_peer("scipy.ndimage")
    rng = np.random.default_rng(SEED)
    cases = core_cases(rng)
    rows = []
    for size in effort.sizes:
        image = rng.random((size, size), dtype=np.float32)
        for case in cases:
            timings = measure_case(case, image, core_calls(case, image, cv2, ndimage), effort)
            convcli_s, opencv_s = seconds_of(timings["convcli"]), seconds_of(timings["OpenCV"])
            row = [
                case.name,
                f"{size}x{size}",
                *(format_ms(timings[peer]) for peer in ("convcli", "OpenCV", "scipy", "loop")),
                format_ratio(convcli_s, opencv_s),
                format_ratio(seconds_of(timings["scipy"]), convcli_s),
            ]
            row.append(choose_method(image.shape, case.kernel, case.params(), dtype=image.dtype))
            rows.append(row)

    header = ["case", "size", "convcli ms", "OpenCV ms", "scipy ms", "loop ms"]
    header += ["convcli ÷ OpenCV", "scipy ÷ convcli", "convcli method"]
    notes = [
        "Float32, zero padding, same-size output (stride 2: OpenCV and scipy filter, then keep"
        " every other row and column; dilation 2: they get the 3x3 kernel spread over 5x5 with"
        " zeros). OpenCV is `cv2.filter2D`, scipy is `scipy.ndimage.correlate`, loop is the"
        f" per-pixel double loop ({LOOP_SIZE}x{LOOP_SIZE} only). Every result was checked"
        " against OpenCV's.",
        f"Medians of up to {effort.repeats} runs after a warm-up; † a single run, the call"
        f" having used up the {effort.budget:g} s a peer may spend on a case (the loop, not"
        f" warmed up: {effort.loop_budget:g} s).",
    ]
    return section("Core: one filter call", markdown_table(header, rows), notes)


def section(title: str, table: str, notes: Sequence[str]) -> str:
    """A Markdown section: a heading, the table, then its notes as paragraphs."""
    return "\n\n".join([f"## {title}", table, *notes])


def run_process(command: Sequence[str]) -> ProcessRun:
    """Run `command` to completion: its wall time and its peak resident memory.

    Raise :class:`BenchmarkError`, with what it printed on stderr, if it fails.
    """
    launcher = [sys.executable, "-I", "-S", "-c", LAUNCHER, *command]
    answer = subprocess.run(launcher, capture_output=True, text=True, check=False)
    if answer.returncode != 0:
        raise BenchmarkError(f"the launcher failed on {shlex.join(command)}: {answer.stderr}")
    seconds, exit_code, peak_kib = answer.stdout.split()
    if int(exit_code) != 0:
        message = answer.stderr.strip()
        raise BenchmarkError(f"{shlex.join(command)} exited with {exit_code}: {message}")
    return ProcessRun(float(seconds), int(peak_kib) / 1024)  # ru_maxrss is in KiB on Linux


def compare_processes(commands: dict[str, list[str]], runs: int) -> dict[str, ProcessRun]:
    """Each command's median wall time and highest peak memory over `runs` runs.

    One untimed run each first; then the commands take turns, so that a machine getting busier
    or quieter affects them alike.
    """
    for command in commands.values():
        run_process(command)
    measured: dict[str, list[ProcessRun]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            measured[name].append(run_process(command))
    for name, samples in measured.items():
        progress(f"{name}: {[round(sample.seconds, 3) for sample in samples]} s")
    return {
        name: ProcessRun(
            statistics.median(sample.seconds for sample in samples),
            max(sample.peak_mib for sample in samples),
        )
        for name, samples in measured.items()
    }


def convcli_command() -> Path:
    """The installed ``convcli`` entry point of the Python running this script."""
    command = Path(sys.executable).parent / "convcli"
    if not command.exists():
        raise BenchmarkError(f"no convcli next to {sys.executable}: install convcli first")
    return command


def find_imagemagick() -> tuple[str | None, str]:
    """The path of a real ImageMagick ``convert`` and its version, or None and why not."""
    path = shutil.which("convert")
    if path is None:
        return None, "no `convert` on PATH"
    try:
        answer = subprocess.run(
            [path, "-version"], capture_output=True, text=True, check=False, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return None, f"`{path} -version` failed: {error}"
    first_line = answer.stdout.partition("\n")[0].strip()
    # Something else may be called convert (GraphicsMagick, a stand-in script): trust only the
    # version banner of ImageMagick itself.
    if answer.returncode != 0 or not first_line.startswith("Version: ImageMagick"):
        said = first_line or answer.stderr.strip().partition("\n")[0] or "nothing"
        return None, f"`{path} -version` does not say it is ImageMagick (it says: {said})"
    return path, first_line.removeprefix("Version: ")


def process_input() -> Path:
    """A 4096x4096 RGB PNG enlarged from a sample photo; made once, then kept in the cache."""
    target = CACHE / f"{SOURCE_PHOTO.stem}-{PROCESS_SIZE}.png"
    if not target.exists():
        progress(f"making {target.name} from {SOURCE_PHOTO.name}")
        CACHE.mkdir(parents=True, exist_ok=True)
        with Image.open(SOURCE_PHOTO) as photo:
            large = photo.convert("RGB").resize(
                (PROCESS_SIZE, PROCESS_SIZE), Image.Resampling.LANCZOS
            )
        partial = target.with_suffix(".partial.png")
        large.save(partial)
        partial.replace(target)  # never leave a half-written input for the next run
    return target


def benchmark_process(effort: Effort, imagemagick: str | None, why_not: str) -> str:
    """Time whole processes filtering the large PNG; the whole-process table."""
    source = process_input()
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch)
        commands = {
            "convcli": [str(convcli_command()), "apply", "-k", "vertical", str(source)],
            "NumPy script": [sys.executable, "-c", NUMPY_SCRIPT, str(source)],
        }
        commands["convcli"].append(str(out / "convcli.imageio.png"))
        commands["NumPy script"].append(str(out / "numpy.png"))
        if imagemagick is not None:
            commands["ImageMagick"] = [imagemagick, str(source), "-colorspace", "Gray"]
            commands["ImageMagick"] += ["-morphology", "Correlate", IMAGEMAGICK_VERTICAL]
            commands["ImageMagick"].append(str(out / "imagemagick.png"))
        progress(f"whole process on {source.name}, {effort.process_runs} runs each")
        measured = compare_processes(commands, effort.process_runs)

    shown = {
        "convcli": "`convcli apply -k vertical IN OUT.png`",
        "NumPy script": "`python -c SCRIPT IN OUT.png` (Pillow gray, NumPy taps, abs, 8 bits)",
        "ImageMagick": "`convert IN -colorspace Gray -morphology Correlate"
        f" '{IMAGEMAGICK_VERTICAL}' OUT.png`",
    }
    baseline = measured.get("ImageMagick")
    rows = [
        [
            name,
            shown[name],
            f"{run.seconds:.2f}",
            f"{run.peak_mib:.0f}",
            format_ratio(run.seconds, None if baseline is None else baseline.seconds),
            format_ratio(run.peak_mib, None if baseline is None else baseline.peak_mib),
        ]
        for name, run in measured.items()
    ]
    header = ["peer", "command", "wall s", "peak MiB", "wall ÷ ImageMagick", "memory ÷ ImageMagick"]
    megabytes = source.stat().st_size / 1e6
    notes = [
        f"Input: a {PROCESS_SIZE}x{PROCESS_SIZE} RGB PNG ({megabytes:.1f} MB), {SOURCE_PHOTO.name}"
        f" enlarged with Lanczos. Wall time: median of {effort.process_runs} runs after a"
        " warm-up, the peers taking turns. Peak memory: the highest maximum resident set size"
        " (`ru_maxrss`), of the process and anything it starts.",
    ]
    if imagemagick is None:
        notes.append(f"ImageMagick row skipped: {why_not}.")
    return section(
        "Whole process: 4096x4096 PNG in, edges out", markdown_table(header, rows), notes
    )


def large_input(side: int) -> Path:
    """An 8-bit gray tiled TIFF of `side` x `side`, tiles of the sample photo; made once, then
    kept in the cache."""
    import tifffile

    target = CACHE / f"{SOURCE_PHOTO.stem}-{side}.tif"
    if not target.exists():
        progress(f"making {target.name} ({side * side / 2**30:.2f} GiB) from {SOURCE_PHOTO.name}")
        CACHE.mkdir(parents=True, exist_ok=True)
        with Image.open(SOURCE_PHOTO) as photo:
            gray = np.asarray(photo.convert("L"))
        rows, cols = np.arange(TILE)[:, None], np.arange(TILE)[None, :]

        def tiles() -> Iterator[npt.NDArray[np.uint8]]:
            for top in range(0, side, TILE):
                for left in range(0, side, TILE):
                    yield gray[(top + rows) % gray.shape[0], (left + cols) % gray.shape[1]]

        partial = target.with_suffix(".partial.tif")
        tifffile.imwrite(
            partial, tiles(), shape=(side, side), dtype=np.uint8, tile=(TILE, TILE),
            bigtiff=side * side > 2**32 - 2**25,
        )  # fmt: skip
        partial.replace(target)
    return target


def benchmark_large(effort: Effort) -> str:
    """Whole processes on tiled TIFFs too large to hold comfortably; the table."""
    vips = shutil.which("vips")
    rows = []
    for side in effort.large_sizes:
        source = large_input(side)
        runs = effort.process_runs if side <= WHOLE_LARGEST else min(3, effort.process_runs)
        with tempfile.TemporaryDirectory(dir=CACHE) as scratch:
            out = Path(scratch)
            commands = {
                "convcli, in parts": [
                    str(convcli_command()), "apply", "-k", "vertical", str(source),
                    str(out / "parts.tif"),
                ],
            }  # fmt: skip
            if side <= WHOLE_LARGEST:
                commands["convcli, whole"] = [
                    sys.executable, "-c", WHOLE_SCRIPT, str(source), str(out / "whole.tif")
                ]  # fmt: skip
            if vips is not None:
                (out / "vertical.mat").write_text(VIPS_VERTICAL)
                commands["libvips"] = [
                    vips, "conv", str(source), f"{out / 'vips.tif'}[tile,bigtiff]",
                    str(out / "vertical.mat"), "--precision", "integer",
                ]  # fmt: skip
            progress(f"{side}x{side} tiled TIFF, {runs} runs each")
            measured = compare_processes(commands, runs)
        whole = measured.get("convcli, whole")
        megapixels = side * side / 1e6
        for name, run in measured.items():
            rate = megapixels / run.seconds
            rows.append(
                [
                    f"{side}x{side}",
                    name,
                    f"{run.seconds:.2f}",
                    f"{rate:.0f}",
                    f"{run.peak_mib:.0f}",
                    format_ratio(rate, None if whole is None else megapixels / whole.seconds),
                ]
            )
    header = ["image", "run", "wall s", "Mpx/s", "peak MiB", "Mpx/s ÷ whole"]
    notes = [
        "Input: an 8-bit gray TIFF of 256x256 tiles (the sample photo repeated), uncompressed;"
        " output: a tiled TIFF. `convcli, in parts` is `convcli apply -k vertical IN OUT.tif`;"
        " `convcli, whole` the same run with the input decoded whole by Pillow (the path every"
        " format that cannot be read in parts takes), measured up to 8192x8192; `libvips` is"
        " `vips conv IN OUT.tif[tile,bigtiff] vertical.mat --precision integer` (libvips keeps"
        " the image's size by"
        " repeating its edges and clips negative values to 0, where convcli takes their"
        " absolute value: the same work, not the same pixels).",
        f"Wall time: median of the runs ({effort.process_runs} at 8192,"
        f" {min(3, effort.process_runs)} past it) after a warm-up, the runs taking turns (the"
        " gigapixel runs move by a third from run to run, with the disk's write-back); peak"
        " memory: the highest maximum resident set size.",
    ]
    if vips is None:
        notes.append("libvips rows skipped: no `vips` on PATH (Debian: libvips-tools).")
    return section("Images larger than memory", markdown_table(header, rows), notes)


BATCH_FILES = 500
BATCH_SIDE = 256  # a small photograph


def batch_inputs(count: int, side: int, name: str) -> Path:
    """A list of `count` photographs of `side` x `side` (hard links to a few sample photos,
    which cost no space), one path a line; made once, then kept in the cache."""
    folder = CACHE / name
    listing = CACHE / f"{name}.txt"
    if not listing.exists():
        progress(f"making {count} inputs in {folder}")
        folder.mkdir(parents=True, exist_ok=True)
        originals = []
        for photo in sorted((ROOT / "sample_images").glob("*.png")):
            small = folder / f"source-{photo.stem}.png"
            with Image.open(photo) as image:
                image.convert("RGB").resize((side, side), Image.Resampling.LANCZOS).save(small)
            originals.append(small)
        paths = []
        for index in range(count):
            path = folder / f"{index:06}.png"
            if not path.exists():
                path.hardlink_to(originals[index % len(originals)])
            paths.append(path)
        partial = listing.with_suffix(".partial")
        partial.write_text("".join(f"{path}\n" for path in paths))
        partial.replace(listing)
    return listing


@contextlib.contextmanager
def dask_cluster(workers: int, scratch: Path) -> Iterator[str]:
    """A Dask scheduler and `workers` worker processes of one thread on 127.0.0.1, started
    by the commands a user types; yields the scheduler's address, then stops them."""
    dask = Path(sys.executable).parent / "dask"
    scheduler_file = scratch / f"scheduler-{workers}.json"
    quiet = subprocess.DEVNULL
    scheduler = subprocess.Popen(
        [str(dask), "scheduler", "--host", "127.0.0.1", "--port", "0", "--dashboard-address",
         "127.0.0.1:0", "--scheduler-file", str(scheduler_file)], stdout=quiet, stderr=quiet,
    )  # fmt: skip
    worker = None
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists():
            if time.monotonic() > deadline:
                raise BenchmarkError("the Dask scheduler did not start within 60 s")
            time.sleep(0.1)
        worker = subprocess.Popen(
            [str(dask), "worker", "--scheduler-file", str(scheduler_file), "--nworkers",
             str(workers), "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard"],
            stdout=quiet, stderr=quiet,
        )  # fmt: skip
        address = json.loads(scheduler_file.read_text())["address"]
        from distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(workers, timeout=60)
        yield str(address)
    finally:
        for process in (worker, scheduler):
            if process is not None:
                process.terminate()
                process.wait()


def benchmark_cluster(effort: Effort) -> str:
    """Batches on local Dask clusters against a local batch; the table."""
    listing = batch_inputs(BATCH_FILES, BATCH_SIDE, f"batch-{BATCH_FILES}")
    runs = min(3, effort.process_runs)
    rows = []
    with (
        tempfile.TemporaryDirectory(dir=CACHE) as scratch,
        dask_cluster(2, Path(scratch)) as two,
        dask_cluster(1, Path(scratch)) as one,
    ):
        out = Path(scratch) / "out"
        batch = [str(convcli_command()), "apply", "-k", "sobel", "--inputs-from", str(listing),
                 "--out-dir", str(out), "-q"]  # fmt: skip
        commands = {
            "local, -j 2": [*batch, "-j", "2"],
            "Dask, 2 workers": [*batch, "--dask", two],
            "Dask, 1 worker": [*batch, "--dask", one],
        }
        progress(f"{BATCH_FILES} files, {runs} runs each")
        measured = compare_processes(commands, runs)
        local = measured["local, -j 2"]
        for name, run in measured.items():
            rate = BATCH_FILES / run.seconds
            rows.append([
                name, f"{BATCH_FILES}", f"{run.seconds:.2f}", f"{rate:.0f}", f"{run.peak_mib:.0f}",
                format_ratio(rate, BATCH_FILES / local.seconds),
            ])  # fmt: skip
        for count in effort.names:
            names = batch_inputs(count, 16, f"names-{count}")
            command = [*batch[:4], "--inputs-from", str(names), "--out-dir", str(out / "names"),
                       "-q", "--dask", two]  # fmt: skip
            progress(f"{count} file names on 2 workers")
            run = run_process(command)
            rows.append([
                "Dask, 2 workers, 16x16 images", f"{count}", f"{run.seconds:.1f}",
                f"{count / run.seconds:.0f}", f"{run.peak_mib:.0f}", "-",
            ])  # fmt: skip
    header = ["run", "files", "wall s", "files/s", "client peak MiB", "files/s ÷ local"]
    notes = [
        f"`convcli apply -k sobel --inputs-from LIST --out-dir OUT -q` over {BATCH_FILES}"
        f" {BATCH_SIDE}x{BATCH_SIDE} PNGs (the sample photos, resized), with `-j 2` or `--dask"
        " ADDRESS`: a scheduler and worker processes of one thread each, on this machine,"
        " started before the runs (`dask scheduler`, `dask worker --nworkers N --nthreads"
        f" 1`). Wall time: median of {runs} runs after a warm-up, the runs taking turns; peak"
        " memory is the client's (the `convcli` process), not the workers'. The last rows time"
        " one run over many tiny images, for the client's memory as the names grow.",
    ]
    return section("Batches on a Dask cluster", markdown_table(header, rows), notes)


@dataclass(frozen=True)
class LayerCase:
    """A convolution layer to time: input (C_in, H, W), weight (C_out, C_in / groups, k, k)."""

    name: str
    input_shape: tuple[int, int, int]
    weight_shape: tuple[int, int, int, int]
    stride: int
    padding: int
    groups: int = 1


LAYER_CASES = (
    LayerCase("ResNet conv1: 3 to 64, 7x7, stride 2", (3, 512, 512), (64, 3, 7, 7), 2, 3),
    LayerCase("ResNet conv1: 3 to 64, 7x7, stride 2", (3, 1024, 1024), (64, 3, 7, 7), 2, 3),
    LayerCase("3 to 16, 3x3", (3, 1024, 1024), (16, 3, 3, 3), 1, 1),
    LayerCase("depthwise 32, 3x3", (32, 512, 512), (32, 1, 3, 3), 1, 1, groups=32),
)


def peak_allocated(call: Callable[[], T]) -> tuple[float, T]:
    """MiB NumPy had allocated at most during `call` (its arrays report to tracemalloc), and
    what it returned: the memory a call holds, whatever the process held before."""
    import tracemalloc

    tracemalloc.start()
    try:
        result = call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20, result


def benchmark_layers(effort: Effort) -> str:
    """Time ``conv2d`` against PyTorch's ``torch.nn.functional.conv2d`` on the CPU; the layer
    table, with the memory each call holds."""
    torch = import_peer("torch")
    functional = import_peer("torch.nn.functional")
    torch.set_num_threads(os.cpu_count() or 1)
    rng = np.random.default_rng(SEED)
    rows = []
    for case in LAYER_CASES:
        image = rng.standard_normal(case.input_shape).astype(np.float32)
        weight = rng.standard_normal(case.weight_shape).astype(np.float32)
        bias = rng.standard_normal(case.weight_shape[0]).astype(np.float32)
        tensors = [torch.from_numpy(array) for array in (image[np.newaxis], weight, bias)]

        def pytorch(tensors: list[Any] = tensors, case: LayerCase = case) -> Array:
            with torch.no_grad():
                maps = functional.conv2d(
                    *tensors, stride=case.stride, padding=case.padding, groups=case.groups
                )
            return cast("Array", maps[0].numpy())

        def convcli_layer(
            image: Array = image, weight: Array = weight, bias: Array = bias, case: LayerCase = case
        ) -> Array:
            return convcli.conv2d(
                image, weight, bias, stride=case.stride, padding=case.padding, groups=case.groups
            )

        label = f"layer {case.name}, {case.input_shape}"
        calls: dict[str, Callable[[], Array]] = {"PyTorch": pytorch, "convcli": convcli_layer}
        timings, results = measure_in_turns(calls)
        torch_time, ours = timings["PyTorch"], timings["convcli"]
        reference, result = results["PyTorch"], results["convcli"]
        progress(f"{label}: PyTorch {format_ms(torch_time)} ms, convcli {format_ms(ours)} ms")
        scale = float(np.abs(reference).max())
        check_agreement(f"conv2d against PyTorch, {label}", reference, result, 1e-5 * scale)
        held, _ = peak_allocated(convcli_layer)
        output_mib = result.nbytes / 2**20
        channels, height, width = case.input_shape
        rows.append(
            [
                case.name,
                f"{channels}x{height}x{width}",
                format_ms(ours),
                format_ms(torch_time),
                format_ratio(ours.seconds, torch_time.seconds),
                f"{output_mib:.0f}",
                f"{held:.0f}",
            ]
        )
    header = ["layer", "input", "convcli ms", "PyTorch ms", "convcli ÷ PyTorch"]
    header += ["output MiB", "convcli peak MiB"]
    notes = [
        f"Float32, one image, bias added; PyTorch {torch.__version__} on the CPU"
        f" ({torch.get_num_threads()} threads), `torch.nn.functional.conv2d`; convcli's"
        " `conv2d`, its result checked against PyTorch's. Medians of 9 runs: 3 rounds in which"
        " each peer in turn runs once untimed and 3 times timed, after a pause of"
        f" {TURN_PAUSE:g} s. Peak is what NumPy had allocated during"
        " one call (traced by tracemalloc): the output and the strips' windows.",
    ]
    return section("A convolution layer", markdown_table(header, rows), notes)


def benchmark_startup(effort: Effort) -> str:
    """Time ``convcli --help`` against a bare interpreter, and ``apply`` on a small PNG
    against the imports it cannot do without; the start-up table."""
    small = ROOT / "sample_images" / "coins.png"  # 303x384
    with tempfile.TemporaryDirectory() as scratch:
        commands = {
            "`convcli --help`": [str(convcli_command()), "--help"],
            "`python -c pass`": [sys.executable, "-c", "pass"],
            "`convcli apply -k vertical coins.png OUT.png`": [
                str(convcli_command()), "apply", "-k", "vertical", str(small),
                str(Path(scratch) / "out.png"),
            ],
            "`python -c 'import numpy, PIL.Image'`": [
                sys.executable, "-c", "import numpy, PIL.Image"
            ],
        }  # fmt: skip
        progress(f"start-up, {effort.startup_runs} runs each")
        # As an installed package runs: compiled once, whatever PYTHONDONTWRITEBYTECODE says.
        compileall.compile_dir(Path(convcli.__file__).parent, quiet=1)
        measured = compare_processes(commands, effort.startup_runs)
    bare = measured["`python -c pass`"]
    imports = measured["`python -c 'import numpy, PIL.Image'`"]
    rows = [
        [
            name,
            f"{run.seconds * 1000:.0f}",
            f"{run.peak_mib:.0f}",
            format_ratio(run.seconds, bare.seconds),
            format_ratio(run.seconds, imports.seconds),
        ]
        for name, run in measured.items()
    ]
    header = ["command", "wall ms", "peak MiB", "÷ python -c pass", "÷ import numpy, PIL"]
    notes = [
        f"Median of {effort.startup_runs} runs after a warm-up, the commands taking turns;"
        " convcli's modules byte-compiled first, as an installed package's are. The apply run"
        " filters the 303x384 sample photograph into a PNG: the fixed cost of one file in a"
        " shell loop."
    ]
    return section("Start-up", markdown_table(header, rows), notes)


def cpu_model() -> str:
    """The CPU's model name as the kernel reports it, or the machine type."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                return value.strip()
    return platform.processor() or platform.machine()


def blas_name() -> str:
    """The BLAS NumPy was built against, with its version, and the kernel (the processor
    architecture) and threads OpenBLAS runs with here, as threadpoolctl reads them."""
    blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
    name = f"{blas.get('name', 'unknown')} {blas.get('version', '')}".strip()
    from threadpoolctl import threadpool_info

    running = [
        f"{pool.get('architecture', '?')} kernel, {pool.get('num_threads')} threads"
        for pool in threadpool_info()
        if pool.get("internal_api") == "openblas"
    ]
    forced = [name for name in BLAS_OVERRIDES if name in os.environ]
    said = f"; {', '.join(forced)} set" if forced else ""
    return f"{name}, {'; '.join(running) or 'no OpenBLAS loaded'}{said}"


def machine_description(imagemagick_version: str) -> str:
    """Date, machine and library versions: what the figures were measured on."""
    cv2 = import_peer("cv2")
    scipy = import_peer("scipy")
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    now = datetime.datetime.now().astimezone()
    lines = [
        f"date: {now:%Y-%m-%d %H:%M %Z}",
        f"CPU: {cpu_model()}, {os.cpu_count()} cores ({usable} usable by this process)",
        f"Python {platform.python_version()}, NumPy {np.__version__} (BLAS: {blas_name()}),"
        f" OpenCV {cv2.__version__} ({cv2.getNumThreads()} threads),"
        f" SciPy {scipy.__version__}, Pillow {PIL.__version__}, convcli {convcli.__version__}",
        f"convcli core options: {CORE_OPTIONS or 'defaults'}",
        f"ImageMagick: {imagemagick_version}",
    ]
    return "# convcli benchmark\n\n" + "\n".join(f"- {line}" for line in lines)


def parse_sizes(text: str) -> tuple[int, ...]:
    """``512,2048`` as (512, 2048)."""
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"sizes must be integers like 512,2048: {text!r}"
        ) from None
    if any(size < 32 for size in sizes):
        raise argparse.ArgumentTypeError(f"sizes must be at least 32: {text!r}")
    return sizes


def main(argv: Sequence[str] | None = None) -> None:
    """Run the three sections and print their tables."""
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--quick", action="store_true", help="512 and 2048 only, fewer repeats")
    parser.add_argument("--sizes", type=parse_sizes, help="core image sizes, e.g. 512,2048")
    args = parser.parse_args(argv)
    effort = QUICK if args.quick else FULL
    if args.sizes:
        effort = replace(effort, sizes=args.sizes)

    try:
        imagemagick, about_imagemagick = find_imagemagick()
        sections = [
            machine_description(
                about_imagemagick if imagemagick else f"not used ({about_imagemagick})"
            ),
            benchmark_core(effort),
            benchmark_layers(effort),
            benchmark_process(effort, imagemagick, about_imagemagick),
            benchmark_large(effort),
            benchmark_cluster(effort),
            benchmark_startup(effort),
        ]
    except BenchmarkError as error:
        sys.exit(f"bench: {error}")
    print("\n\n".join(sections))


if __name__ == "__main__":
    main()
