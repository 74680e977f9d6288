"""Kernels from the formats other tools use, and back: text, libvips .mat, JSON, .npy, inline.

Every reader returns a :class:`~convcli.kernels.kernel.Kernel` or raises :class:`KernelError`
with one line that names the file (or the inline text) and, for text, the line and column:
``edges.txt:3:5: 'l' is not a number``. Files are read up to a fixed size, rows are refused as
soon as they pass :data:`~convcli.kernels.kernel.MAX_KERNEL_SIDE` values, and ``.npy``
headers are checked before their data is read, so no request builds more than a full-size
kernel.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from convcli.errors import KernelError
from convcli.kernels.kernel import MAX_KERNEL_SIDE, Kernel, check_kernel_size

_DECIMAL = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_NUMBER = re.compile(rf"({_DECIMAL})(?:/({_DECIMAL}))?")
_NOT_FINITE = re.compile(r"[+-]?(?:nan|inf|infinity)", re.IGNORECASE)

# 1024 x 1024 values of 25 characters are about 26 MB: no kernel file needs more.
_MAX_FILE_BYTES = 32 * 1024 * 1024


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


def _count(values: int) -> str:
    return f"{values} value" if values == 1 else f"{values} values"


_TOKEN_OR_COMMA = re.compile(r"[^\s,]+|,")


def _tokens(line: str) -> Iterator[tuple[int, str]]:
    """(1-based column, token) for each value on `line`, split at commas and whitespace.

    A value may be wrapped in double quotes, as spreadsheets write them. Empty values at the
    end of a line (a spreadsheet's unused cells) are dropped; an empty value between two
    others is yielded as ``""`` so that the caller can name it. Tokens come one at a time, so
    a caller may stop early on a line of millions.
    """
    field_start = 0  # where the current comma-separated field begins
    field_has_value = False
    empty_field: int | None = None  # the first empty field not yet followed by a value
    for match in _TOKEN_OR_COMMA.finditer(line):
        if match.group() == ",":
            if not field_has_value and empty_field is None:
                empty_field = field_start
            field_start, field_has_value = match.end(), False
            continue
        if empty_field is not None:
            yield empty_field + 1, ""
            empty_field = None
        field_has_value = True
        token = match.group()
        if len(token) > 1 and token[0] == token[-1] == '"':
            token = token[1:-1]
        yield match.start() + 1, token


def _values(line: str, where: str, *, limit: int = MAX_KERNEL_SIDE) -> list[float]:
    """The numbers on one line of a file called `where`, refusing more than `limit` of them.

    `where` is completed with the line and column of a bad value (``k.txt:3:5``); the caller
    passes ``name:line``.
    """
    values = []
    for index, (column, token) in enumerate(_tokens(line), start=1):
        if index > limit:
            raise KernelError(
                f"{where}: more than {limit} values in a row; kernels are at most"
                f" {MAX_KERNEL_SIDE} on a side"
            )
        if token == "":
            raise KernelError(f"{where}:{column}: empty value between commas")
        values.append(parse_number(token, f"{where}:{column}"))
    return values


def _content_lines(text: str) -> list[tuple[int, str]]:
    """(1-based line number, text) of each line that holds more than a comment or blanks."""
    kept = []
    for number, line in enumerate(text.splitlines(), start=1):
        content = line.split("#", 1)[0]
        if content.strip():
            kept.append((number, content))
    return kept


def parse_text(text: str, where: str, *, name: str | None = None) -> Kernel:
    """A text matrix: one row a line, values split by whitespace and/or commas.

    ``#`` starts a comment; blank lines are ignored; fractions like ``1/9`` are numbers;
    values may be quoted, and empty cells at the ends of lines are ignored, as spreadsheets
    export them. `where` names the text in messages; `name` is the kernel's (default `where`).

    >>> parse_text("# Sobel x\\n1, 0, -1\\n2  0 -2\\n\\n1,0,-1\\n", "s.txt").weights.tolist()
    [[1.0, 0.0, -1.0], [2.0, 0.0, -2.0], [1.0, 0.0, -1.0]]
    >>> parse_text("1 2 3\\n4 5\\n", "k.txt")
    Traceback (most recent call last):
    ...
    convcli.errors.KernelError: k.txt:2: row 2 has 2 values, expected 3
    """
    rows: list[list[float]] = []
    for number, line in _content_lines(text):
        values = _values(line, f"{where}:{number}")
        if rows and len(values) != len(rows[0]):
            raise KernelError(
                f"{where}:{number}: row {len(rows) + 1} has {_count(len(values))},"
                f" expected {len(rows[0])}"
            )
        rows.append(values)
        check_kernel_size((len(rows), len(values)), f"{where}:{number}: the kernel")
    if not rows:
        raise KernelError(f"{where}: no values: the kernel is empty")
    return Kernel(name or where, np.array(rows), f"Read from {where}.")


def parse_vips_matrix(text: str, where: str, *, name: str | None = None) -> Kernel:
    """A libvips matrix file: ``width height [scale [offset]]``, then `height` rows.

    libvips computes sum / scale + offset; here that is the kernel's scale 1/scale and bias
    offset. As in libvips, values may be split by spaces, tabs, commas or quotation marks,
    and anything after the header's numbers, after a row's `width` values or after the last
    row is ignored.

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
    header_rule = f"{where}:{header_number}: the header must be 'width height [scale [offset]]'"
    numbers = _leading_numbers(header.replace('"', " "), 4, f"{where}:{header_number}")
    if len(numbers) < 2:
        raise KernelError(f"{header_rule}, got {header.strip()!r}")
    width, height = numbers[0], numbers[1]
    if not (width.is_integer() and height.is_integer() and width >= 1 and height >= 1):
        raise KernelError(f"{header_rule} with whole sizes >= 1, got {header.strip()!r}")
    shape = (int(height), int(width))
    check_kernel_size(shape, f"{where}: the header's kernel")
    scale = numbers[2] if len(numbers) > 2 else 1.0
    offset = numbers[3] if len(numbers) > 3 else 0.0
    if scale == 0:
        raise KernelError(f"{where}:{header_number}: scale 0 in the header; libvips divides by it")
    rows: list[list[float]] = []
    for number, line in lines[1 : 1 + shape[0]]:
        found = _tokens(line.replace('"', " "))
        values = [
            parse_number(token, f"{where}:{number}:{column}")
            for _, (column, token) in zip(range(shape[1]), found, strict=False)
        ]
        if len(values) < shape[1]:
            raise KernelError(
                f"{where}:{number}: row {len(rows) + 1} has {_count(len(values))},"
                f" the header says {shape[1]}"
            )
        rows.append(values)
    if len(rows) < shape[0]:
        raise KernelError(f"{where}: {len(rows)} rows, the header says {shape[0]}")
    return Kernel(
        name or where,
        np.array(rows),
        f"libvips matrix from {where}: sum / {scale:g} + {offset:g}.",
        scale=1 / scale,
        bias=offset,
    )


def _leading_numbers(line: str, most: int, where: str) -> list[float]:
    """Up to `most` numbers from the start of `line`, stopping at the first non-number."""
    numbers: list[float] = []
    for column, token in _tokens(line):
        if len(numbers) == most or not _NUMBER.fullmatch(token):
            break
        numbers.append(parse_number(token, f"{where}:{column}"))
    return numbers


_JSON_KEYS = ("kernel", "scale", "bias", "name")


def parse_json(text: str, where: str, *, name: str | None = None) -> Kernel:
    """A JSON list of rows, or ``{"kernel": [[...]], "scale": s, "bias": b, "name": "..."}``.

    Only ``kernel`` is required; ``scale`` multiplies the result, like ``--scale``.

    >>> parse_json('{"kernel": [[1, 2], [3, 4]], "scale": 0.1}', "k.json").scale
    0.1
    """
    # A full-size kernel has about a million commas: refuse more before decoding anything.
    if text.count(",") > MAX_KERNEL_SIDE * (MAX_KERNEL_SIDE + 1) + len(_JSON_KEYS):
        raise KernelError(
            f"{where}: too many values; kernels are at most {MAX_KERNEL_SIDE} on a side"
        )

    def refuse_constant(constant: str) -> Any:
        raise KernelError(f"{where}: {constant} is not finite; kernels hold finite numbers")

    try:
        document = json.loads(text, parse_constant=refuse_constant)
    except json.JSONDecodeError as error:
        raise KernelError(
            f"{where}:{error.lineno}:{error.colno}: invalid JSON: {error.msg}"
        ) from None
    except RecursionError:
        raise KernelError(f"{where}: invalid JSON: nested too deeply for a kernel") from None
    except KernelError:  # from refuse_constant: NaN or Infinity
        raise
    except ValueError as error:  # an integer of thousands of digits
        raise KernelError(f"{where}: invalid JSON: {error}") from None
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
    kernel_name = fields.get("name", name or where)
    if not isinstance(kernel_name, str):
        raise KernelError(f"{where}: 'name' must be a string, got {kernel_name!r}")
    scale = _json_number(fields.get("scale", 1.0), f"{where}: 'scale'")
    bias = _json_number(fields.get("bias", 0.0), f"{where}: 'bias'")
    return Kernel(kernel_name, np.array(rows), f"Read from {where}.", scale=scale, bias=bias)


def _json_number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise KernelError(f"{where} must be a number, got {json.dumps(value)}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise KernelError(f"{where} is too large to be a finite number")
    return number


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
        check_kernel_size((index, len(row)), f"{where}: the kernel")
        rows.append([_json_number(value, f"{where}: row {index}, value") for value in row])
    return rows


_NPY_MAGIC = b"\x93NUMPY"
_PICKLE_OPCODE = b"\x80"  # PROTO, the first byte of every pickle since protocol 2
_ZIP_MAGIC = b"PK"  # an .npz archive


def load_npy(path: Path, where: str, *, name: str | None = None) -> Kernel:
    """A NumPy ``.npy`` array: (kh, kw), or a PyTorch conv weight (1, 1, kh, kw).

    Loaded without pickle: object arrays are refused. The header is checked (shape, dtype,
    size) before the data is read.
    """
    mapped = _map_npy(path, where)
    shape = tuple(mapped.shape)
    if len(shape) == 4 and shape[:2] == (1, 1):
        shape = shape[2:]
    if len(shape) != 2:
        hint = (
            "; (kh, kw, 1, 1) is TensorFlow's order: move the axes" if shape[2:] == (1, 1) else ""
        )
        raise KernelError(
            f"{where}: an array of shape {tuple(mapped.shape)}; a kernel is 2-D (kh, kw)"
            f" or a PyTorch weight (1, 1, kh, kw){hint}"
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
    return Kernel(name or where, weights, f"Read from {where}.")


def _map_npy(path: Path, where: str) -> np.ndarray[Any, Any]:
    """The array of an ``.npy`` file, memory-mapped: its header read, its data not yet."""
    with path.open("rb") as stream:
        magic = stream.read(len(_NPY_MAGIC))
    if magic.startswith(_PICKLE_OPCODE):
        problem = "holds Python objects (pickled data); convcli loads numeric arrays only"
    elif magic.startswith(_ZIP_MAGIC):
        problem = "an .npz archive of several arrays; save the kernel alone with numpy.save"
    elif magic != _NPY_MAGIC:
        problem = "not a readable .npy file: no NumPy header"
    else:
        try:
            mapped = np.load(path, mmap_mode="r", allow_pickle=False)
        except ValueError as error:  # object dtypes can only be unpickled, which is refused
            if "pickle" in str(error) or "object" in str(error).lower():
                problem = "holds Python objects (pickled data); convcli loads numeric arrays only"
            else:
                problem = f"not a readable .npy file: {error}"
        except OSError as error:
            problem = f"not a readable .npy file: {error}"
        else:
            if isinstance(mapped, np.ndarray):
                return mapped
            problem = "not a single array"
    raise KernelError(f"{where}: {problem}")


_IMAGEMAGICK = re.compile(
    r"\s*([0-9]+)(?:x([0-9]+))?([+-][0-9]+[+-][0-9]+)?([@<>!]*)\s*:(.*)", re.S
)


def is_imagemagick_string(text: str) -> bool:
    """Whether `text` has ImageMagick's ``WxH:`` (or ``N:``) prefix.

    >>> is_imagemagick_string("3x3: 1 2 3 4 5 6 7 8 9"), is_imagemagick_string("1,2;3,4")
    (True, False)
    """
    return _IMAGEMAGICK.fullmatch(text) is not None


def parse_inline(text: str) -> Kernel:
    """A matrix typed on the command line: rows split by ``;``, values by ``,`` or spaces.

    Text of several lines reads as a text matrix, one row a line, so ``-k "$(cat k.txt)"``
    works. ImageMagick's form ``WxH: v v v ...`` is read too, width first as ImageMagick
    means it, row by row; ``N:`` is N x N.

    >>> parse_inline("1,0,-1; 2,0,-2; 1,0,-1").shape
    (3, 3)
    >>> parse_inline("3x2: 1 2 3  4 5 6").weights.tolist()
    [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    """
    spec = text.strip()
    where = f"inline kernel {spec!r}"
    magick = _IMAGEMAGICK.fullmatch(text)
    if magick is not None:
        return _parse_imagemagick(magick, spec, where)
    if "\n" in spec:
        return parse_text(spec, where, name=spec)
    rows: list[list[float]] = []
    for index, segment in enumerate(spec.split(";"), start=1):
        if not segment.strip():
            raise KernelError(f"{where}: row {index} is empty")
        values = []
        for position, (_, token) in enumerate(_tokens(segment), start=1):
            location = f"{where}, row {index}, value {position}"
            if not token:
                raise KernelError(f"{location}: empty value between commas")
            check_kernel_size((index, position), where)
            values.append(parse_number(token, location))
        if rows and len(values) != len(rows[0]):
            raise KernelError(
                f"{where}: row {index} has {_count(len(values))}, expected {len(rows[0])}"
            )
        rows.append(values)
    return Kernel(spec, np.array(rows), "Typed on the command line.")


def _parse_imagemagick(match: re.Match[str], spec: str, where: str) -> Kernel:
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
    needed = width * height
    tokens = [token for _, token in itertools.islice(_tokens(values), needed + 1)]
    for token in tokens:
        if token.lower() in {"nan", "-"}:
            raise KernelError(
                f"{where}: {token!r} (a value outside ImageMagick's kernel shape) is not"
                " supported; use 0"
            )
        if not token:
            raise KernelError(f"{where}: empty value between commas")
    if len(tokens) != needed:
        got = f"more than {needed}" if len(tokens) > needed else str(len(tokens))
        raise KernelError(
            f"{where}: {width}x{height} (width x height) needs {_count(needed)}, got {got}"
        )
    numbers = [parse_number(token, where) for token in tokens]
    weights = np.array(numbers).reshape(height, width)
    return Kernel(spec, weights, "ImageMagick kernel string.")


def read_kernel_file(path: Path, *, name: str | None = None) -> Kernel:
    """A kernel file, its format chosen by extension: ``.mat``, ``.json``, ``.npy``, else text.

    `name` is what the kernel is called (default: the path); messages use it too, so that a
    file given as ``./vertical`` is not mistaken for the built-in.

    Raises
    ------
    KernelError
        If the file is missing, a directory, unreadable, too large, not UTF-8 text, or not a
        valid kernel in its format.
    """
    where = name or str(path)
    if path.is_dir():
        raise KernelError(f"kernel file {where!r} is a directory")
    kernel = _read_kernel_file(path, where)
    return dataclasses.replace(kernel, path=path)


def _read_kernel_file(path: Path, where: str) -> Kernel:
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            return load_npy(path, where)
        data = _read_at_most(path, _MAX_FILE_BYTES)
    except FileNotFoundError:
        raise KernelError(f"kernel file {where!r} does not exist") from None
    except OSError as error:
        raise KernelError(f"kernel file {where!r}: {error.strerror or error}") from None
    if data is None:
        raise KernelError(f"kernel file {where!r} is over {_MAX_FILE_BYTES} bytes, too large")
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


def _read_at_most(path: Path, limit: int) -> bytes | None:
    """The bytes of `path`, or None if there are more than `limit` (``/dev/zero`` has no end)."""
    chunks = []
    size = 0
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
    return b"".join(chunks)


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
    title = " ".join(kernel.name.split())  # one line, whatever the name holds
    rows = [" ".join(cell.rjust(width) for cell in row) for row in cells]
    return "\n".join([f"# {title}: {height}x{columns}", *rows]) + "\n"


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
