"""Kernels from the formats other tools use, and back: text, libvips .mat, JSON, .npy, inline.

Every reader returns a :class:`~convcli.kernels.Kernel` or raises :class:`KernelError` with one
line that names the file (or the inline text) and, for text, the line and column:
``edges.txt:3:5: 'l' is not a number``. Sizes are checked against the limit
(:data:`~convcli.kernels.MAX_KERNEL_SIDE`) row by row, before anything large is built.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from convcli.errors import KernelError
from convcli.kernels import Kernel, check_kernel_size

_DECIMAL = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_NUMBER = re.compile(rf"({_DECIMAL})(?:/({_DECIMAL}))?")
_NOT_FINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)

# A kernel file is small: 1024 x 1024 values of 20 characters is about 21 MB.
_MAX_FILE_BYTES = 64 * 1024 * 1024


def parse_number(token: str, where: str) -> float:
    """A finite number written as a decimal (``-2``, ``0.5``, ``1e-3``) or a fraction (``1/9``).

    >>> parse_number("1/8", "k.txt:1:1"), parse_number("-2.5e1", "k.txt:1:1")
    (0.125, -25.0)
    >>> parse_number("nan", "k.txt:2:3")
    Traceback (most recent call last):
    ...
    convcli.errors.KernelError: k.txt:2:3: 'nan' is not finite; kernels hold finite numbers
    """
    match = _NUMBER.fullmatch(token)
    if match is None:
        if _NOT_FINITE.fullmatch(token):
            raise KernelError(f"{where}: {token!r} is not finite; kernels hold finite numbers")
        raise KernelError(f"{where}: {token!r} is not a number")
    numerator, denominator = match.groups()
    value = float(numerator)
    if denominator is not None:
        if float(denominator) == 0:
            raise KernelError(f"{where}: {token!r} divides by zero")
        value /= float(denominator)
    if not math.isfinite(value):
        raise KernelError(f"{where}: {token!r} is too large to be a finite number")
    return value


def _tokens(line: str, separators: str) -> Iterator[tuple[int, str]]:
    """(1-based column, token) for each value on `line`, split at commas and whitespace.

    Characters in `separators` also separate (libvips allows quotation marks). An empty value
    between two commas, or before a comma, is reported rather than skipped.
    """
    position = 0
    fields = line.split(",")
    for index, field in enumerate(fields):
        cleaned = field.translate({ord(c): " " for c in separators})
        found = [(match.start(), match.group()) for match in re.finditer(r"\S+", cleaned)]
        if not found and len(fields) > 1:
            yield position + 1, ""
        for offset, token in found:
            yield position + offset + 1, token
        position += len(field) + (1 if index < len(fields) - 1 else 0)


@dataclass(frozen=True)
class _Locator:
    """How a message says where a value (line, column, index in its row) or a row (line) is."""

    at_value: Callable[[int, int, int], str]
    at_row: Callable[[int], str]


def _in_file(where: str) -> _Locator:
    """Locations in a file: ``name:line:column`` for a value, ``name:line`` for a row."""
    return _Locator(
        at_value=lambda line, column, index: f"{where}:{line}:{column}",
        at_row=lambda line: f"{where}:{line}",
    )


def _rows_from_lines(
    lines: list[tuple[int, str]], locate: _Locator, *, separators: str = ""
) -> list[list[float]]:
    """Rows of numbers from (line number, text) pairs; the first row sets the width."""
    at_value, at_row = locate.at_value, locate.at_row
    rows: list[list[float]] = []
    for number, line in lines:
        values = []
        for index, (column, token) in enumerate(_tokens(line, separators), start=1):
            if token == "":
                raise KernelError(f"{at_value(number, column, index)}: empty value between commas")
            values.append(parse_number(token, at_value(number, column, index)))
        if rows and len(values) != len(rows[0]):
            raise KernelError(
                f"{at_row(number)}: row {len(rows) + 1} has {_count(len(values))},"
                f" expected {len(rows[0])}"
            )
        rows.append(values)
        check_kernel_size((len(rows), len(values)), f"{at_row(number)}: the kernel")
    return rows


def _count(values: int) -> str:
    return f"{values} value" if values == 1 else f"{values} values"


def _content_lines(text: str) -> list[tuple[int, str]]:
    """(1-based line number, text) of each line that holds more than a comment or blanks."""
    kept = []
    for number, line in enumerate(text.splitlines(), start=1):
        content = line.split("#", 1)[0]
        if content.strip():
            kept.append((number, content))
    return kept


def parse_text(text: str, where: str) -> Kernel:
    """A text matrix: one row a line, values split by whitespace and/or commas.

    ``#`` starts a comment; blank lines are ignored; fractions like ``1/9`` are numbers.

    >>> parse_text("# Sobel x\\n1, 0, -1\\n2  0 -2\\n\\n1,0,-1\\n", "s.txt").weights.tolist()
    [[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]
    >>> parse_text("1 2 3\\n4 5\\n", "k.txt")
    Traceback (most recent call last):
    ...
    convcli.errors.KernelError: k.txt:2: row 2 has 2 values, expected 3
    """
    rows = _rows_from_lines(_content_lines(text), _in_file(where))
    if not rows:
        raise KernelError(f"{where}: no values: the kernel is empty")
    return Kernel(where, np.array(rows), f"Read from {where}.")


def parse_vips_matrix(text: str, where: str) -> Kernel:
    """A libvips matrix file: ``width height [scale [offset]]``, then `height` rows.

    libvips computes sum / scale + offset; here that is the kernel's scale 1/scale and bias
    offset. Values may be split by spaces, tabs, commas or quotation marks, as in libvips.

    >>> kernel = parse_vips_matrix("3 1 4 128\\n1 2 1\\n", "k.mat")
    >>> kernel.weights.tolist(), kernel.scale, kernel.bias
    ([[1.0, 2.0, 1.0]], 0.25, 128.0)
    """
    lines = [(number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        raise KernelError(
            f"{where}: empty; a .mat file starts with 'width height [scale [offset]]'"
        )
    header_number, header = lines[0]
    fields = [token for _, token in _tokens(header, '"')]
    header_rule = f"{where}:{header_number}: the header must be 'width height [scale [offset]]'"
    if not 2 <= len(fields) <= 4 or "" in fields:
        raise KernelError(f"{header_rule}, got {header.strip()!r}")
    numbers = [parse_number(token, f"{where}:{header_number}") for token in fields]
    width, height = numbers[0], numbers[1]
    if not (width.is_integer() and height.is_integer() and width >= 1 and height >= 1):
        raise KernelError(f"{header_rule} with whole sizes >= 1, got {header.strip()!r}")
    shape = (int(height), int(width))
    check_kernel_size(shape, f"{where}: the header's kernel")
    scale = numbers[2] if len(numbers) > 2 else 1.0
    offset = numbers[3] if len(numbers) > 3 else 0.0
    if scale == 0:
        raise KernelError(f"{where}:{header_number}: scale 0 in the header; libvips divides by it")
    rows = _rows_from_lines(lines[1:], _in_file(where), separators='"')
    if rows and len(rows[0]) != shape[1]:
        raise KernelError(
            f"{where}:{lines[1][0]}: row 1 has {_count(len(rows[0]))}, the header says {shape[1]}"
        )
    if len(rows) != shape[0]:
        raise KernelError(f"{where}: {len(rows)} rows, the header says {shape[0]}")
    return Kernel(
        where,
        np.array(rows),
        f"libvips matrix from {where}: sum / {scale:g} + {offset:g}.",
        scale=1 / scale,
        bias=offset,
    )


_JSON_KEYS = ("kernel", "scale", "bias", "name")


def parse_json(text: str, where: str) -> Kernel:
    """A JSON list of rows, or ``{"kernel": [[...]], "scale": s, "bias": b, "name": "..."}``.

    Only ``kernel`` is required; ``scale`` multiplies the result, like ``--scale``.

    >>> parse_json('{"kernel": [[1, 2], [3, 4]], "scale": 0.1}', "k.json").scale
    0.1
    """

    def refuse_constant(name: str) -> Any:
        raise KernelError(f"{where}: {name} is not finite; kernels hold finite numbers")

    try:
        document = json.loads(text, parse_constant=refuse_constant)
    except json.JSONDecodeError as error:
        raise KernelError(
            f"{where}:{error.lineno}:{error.colno}: invalid JSON: {error.msg}"
        ) from None
    fields: dict[str, Any]
    if isinstance(document, list):
        fields = {"kernel": document}
    elif isinstance(document, dict):
        fields = document
        unknown = sorted(set(fields) - set(_JSON_KEYS))
        if unknown:
            raise KernelError(
                f"{where}: unknown key {unknown[0]!r}; a kernel object has"
                f" {', '.join(repr(key) for key in _JSON_KEYS)}"
            )
        if "kernel" not in fields:
            raise KernelError(f"{where}: the JSON object has no 'kernel' (a list of rows)")
    else:
        raise KernelError(f"{where}: expected a list of rows or an object with 'kernel'")
    rows = _json_rows(fields["kernel"], where)
    name = fields.get("name", where)
    if not isinstance(name, str):
        raise KernelError(f"{where}: 'name' must be a string, got {name!r}")
    scale = _json_number(fields.get("scale", 1.0), f"{where}: 'scale'")
    bias = _json_number(fields.get("bias", 0.0), f"{where}: 'bias'")
    return Kernel(name, np.array(rows), f"Read from {where}.", scale=scale, bias=bias)


def _json_number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise KernelError(f"{where} must be a number, got {json.dumps(value)}")
    return float(value)


def _json_rows(kernel: Any, where: str) -> list[list[float]]:
    if not isinstance(kernel, list) or not kernel:
        raise KernelError(f"{where}: 'kernel' must be a non-empty list of rows")
    rows: list[list[float]] = []
    for index, row in enumerate(kernel, start=1):
        if not isinstance(row, list) or not row:
            raise KernelError(f"{where}: row {index} must be a non-empty list of numbers")
        if rows and len(row) != len(rows[0]):
            raise KernelError(
                f"{where}: row {index} has {_count(len(row))}, expected {len(rows[0])}"
            )
        rows.append([_json_number(value, f"{where}: row {index}, value") for value in row])
        check_kernel_size((len(rows), len(row)), f"{where}: the kernel")
    return rows


_NPY_MAGIC = b"\x93NUMPY"
_PICKLE_OPCODE = b"\x80"  # PROTO, the first byte of every pickle since protocol 2


def load_npy(path: Path, where: str) -> Kernel:
    """A NumPy ``.npy`` array: (kh, kw), or a PyTorch conv weight (1, 1, kh, kw).

    Loaded without pickle: object arrays are refused. The header is checked (shape, dtype,
    size) before the data is read.
    """
    pickled = KernelError(
        f"{where}: holds Python objects (pickled data); convcli loads numeric arrays only"
    )
    try:
        with path.open("rb") as stream:
            magic = stream.read(len(_NPY_MAGIC))
        if magic != _NPY_MAGIC:
            if magic.startswith(_PICKLE_OPCODE):
                raise pickled
            raise KernelError(f"{where}: not a readable .npy file: no NumPy header")
        mapped = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as error:  # object dtypes can only be unpickled, which is refused
        if "pickle" in str(error) or "object" in str(error).lower():
            raise pickled from None
        raise KernelError(f"{where}: not a readable .npy file: {error}") from None
    except OSError as error:
        raise KernelError(f"{where}: not a readable .npy file: {error}") from None
    if not isinstance(mapped, np.ndarray):
        raise KernelError(f"{where}: not a single array (an .npz archive?)")
    shape = tuple(mapped.shape)
    if len(shape) == 4 and shape[:2] == (1, 1):
        shape = shape[2:]
    if len(shape) != 2:
        raise KernelError(
            f"{where}: an array of shape {tuple(mapped.shape)}; a kernel is 2-D (kh, kw)"
            " or a PyTorch weight (1, 1, kh, kw)"
        )
    if 0 in shape:
        raise KernelError(f"{where}: the array is empty, shape {tuple(mapped.shape)}")
    if mapped.dtype.kind not in "biuf":
        raise KernelError(f"{where}: dtype {mapped.dtype} is not real numbers")
    check_kernel_size((shape[0], shape[1]), f"{where}: the kernel")
    weights = np.array(mapped, dtype=np.float64).reshape(shape)
    bad = np.argwhere(~np.isfinite(weights))
    if len(bad):
        row, col = (int(i) for i in bad[0])
        raise KernelError(f"{where}: value {weights[row, col]} at [{row}, {col}] is not finite")
    return Kernel(where, weights, f"Read from {where}.")


_IMAGEMAGICK = re.compile(
    r"\s*([0-9]+)(?:x([0-9]+))?([+-][0-9]+[+-][0-9]+)?([@<>!]*)\s*:(.*)", re.S
)


def parse_inline(text: str) -> Kernel:
    """A matrix typed on the command line: rows split by ``;``, values by ``,`` or spaces.

    ImageMagick's form ``WxH: v v v ...`` is read too, width first as ImageMagick means it,
    row by row; ``N:`` is N x N.

    >>> parse_inline("1,0,-1; 2,0,-2; 1,0,-1").shape
    (3, 3)
    >>> parse_inline("3x2: 1 2 3  4 5 6").weights.tolist()
    [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    """
    where = f"inline kernel {text.strip()!r}"
    magick = _IMAGEMAGICK.fullmatch(text)
    if magick is not None:
        return _parse_imagemagick(magick, where)
    segments = text.split(";")
    lines = [(index, segment) for index, segment in enumerate(segments, start=1)]
    for index, segment in lines:
        if not segment.strip():
            raise KernelError(f"{where}: row {index} is empty")
    rows = _rows_from_lines(
        lines,
        _Locator(
            at_value=lambda row, column, index: f"{where}, row {row}, value {index}",
            at_row=lambda row: where,
        ),
    )
    return Kernel(text.strip(), np.array(rows), "Typed on the command line.")


def _parse_imagemagick(match: re.Match[str], where: str) -> Kernel:
    width_text, height_text, origin, flags, values = match.groups()
    if origin:
        raise KernelError(
            f"{where}: an origin ({origin}) is not supported: convcli places windows as"
            " PyTorch does; use --padding to shift the output"
        )
    if flags:
        raise KernelError(f"{where}: ImageMagick's {flags!r} flags are not supported")
    width = int(width_text)
    height = width if height_text is None else int(height_text)
    if width < 1 or height < 1:
        raise KernelError(f"{where}: the size must be at least 1x1")
    check_kernel_size((height, width), where)
    tokens = [token for _, token in _tokens(values, "")]
    if "" in tokens:
        raise KernelError(f"{where}: empty value between commas")
    for token in tokens:
        if token.lower() in {"nan", "-"}:
            raise KernelError(
                f"{where}: {token!r} (a value outside ImageMagick's kernel shape) is not"
                " supported; use 0"
            )
    numbers = [parse_number(token, where) for token in tokens]
    if len(numbers) != width * height:
        raise KernelError(
            f"{where}: {width}x{height} (width x height) needs {width * height} values,"
            f" got {len(numbers)}"
        )
    weights = np.array(numbers).reshape(height, width)
    return Kernel(match.string.strip(), weights, "ImageMagick kernel string.")


def read_kernel_file(path: Path) -> Kernel:
    """A kernel file, its format chosen by extension: ``.mat``, ``.json``, ``.npy``, else text.

    Raises
    ------
    KernelError
        If the file is missing, a directory, unreadable, too large, not UTF-8 text, or not a
        valid kernel in its format.
    """
    where = str(path)
    if path.is_dir():
        raise KernelError(f"kernel file {where!r} is a directory")
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise KernelError(f"kernel file {where!r} does not exist") from None
    except OSError as error:
        raise KernelError(f"kernel file {where!r}: {error.strerror or error}") from None
    if size > _MAX_FILE_BYTES:
        raise KernelError(f"kernel file {where!r} is {size} bytes, too large for a kernel")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return load_npy(path, where)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise KernelError(f"kernel file {where!r}: {error.strerror or error}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise KernelError(
            f"{where}: not UTF-8 text (byte 0x{data[error.start]:02x} at offset {error.start})"
        ) from None
    if suffix == ".mat":
        return parse_vips_matrix(text, where)
    if suffix == ".json":
        return parse_json(text, where)
    return parse_text(text, where)


def format_value(value: float) -> str:
    """A weight as text that reads back to the same float: ``1``, ``-0.5``, ``0.1111111111111111``.

    >>> format_value(2.0), format_value(1 / 9), format_value(-0.0)
    ('2', '0.1111111111111111', '0')
    """
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def to_text(kernel: Kernel) -> str:
    """The kernel as a text matrix that :func:`parse_text` reads back to the same weights.

    Raises
    ------
    KernelError
        If the kernel has a scale or bias, which a text matrix has no place for.
    """
    if kernel.scale != 1 or kernel.bias != 0:
        raise KernelError(
            f"kernel {kernel.name!r} has scale {kernel.scale:g} and bias {kernel.bias:g},"
            " which a text matrix cannot hold; use --format json"
        )
    cells = [[format_value(float(value)) for value in row] for row in kernel.weights]
    width = max(len(cell) for row in cells for cell in row)
    height, columns = kernel.shape
    rows = [" ".join(cell.rjust(width) for cell in row) for row in cells]
    return "\n".join([f"# {kernel.name}: {height}x{columns}", *rows]) + "\n"


def to_json(kernel: Kernel) -> str:
    """The kernel as a JSON object that :func:`parse_json` reads back to the same kernel."""
    rows = ",\n".join(f"    {json.dumps(row)}" for row in kernel.weights.tolist())
    return (
        "{\n"
        f'  "name": {json.dumps(kernel.name)},\n'
        f'  "kernel": [\n{rows}\n  ],\n'
        f'  "scale": {json.dumps(kernel.scale)},\n'
        f'  "bias": {json.dumps(kernel.bias)}\n'
        "}\n"
    )
